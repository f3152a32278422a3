import Foundation
import PGFollowTestSupport
import Testing

/// Under a real systemd, with the example unit (watchdog shortened to 3 s): slow work runs
/// beside the loop, so the watchdog never fires, the application is restarted once per change
/// of leader, and pgfollow's journal stays clean.
@Suite(.serialized, Needs.systemd) struct SlowWorkTests {
  /// The application takes 6 s (twice WatchdogSec) to start, at start-up and at the failover.
  @Test func aSlowApplicationIsRestartedOnceAndTheWatchdogNeverFires() throws {
    let fixture = try Fixture()
    let container = try Container(fixture: fixture)
    defer { container.powerOff() }
    try container.install(fixture: fixture, appStartSeconds: 6)
    try container.startApplicationAndSidecar()
    #expect(waitUntil(30) { container.appStarts().count == 2 }, "the start-up reconcile")

    try fixture.failOver()
    #expect(
      waitUntil(40) { container.appStarts().count == 3 }, "\((try? container.journal()) ?? "")")
    usleep(1_500_000)
    #expect(container.appStarts().count == 3, "restarted more than once")
    #expect(try container.property("pgfollow", "NRestarts") == "0")
    #expect(try container.property("pgfollow", "StatusText") == "following node2")
    #expect(try !container.journal().contains("Watchdog timeout"))
    let warnings = try container.pgfollowWarnings()
    #expect(warnings.isEmpty, "\(warnings)")
    #expect(try container.journal().contains("restarting app.service (in the background"))
    let timeline = try container.exec(
      "journalctl", "--no-pager", "-o", "short-precise", "-u", "pgfollow", "-u", "app")
    print("slow-restart failover, pgfollow's and the application's journal:\n\(timeline)")
  }

  /// SIGTERM while the application is restarting: the stop waits for that restart, the state
  /// says it is done, and the next start does not restart the application again.
  @Test func aStopDuringASlowRestartFinishesItAndTheNextStartDoesNotRepeatIt() throws {
    let fixture = try Fixture()
    let container = try Container(fixture: fixture)
    defer { container.powerOff() }
    try container.install(fixture: fixture, appStartSeconds: 6)
    try container.startApplicationAndSidecar()
    #expect(waitUntil(30) { container.appStarts().count == 2 })
    try fixture.failOver()
    #expect(
      try waitUntil(20) {
        try container.property("app", "ActiveState") == "activating"
      })
    try container.systemctl("stop", "pgfollow.service")
    #expect(container.appStarts().count == 3, "the stop did not wait for the restart")
    #expect(try container.property("pgfollow", "Result") == "success")
    let state = try String(contentsOfFile: fixture.directory + "/state/state.json", encoding: .utf8)
    #expect(state.contains("\"pendingRestart\": []"), "\(state)")
    #expect(try container.journal().contains("stopping once this has finished: restarting app"))
    try container.systemctl("start", "pgfollow.service")
    usleep(1_500_000)
    #expect(container.appStarts().count == 3, "the next start restarted the application again")
    let warnings = try container.pgfollowWarnings()
    #expect(warnings.isEmpty, "\(warnings)")
  }

  /// An after-restart hook takes 6 s: it runs once per change of leader, while the loop goes on.
  @Test func aSlowHookRunsOnceWhileTheLoopGoesOn() throws {
    let fixture = try Fixture()
    try fixture.editConfig(
      "state_directory:",
      """
      hooks:
        - command: [/bin/sh, -c, 'sleep 6; echo "$PGFOLLOW_LEADER" >> /opt/t/hook-runs']
      state_directory:
      """)
    let container = try Container(fixture: fixture)
    defer { container.powerOff() }
    try container.install(fixture: fixture)
    try container.startApplicationAndSidecar()
    func hookRuns() -> [String] {
      ((try? String(contentsOfFile: fixture.directory + "/hook-runs", encoding: .utf8)) ?? "")
        .split(separator: "\n").map(String.init)
    }
    #expect(waitUntil(30) { hookRuns() == ["node1"] })
    try fixture.failOver()
    #expect(
      waitUntil(40) { hookRuns() == ["node1", "node2"] }, "\((try? container.journal()) ?? "")")
    usleep(1_500_000)
    #expect(hookRuns() == ["node1", "node2"])
    #expect(container.appStarts().count == 3)
    #expect(try container.property("pgfollow", "NRestarts") == "0")
    let warnings = try container.pgfollowWarnings()
    #expect(warnings.isEmpty, "\(warnings)")
  }

  /// The app's check hangs (it sleeps 30 s, ten times WatchdogSec): each is ended at its timeout
  /// and refused, and the sidecar is never killed. A reload raises the timeout to 4 s, more than
  /// WatchdogSec itself (a start would refuse that, a reload only logs it): the check runs in
  /// the background under the runner, and the loop goes on pinging systemd's watchdog.
  /// A timeout above half WatchdogSec is refused at the start, with what to set.
  @Test func aHungCheckNeverStopsTheWatchdog() throws {
    let fixture = try Fixture()
    try fixture.useCheck(script: "sleep 30", timeout: "1.5s")
    let container = try Container(fixture: fixture)
    defer { container.powerOff() }
    try container.install(fixture: fixture)
    try container.startApplicationAndSidecar()
    func refusals() throws -> Int {
      try container.journal().components(separatedBy: "the check refused").count - 1
    }
    let journal = { (try? container.journal()) ?? "" }
    #expect(try waitUntil(20) { try refusals() >= 2 }, "\(journal())")

    try fixture.editConfig("timeout: 1.5s}", "timeout: 4s}")
    try container.systemctl("reload", "pgfollow.service")
    #expect(
      try waitUntil(20) {
        try container.journal().contains("check.timeout 4s is more than half the unit's")
      })
    let before = try refusals()
    #expect(try waitUntil(20) { try refusals() >= before + 2 }, "\(journal())")
    #expect(try container.property("pgfollow", "NRestarts") == "0")
    #expect(try container.property("pgfollow", "ActiveState") == "active")
    #expect(try !container.journal().contains("Watchdog timeout"))

    try fixture.editConfig("timeout: 4s}", "timeout: 2s}")
    #expect(throws: (any Error).self) { try container.systemctl("restart", "pgfollow.service") }
    #expect(
      journal().contains("check.timeout 2s is more than half the unit's WatchdogSec=3s"),
      "\(journal())")
  }

  /// run.interval (8 s) longer than WatchdogSec (3 s): the loop pings between cycles, and a
  /// failover is still followed.
  @Test func anIntervalLongerThanTheWatchdogIsFine() throws {
    let fixture = try Fixture()
    try fixture.editConfig("state_directory:", "run: {interval: 8s}\nstate_directory:")
    let container = try Container(fixture: fixture)
    defer { container.powerOff() }
    try container.install(fixture: fixture)
    try container.startApplicationAndSidecar()
    // Past WatchdogSec without a cycle: the pings between cycles keep it alive (their pace at
    // any interval is SidecarMachineTests' to show).
    usleep(4_000_000)
    #expect(try container.property("pgfollow", "NRestarts") == "0")
    try fixture.failOver()
    #expect(
      try waitUntil(30) { try container.property("pgfollow", "StatusText") == "following node2" })
    #expect(waitUntil(20) { container.appStarts().count == 3 })
    #expect(try container.property("pgfollow", "NRestarts") == "0")
    let warnings = try container.pgfollowWarnings()
    #expect(warnings.isEmpty, "\(warnings)")
  }
}

