import Foundation
import PGFollowTestSupport
import Testing

/// `pgfollow run` against a real cluster, with a NOTIFY_SOCKET stand-in.
@Suite(.serialized, Needs.cluster) struct SidecarTests {
  @Test func followsAFailoverOverPersistentConnections() throws {
    let fixture = try Fixture()
    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(notify.waitFor("READY=1"), "\(sidecar.log)")
    #expect(
      notify.messages.first { $0.contains("READY=1") }?.contains("STATUS=following node1") == true)
    #expect(waitUntil(10) { fixture.restarts().count == 1 }, "\(sidecar.log)")

    // Steady state: one connection per node, opened once, kept.
    let before = try fixture.pgfollowBackends("node2")
    #expect(before.count == 1, "\(before)")
    usleep(2_000_000)
    #expect(try fixture.pgfollowBackends("node2") == before)

    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote", "node2")
    #expect(
      try waitUntil(20) { try fixture.appValues().contains("address: node2:5432   # the primary") },
      "\(sidecar.log)")
    #expect(notify.waitFor("STATUS=following node2"), "\(sidecar.log)")
    #expect(try waitUntil(20) { fixture.restarts().count == 2 }, "\(sidecar.log)")
    #expect(try fixture.pgfollowBackends("node2") == before)
    #expect(sidecar.log.contains("new leader node2 seen 1 of 2 times"))

    #expect(sidecar.stop() == 0)
    #expect(notify.waitFor("STOPPING=1"))
    #expect(fixture.restarts().count == 2)
    #expect(!sidecar.log.contains("topsecret"))
  }

  @Test func aNodeThatStopsAnsweringMidSessionDoesNotStallCycles() throws {
    let fixture = try Fixture()
    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(notify.waitFor("READY=1"), "\(sidecar.log)")
    let stopped = try fixture.nodeProcesses("node2")
    for pid in stopped { kill(pid, SIGSTOP) }
    defer { for pid in stopped { kill(pid, SIGCONT) } }
    notify.receive(waiting: 200)
    let start = notify.messages.count
    usleep(3_000_000)
    notify.receive()
    let watchdogs = notify.messages[start...].filter { $0.contains("WATCHDOG=1") }.count
    #expect(watchdogs >= 2, "cycles stalled: \(watchdogs) in 3 s\n\(sidecar.log)")
    // A frozen server: its host acknowledges the probe, the server never answers.
    #expect(
      sidecar.log.contains("node node2 does not answer in time: connected; its probe reached"),
      "\(sidecar.log)")
    for pid in stopped { kill(pid, SIGCONT) }
    #expect(
      waitUntil(20) { sidecar.log.contains("node node2 reachable again") }, "\(sidecar.log)")
    #expect(sidecar.stop() == 0)
  }

  /// A watcher waiting for a frozen node's late answer (up to a minute) sees a reload that
  /// replaces it: its connection is closed at once, not when the wait ends.
  @Test func aReloadClosesALateWatchersConnectionAtOnce() throws {
    let fixture = try Fixture()
    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(notify.waitFor("READY=1"), "\(sidecar.log)")
    let port = try fixture.port("node2")
    let pid = sidecar.process.processIdentifier
    let connections = {
      try run(
        "/usr/bin/ss", ["-Htnp", "state", "established", "( dport = :\(port) )"], timeout: 10
      )
      .output.split(separator: "\n").filter { $0.contains("pid=\(pid),") }.count
    }
    let stopped = try fixture.nodeProcesses("node2")
    for pid in stopped { kill(pid, SIGSTOP) }
    defer { for pid in stopped { kill(pid, SIGCONT) } }
    #expect(
      waitUntil(10) { sidecar.log.contains("node node2 does not answer in time") }, "\(sidecar.log)"
    )
    #expect(try connections() == 1)
    try fixture.editConfig("port=\(port) ", "port=\(try freePort()) ")
    let reloaded = Date()
    sidecar.signal(SIGHUP)
    // Within a second or so (the wait it replaces lasts up to a minute).
    #expect(try waitUntil(2) { try connections() == 0 }, "\(sidecar.log)")
    print(
      "the late watcher's connection closed \(Date().timeIntervalSince(reloaded)) s after the reload"
    )
    #expect(sidecar.log.contains("reloaded"), "\(sidecar.log)")
    #expect(sidecar.stop() == 0)
  }

  /// The app's check takes 3 s: it runs in the background while the loop goes on deciding and
  /// pinging, and the file is switched by the cycle after it said yes, restarted once.
  @Test func aSlowCheckRunsInTheBackgroundWhileTheLoopGoesOn() throws {
    let fixture = try Fixture()
    try fixture.useCheck(script: "sleep 3", timeout: "10s")
    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(waitUntil(10) { sidecar.log.contains("checking the new") }, "\(sidecar.log)")
    notify.receive()
    let before = notify.messages.count
    #expect(waitUntil(15) { fixture.restarts().count == 1 }, "\(sidecar.log)")
    notify.receive()
    let pings = notify.messages[before...].filter { $0.contains("WATCHDOG=1") }.count
    #expect(pings >= 2, "the loop waited for the check: \(pings) pings\n\(sidecar.log)")
    #expect(try fixture.appValues().contains("{address: node2:5432, pool: 5}"))
    #expect(sidecar.log.components(separatedBy: "checking the new").count == 2, "\(sidecar.log)")
    #expect(sidecar.stop() == 0)
  }

  @Test func reloadKeepsTheOldConfigWhenTheNewOneIsInvalid() throws {
    let fixture = try Fixture()
    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(notify.waitFor("READY=1"), "\(sidecar.log)")
    try fixture.editConfig("state_directory:", "bogus_key: 1\nstate_directory:")
    sidecar.signal(SIGHUP)
    #expect(waitUntil(10) { sidecar.log.contains("reload refused") }, "\(sidecar.log)")
    #expect(sidecar.log.contains("unknown key \"bogus_key\""))
    try fixture.editConfig("bogus_key: 1\n", "")
    sidecar.signal(SIGHUP)
    #expect(waitUntil(10) { sidecar.log.contains("reloaded") }, "\(sidecar.log)")
    #expect(sidecar.process.isRunning)
    #expect(sidecar.stop() == 0)
  }

  @Test func runAndOnceShareTheLock() throws {
    let fixture = try Fixture()
    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(notify.waitFor("READY=1"), "\(sidecar.log)")
    // The sidecar holds the lock for good: `once` says so at once, not after lock_wait.
    try fixture.editConfig("connect: 1s", "lock_wait: 60s\n  connect: 1s")
    let started = Date()
    let once = try fixture.pgfollow("once")
    #expect(once.status == 8, "\(once.output)")
    #expect(
      once.output.contains(
        "the sidecar (pgfollow run, pid \(sidecar.process.processIdentifier)) "
          + "holds"), "\(once.output)")
    #expect(once.output.contains("see `pgfollow status`"))
    #expect(Date().timeIntervalSince(started) < 30, "once waited for the sidecar's lock")
    #expect(sidecar.stop() == 0)
  }

  @Test func startReconcilesAndCarriesOutARestartOwedByAnEarlierRun() throws {
    let fixture = try Fixture()
    #expect(try fixture.pgfollow("once").status == 2)
    #expect(fixture.restarts().count == 1)
    let statePath = fixture.directory + "/state/state.json"
    let state = try String(contentsOfFile: statePath, encoding: .utf8)
      .replacing("\"pendingRestart\": []", with: "\"pendingRestart\": [\"app.service\"]")
    try state.write(toFile: statePath, atomically: false, encoding: .utf8)
    let fileBefore = try fixture.appValues()

    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(notify.waitFor("READY=1"), "\(sidecar.log)")
    #expect(waitUntil(10) { fixture.restarts().count == 2 }, "\(sidecar.log)")
    usleep(1_000_000)
    #expect(fixture.restarts().count == 2)
    #expect(try fixture.appValues() == fileBefore)
    #expect(sidecar.stop() == 0)
    #expect(
      try String(contentsOfFile: statePath, encoding: .utf8).contains("\"pendingRestart\": []"))
  }

  @Test func dryRunLogsWhatItWouldChangeAndChangesNothing() throws {
    let fixture = try Fixture()
    let sidecar = try Sidecar(fixture: fixture, arguments: ["--dry-run"])
    #expect(
      waitUntil(20) { sidecar.log.contains("dry run, would change: db_slave[0].address") },
      "\(sidecar.log)")
    #expect(sidecar.log.contains("restart app.service"))
    #expect(sidecar.stop() == 0)
    #expect(try fixture.appValues() == Fixture.appText)
    #expect(fixture.restarts().isEmpty)
  }
}

