import Foundation
import PGFollowTestSupport
import Testing

/// `apps:` against a real three-node cluster (one primary, two streaming standbys): a web
/// application with two read replicas and a worker, each with its own file and unit, kept by
/// one pgfollow through a standby loss, a failover, and a broken file.
@Suite(.serialized, Needs.cluster) struct AppsTests {
  static let webText = """
    # web: writes to the primary, reads from both replicas
    db_master:
      - address: none   # writes
    db_slave:
      - address: none   # reads
      - address: none   # reads

    """

  static let workerText = """
    # worker
    database:
      host: none
      port: 5432

    """

  static let apps = """
    apps:
      - name: web
        file: web.yaml
        set:
          db_master[0].address: "{leader.address}"
          db_slave[0].address: "{standby[0].address}"
          db_slave[1].address: "{standby[1].address}"
        restart: {units: web.service, systemctl: ./systemctl, timeout: 10s}
      - name: worker
        file: worker.yaml
        set:
          database.host: "{leader.host}"
        restart: {units: worker.service, systemctl: ./systemctl, timeout: 10s}
    run: {standby_settle: 0s}

    """

  static func makeFixture() throws -> Fixture {
    let fixture = try Fixture(nodes: 3)
    try webText.write(toFile: fixture.directory + "/web.yaml", atomically: false, encoding: .utf8)
    try workerText.write(
      toFile: fixture.directory + "/worker.yaml", atomically: false, encoding: .utf8)
    try fixture.useApps(apps)
    return fixture
  }

  static func web(_ fixture: Fixture) throws -> (master: String, slaves: [String]) {
    let lines = try String(contentsOfFile: fixture.directory + "/web.yaml", encoding: .utf8)
      .split(separator: "\n")
    let value = { (line: Substring) in String(line.split(separator: " ")[2]) }
    let master = lines.first { $0.contains("# writes") }.map(value) ?? ""
    return (master, lines.filter { $0.contains("# reads") }.map(value))
  }

  static func workerHost(_ fixture: Fixture) throws -> String {
    let text = try String(contentsOfFile: fixture.directory + "/worker.yaml", encoding: .utf8)
    return text.split(separator: "\n").first { $0.contains("host:") }?
      .split(separator: " ").last.map(String.init) ?? ""
  }

  static func restartCount(_ fixture: Fixture, _ unit: String) -> Int {
    fixture.restarts().filter { $0.hasSuffix(" \(unit)") }.count
  }

  @Test func twoAppsFollowAStandbyLossAndAFailover() throws {
    let fixture = try Self.makeFixture()
    let first = try fixture.pgfollow("once")
    #expect(first.status == 2, "\(first.output)")
    #expect(try Self.web(fixture).master == "node1:5432")
    #expect(try Self.web(fixture).slaves == ["node2:5432", "node3:5432"])
    #expect(try Self.workerHost(fixture) == "node1")
    #expect(Self.restartCount(fixture, "web.service") == 1)
    #expect(Self.restartCount(fixture, "worker.service") == 1)
    for name in ["web", "worker"] {
      #expect(
        FileManager.default.fileExists(atPath: "\(fixture.directory)/state/state.\(name).json"))
    }
    #expect(try fixture.pgfollow("once").status == 0, "in sync: nothing to do")

    // A standby lost: only web reads from standbys, so only web changes and restarts.
    try fixture.clusterCommand("kill", "node3")
    let lost = try fixture.pgfollow("once")
    #expect(lost.status == 2, "\(lost.output)")
    #expect(try Self.web(fixture).slaves == ["node2:5432", "node2:5432"])
    #expect(Self.restartCount(fixture, "web.service") == 2)
    #expect(Self.restartCount(fixture, "worker.service") == 1, "the worker's file did not change")