/// The example unit as shipped, user pgfollow included: a start, cycles and a stop log nothing
/// at warning or worse, and nothing from the runtime about thread priorities.
@Suite(.serialized, Needs.systemd) struct CleanJournalTests {
  @Test func theShippedUnitLogsNoWarningAsAnUnprivilegedUser() throws {
    let fixture = try Fixture()
    let container = try UnprivilegedTests.prepare(fixture)
    defer { container.powerOff() }
    try container.systemctl("start", "pgfollow.service")
    #expect(
      try waitUntil(20) { try container.property("pgfollow", "StatusText") == "following node1" })
    usleep(3_000_000)
    #expect(try container.property("pgfollow", "LimitNICE") == "24")
    let pid = try container.property("pgfollow", "MainPID")
    let limits = try container.exec("grep", "Max nice priority", "/proc/\(pid)/limits")
    try container.systemctl("stop", "pgfollow.service")
    let journal = try container.journal()
    if limits.contains(" 24 ") {
      #expect(!journal.contains("thread priority"), "\(journal)")
    } else {
      // A root without CAP_SYS_RESOURCE (as in some sandboxes) cannot raise RLIMIT_NICE, so
      // systemd's LimitNICE is accepted but not in force: the runtime's line remains.
      print("note: LimitNICE=-4 is not in force in this container (\(limits)); not checked")
    }
    #expect(!journal.contains(": valid"), "check-config spoke at start: \(journal)")
    let warnings = try container.pgfollowWarnings()
    #expect(warnings.isEmpty, "\(warnings)")