/// Slow work beside the sidecar's loop.
@Suite(.serialized, Needs.cluster) struct SidecarSlowWorkTests {
  /// A systemctl that hangs is killed at restart.timeout and tried again; the loop keeps
  /// cycling and pinging meanwhile.
  @Test func aHungSystemctlIsKilledAtItsTimeoutWhileTheLoopGoesOn() throws {
    let fixture = try Fixture()
    try fixture.setSystemctl(exitCode: 0, sleepSeconds: 60)
    try fixture.editConfig("timeout: 10s", "timeout: 2s")
    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(notify.waitFor("READY=1"), "\(sidecar.log)")
    let start = notify.messages.count
    // A loop that ran the 2 s hangs itself would ping about every 2 s: at most twice in 4 s.
    usleep(4_000_000)
    notify.receive()
    let watchdogs = notify.messages[start...].filter { $0.contains("WATCHDOG=1") }.count
    #expect(watchdogs >= 3, "the loop stalled behind the restart: \(watchdogs) pings in 4 s")
    #expect(
      sidecar.log.contains("restart of app.service failed: timed out and was killed"),
      "\(sidecar.log)")
    #expect(fixture.restarts().count >= 2, "not tried again")
    #expect(sidecar.stop() == 0)
  }

  /// The hooks are reordered and SIGHUP arrives while the first one runs: each runs once, and
  /// nothing runs that is no longer configured.
  @Test func aReloadDuringASlowHookRunsEachHookOnce() throws {
    let fixture = try Fixture()
    let runs = fixture.directory + "/hook-runs"
    let slow = "[/bin/sh, -c, 'sleep 3; echo slow >> \(runs)']"
    let quick = "[/bin/sh, -c, 'echo quick >> \(runs)']"
    try fixture.editConfig(
      "state_directory:", "hooks:\n  - command: \(slow)\n  - command: \(quick)\nstate_directory:")
    let sidecar = try Sidecar(fixture: fixture)
    func lines() -> [String] {
      ((try? String(contentsOfFile: runs, encoding: .utf8)) ?? "").split(separator: "\n").map(
        String.init)
    }
    #expect(waitUntil(10) { sidecar.log.contains("running hook /bin/sh -c sleep 3") })
    try fixture.editConfig(
      "hooks:\n  - command: \(slow)\n  - command: \(quick)",
      "hooks:\n  - command: \(quick)\n  - command: \(slow)")
    sidecar.signal(SIGHUP)
    #expect(waitUntil(10) { sidecar.log.contains("reloaded") })
    #expect(waitUntil(10) { lines() == ["slow", "quick"] }, "\(sidecar.log)")
    usleep(1_500_000)
    #expect(lines() == ["slow", "quick"], "a hook ran twice: \(sidecar.log)")
    #expect(sidecar.stop() == 0)
    let state = try String(
      contentsOfFile: fixture.directory + "/state/state.json", encoding: .utf8)
    #expect(!state.contains("\"hooks\""), "\(state)")
  }
}