    try fixture.clusterCommand("restart", "node3")
    #expect(
      try waitUntil(30) {
        _ = try fixture.pgfollow("once")
        return try Self.web(fixture).slaves == ["node2:5432", "node3:5432"]
      }, "node3 back as a standby")

    // The failover: node2 promoted, node3 still follows the dead node1, so is no healthy standby.
    try fixture.failOver()
    let dryRun = try fixture.pgfollow("once", "--dry-run")
    #expect(dryRun.status == 2, "\(dryRun.output)")
    #expect(
      dryRun.output.contains("app web:\nfile:     \(fixture.directory)/web.yaml would change:"))
    #expect(
      dryRun.output.contains("would run: \(fixture.directory)/systemctl restart worker.service"))
    // web was restarted a moment ago (node3 back), so its restart waits out the spacing.
    #expect(
      dryRun.output.contains("would run: \(fixture.directory)/systemctl restart web.service")
        || dryRun.output.contains("restart held back: "), "\(dryRun.output)")
    #expect(
      dryRun.output.contains(
        "app worker:\nfile:     \(fixture.directory)/worker.yaml would change:"))
    let switched = try fixture.pgfollow("once")
    #expect(switched.status == 2, "\(switched.output)")
    #expect(try Self.web(fixture).master == "node2:5432")
    #expect(try Self.web(fixture).slaves == ["node2:5432", "node2:5432"])
    #expect(try Self.workerHost(fixture) == "node2")
    #expect(Self.restartCount(fixture, "worker.service") == 2)

    let status = try fixture.pgfollow("status", "--json")
    let json = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
    let apps = json?["apps"] as? [[String: Any]] ?? []
    #expect(apps.map { $0["name"] as? String } == ["web", "worker"], "\(status.output)")
    #expect(apps.map { $0["applied"] as? String } == ["node2", "node2"])
    #expect(json?["file"] == nil, "the short form's top-level fields are not given for apps")
    let text = try fixture.pgfollow("status")
    #expect(text.output.contains("app worker:\nfile:     \(fixture.directory)/worker.yaml"))
  }

  /// One app's file broken: the other still switches and restarts; the exit code is the worst,
  /// and the error names the app. Once mended, the broken one catches up.
  @Test func aBrokenFileStopsOnlyItsOwnApp() throws {
    let fixture = try Self.makeFixture()
    #expect(try fixture.pgfollow("once").status == 2)
    let webFile = fixture.directory + "/web.yaml"
    try "db_master: [unclosed\n".write(toFile: webFile, atomically: false, encoding: .utf8)
    try fixture.failOver()
    let result = try fixture.pgfollow("once")
    #expect(result.status == 6, "\(result.output)")
    #expect(result.output.contains("error: app web: "), "\(result.output)")
    #expect(result.output.contains("apps[web].file: \(webFile):2:1: did not find expected"))
    #expect(try Self.workerHost(fixture) == "node2")
    #expect(Self.restartCount(fixture, "worker.service") == 2)
    #expect(Self.restartCount(fixture, "web.service") == 1)
    #expect(try String(contentsOfFile: webFile, encoding: .utf8) == "db_master: [unclosed\n")

    let status = try fixture.pgfollow("status")
    #expect(
      status.status == 2 && status.output.hasPrefix("CRITICAL: app web: "), "\(status.output)")

    try Self.webText.write(toFile: webFile, atomically: false, encoding: .utf8)
    let mended = try fixture.pgfollow("once")
    #expect(mended.status == 2, "\(mended.output)")
    #expect(try Self.web(fixture).master == "node2:5432")
    #expect(Self.restartCount(fixture, "web.service") == 2)
    #expect(Self.restartCount(fixture, "worker.service") == 2, "the worker was not restarted again")
  }

  /// One app's restart failing: the other is restarted, the exit code is the restart failure,
  /// and the failed one stays owed (and is shown so) until it succeeds.
  @Test func aFailingRestartIsOwedOnlyByItsApp() throws {
    let fixture = try Self.makeFixture()
    let failing = fixture.directory + "/failing-systemctl"
    try "#!/bin/sh\necho \"Job for $3 failed.\"\nexit 1\n".write(
      toFile: failing, atomically: false, encoding: .utf8)
    chmod(failing, 0o755)
    try fixture.editConfig(
      "units: worker.service, systemctl: ./systemctl",
      "units: worker.service, systemctl: ./failing-systemctl")
    let result = try fixture.pgfollow("once")
    #expect(result.status == 7, "\(result.output)")
    #expect(
      result.output.contains("app worker: restart of worker.service failed"), "\(result.output)")
    #expect(Self.restartCount(fixture, "web.service") == 1)
    #expect(try Self.workerHost(fixture) == "node1", "the file is switched even so")
    let status = try fixture.pgfollow("status")
    #expect(status.status == 1, "\(status.output)")
    #expect(status.output.hasPrefix("WARNING: app worker: restart owed: worker.service"))
    try fixture.editConfig("./failing-systemctl", "./systemctl")
    #expect(try fixture.pgfollow("once").status == 2)
    #expect(Self.restartCount(fixture, "worker.service") == 1)
    #expect(Self.restartCount(fixture, "web.service") == 1, "web was not restarted again")
  }

  /// The sidecar keeps one connection per node for every app, and restarts each app's unit at a
  /// failover; its metrics count by app.
  @Test func oneSidecarServesEveryApp() throws {
    let fixture = try Self.makeFixture()
    let port = try freePort()
    try fixture.editConfig("metrics: {listen: off}", "metrics: {listen: \"127.0.0.1:\(port)\"}")
    let sidecar = try Sidecar(fixture: fixture)
    #expect(
      waitUntil(20) {
        Self.restartCount(fixture, "web.service") == 1
          && Self.restartCount(fixture, "worker.service") == 1
      }, "\(sidecar.log)")
    for node in ["node1", "node2", "node3"] {
      #expect(try fixture.pgfollowBackends(node).count == 1, "one connection to \(node)")
    }
    try fixture.failOver()
    #expect(
      try waitUntil(20) {
        try Self.workerHost(fixture) == "node2" && Self.web(fixture).master == "node2:5432"
      },
      "\(sidecar.log)")
    #expect(
      waitUntil(20) {
        Self.restartCount(fixture, "web.service") == 2
          && Self.restartCount(fixture, "worker.service") == 2
      }, "\(sidecar.log)")
    #expect(sidecar.log.contains("app worker: restarted worker.service"), "\(sidecar.log)")
    // The restart's own log line comes first; its result reaches the metrics a moment later.
    var metrics = ""
    let counted = try waitUntil(10) {
      metrics =
        try run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(port)/metrics"], timeout: 30).output
      return metrics.contains("pgfollow_restarts_total{app=\"worker\",result=\"success\"} 2")
    }
    #expect(counted, "\(metrics)")
    #expect(metrics.contains("pgfollow_app_healthy{app=\"web\"} 1"))
    #expect(sidecar.stop() == 0)
  }

  /// check-config names each bad entry, and a path missing from one app's file.
  @Test func checkConfigNamesTheEntry() throws {
    let fixture = try Self.makeFixture()
    try fixture.editConfig("database.host:", "database.hots:")
    let missing = try fixture.pgfollow("check-config", "--skip-preflight")
    #expect(missing.status == 5)
    #expect(
      missing.output.contains("apps[worker].set: database.hots is not in the application's file"),
      "\(missing.output)")
    try fixture.editConfig("- name: worker", "- name: web")
    let twice = try fixture.pgfollow("check-config", "--skip-preflight")
    #expect(twice.status == 5)
    #expect(twice.output.contains("app name \"web\" is used twice"), "\(twice.output)")
  }
}