    // The same unit without its one allowance shows why it is there.
    try container.install(
      fixture: fixture,
      overrides: [
        "User": "pgfollow", "Group": "pgfollow", "SupplementaryGroups": "shop", "LimitNICE": "",
      ])
    try container.systemctl("start", "pgfollow.service")
    #expect(
      try waitUntil(20) { try container.property("pgfollow", "StatusText") == "following node1" })
    try container.systemctl("stop", "pgfollow.service")
    #expect(try container.journal().contains("Failed to set thread priority"))
  }
}

/// The unit as shipped (User=pgfollow) with the real polkitd and the polkit rule as shipped: the
/// documented layout switches and restarts; a layout that cannot work is refused at start.
@Suite(.serialized, Needs.systemd) struct UnprivilegedTests {
  /// The README's layout: the application's directory root:pgfollow 0775, its file
  /// pgfollow:shop 0640, and SupplementaryGroups=shop in the unit.
  static func prepare(
    _ fixture: Fixture, supplementaryGroups: String = "shop", ruleUnits: String = "app.service"
  ) throws -> Container {
    #expect(try fixture.pgfollow("once").status == 2, "the file is in sync before the start")
    try FileManager.default.createDirectory(
      atPath: fixture.directory + "/shop", withIntermediateDirectories: false)
    try FileManager.default.moveItem(
      atPath: fixture.appFile, toPath: fixture.directory + "/shop/app.yaml")
    try fixture.editConfig("file: app.yaml", "file: shop/app.yaml")
    let container = try Container(fixture: fixture)
    try container.install(
      fixture: fixture,
      overrides: [
        "User": "pgfollow", "Group": "pgfollow", "SupplementaryGroups": supplementaryGroups,
      ])
    for command in [
      ["useradd", "--system", "--user-group", "--no-create-home", "pgfollow"],
      ["groupadd", "--system", "shop"], ["chmod", "0755", "/opt/t"],
      ["chown", "-R", "pgfollow:pgfollow", "/opt/t/state"],
      ["chown", "root:pgfollow", "/opt/t/shop"],
      ["chmod", "0775", "/opt/t/shop"], ["chown", "pgfollow:shop", "/opt/t/shop/app.yaml"],
      ["chmod", "0640", "/opt/t/shop/app.yaml"], ["mkdir", "-p", "/etc/polkit-1/rules.d"],
    ] {
      try container.exec(command)
    }
    let rule = try String(
      contentsOfFile: Fixture.packageRoot.path + "/examples/50-pgfollow.rules", encoding: .utf8
    ).replacing("[\"shop.service\", \"shop-worker.service\"]", with: "[\"\(ruleUnits)\"]")
    try rule.write(toFile: fixture.directory + "/rule.js", atomically: false, encoding: .utf8)
    try container.exec(["cp", "/opt/t/rule.js", "/etc/polkit-1/rules.d/50-pgfollow.rules"])
    return container
  }

  @Test func theDocumentedLayoutSwitchesAndRestartsThroughPolkit() throws {
    let fixture = try Fixture()
    let container = try Self.prepare(fixture)
    defer { container.powerOff() }
    try container.startApplicationAndSidecar()
    #expect(
      try waitUntil(20) { try container.property("pgfollow", "StatusText") == "following node1" })
    // The README's monitoring check, run as the service's user outside the unit: the unit's
    // SupplementaryGroups=shop counts, so the layout is not taken for one that cannot work.
    let status = try container.execResult([
      "setpriv", "--reuid=pgfollow", "--regid=pgfollow", "--init-groups", "/opt/t/pgfollow",
      "status", "-c", "/opt/t/pgfollow.yaml",
    ])
    #expect(status.status == 0, "\(status.output)")
    #expect(!status.output.contains("not a member of"), "\(status.output)")
    try fixture.failOver()
    #expect(
      waitUntil(30) { container.appStarts().count == 2 }, "\((try? container.journal()) ?? "")")
    let file = try container.exec(["stat", "-c", "%U:%G %a", "/opt/t/shop/app.yaml"])
    #expect(file.trimmingCharacters(in: .whitespacesAndNewlines) == "pgfollow:shop 640")
    #expect(
      try String(contentsOfFile: fixture.directory + "/shop/app.yaml", encoding: .utf8)
        .contains("address: node2:5432"))
    let warnings = try container.pgfollowWarnings()
    #expect(warnings.isEmpty, "\(warnings)")
  }

  /// The password kept out of the configuration: systemd's LoadCredential= hands the service a
  /// .pgpass, and PGPASSFILE=%d/pgpass points libpq at it; the nodes ask for SCRAM.
  @Test func aPasswordFromLoadCredentialLogsInWithScram() throws {
    let fixture = try Fixture()
    let container = try Self.prepare(fixture)
    defer { container.powerOff() }
    try fixture.clusterCommand(
      "sql", "node1",
      "create role watcher login password 'cred-secret'; grant select on "
        + "failover_log to watcher")
    for node in ["node1", "node2"] {
      let hba = fixture.cluster + "/\(node)/pg_hba.conf"
      let rules = try String(contentsOfFile: hba, encoding: .utf8)
      try ("host all watcher 127.0.0.1/32 scram-sha-256\n" + rules).write(
        toFile: hba, atomically: false, encoding: .utf8)
      try fixture.clusterCommand("sql", node, "select pg_reload_conf()")
    }
    try fixture.editConfig("user=pgfollow password=topsecret", "user=watcher")
    try "127.0.0.1:*:pg_state:watcher:cred-secret\n".write(
      toFile: fixture.directory + "/pgpass", atomically: false, encoding: .utf8)
    chmod(fixture.directory + "/pgpass", 0o600)
    let dropIn =
      "[Service]\nLoadCredential=pgpass:/opt/t/pgpass\nEnvironment=PGPASSFILE=%d/pgpass\n"
    try dropIn.write(
      toFile: fixture.directory + "/credentials.conf", atomically: false, encoding: .utf8)
    try container.exec(["mkdir", "-p", "/run/systemd/system/pgfollow.service.d"])
    try container.exec(
      ["cp", "/opt/t/credentials.conf", "/run/systemd/system/pgfollow.service.d/"])
    try container.systemctl("daemon-reload")
    try container.startApplicationAndSidecar()
    #expect(
      try waitUntil(20) { try container.property("pgfollow", "StatusText") == "following node1" },
      "\((try? container.journal()) ?? "")")
    try fixture.failOver()
    #expect(
      waitUntil(30) { container.appStarts().count == 2 }, "\((try? container.journal()) ?? "")")
    let journal = try container.journal()
    #expect(!journal.contains("password") && !journal.contains("cred-secret"), "\(journal)")
  }

  /// Without SupplementaryGroups=shop the new file could not keep its group: said at start, and
  /// the unit does not start.
  @Test func aGroupPgfollowMayNotSetIsReportedAtStart() throws {
    let fixture = try Fixture()
    let container = try Self.prepare(fixture, supplementaryGroups: "")
    defer { container.powerOff() }
    try container.systemctl("start", "app.service")
    #expect(throws: (any Error).self) { try container.systemctl("start", "pgfollow.service") }
    let journal = try container.journal()
    #expect(
      journal.contains("has the group shop, which pgfollow is not a member of")
        && journal.contains("add SupplementaryGroups=shop to the unit"), "\(journal)")
    #expect(try container.property("pgfollow", "ActiveState") != "active")
  }

  /// A unit the polkit rule does not cover: said at start, and the unit does not start.
  @Test func aUnitTheRuleDoesNotCoverIsReportedAtStart() throws {
    let fixture = try Fixture()
    let container = try Self.prepare(fixture, ruleUnits: "other.service")
    defer { container.powerOff() }
    try container.systemctl("start", "app.service")
    #expect(throws: (any Error).self) { try container.systemctl("start", "pgfollow.service") }
    let journal = try container.journal()
    #expect(
      journal.contains("pgfollow may not restart app.service: polkit says no"), "\(journal)")
  }
}
