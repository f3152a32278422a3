import Foundation
import PGFollowTestSupport
import Testing

/// `verify:`: after a switch, the application's own sessions (a real program holding a pool,
/// run as the unit by a stand-in systemctl) show whether it reached the new primary.
@Suite(.serialized, Needs.cluster) struct SessionVerifyTests {
  private func verify(_ fixture: Fixture, _ settings: String) throws {
    try fixture.editConfig("  set:\n", "  verify: {role: shop, \(settings)}\n  set:\n")
  }

  private func curl(_ port: Int, _ path: String) throws -> String {
    try run(
      "/usr/bin/curl",
      ["-s", "-m", "3", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"],
      timeout: 30
    ).output
  }

  /// The start-up switch and a crash failover are each verified by `once`: the application's
  /// sessions are on the new primary, and `status` says when they got there.
  @Test func onceVerifiesThatTheApplicationReachedTheNewPrimary() throws {
    let fixture = try Fixture()
    let app = try SessionApp(fixture: fixture)
    defer { app.stop() }
    try verify(fixture, "within: 10s")
    let first = try fixture.pgfollow("once")
    #expect(first.status == 2, "\(first.output)")
    #expect(first.output.contains("app reached node1: "), "\(first.output)")
    try fixture.failOver()
    let second = try fixture.pgfollow("once")
    print("once after the failover:\n\(second.output)")
    #expect(second.status == 2, "\(second.output)")
    #expect(second.output.contains("app reached node2: "), "\(second.output)")
    #expect(second.output.contains(" of the restart"))
    #expect(waitUntil(10) { (try? app.sessions(on: "node2")) == 4 })
    let status = try fixture.pgfollow("status", "--json")
    #expect(
      status.output.contains("\"verification\": {\"state\": \"verified\", \"leader\": \"node2\""),
      "\(status.output)")
    #expect(
      status.output.contains("\"sessions\": {\"node1\": null, \"node2\": 4}"), "\(status.output)")
    let text = try fixture.pgfollow("status")
    print("status:\n\(text.output)")
    #expect(text.output.contains("sessions: ? on node1 ("), "\(text.output)")
    #expect(text.output.contains("4 on node2 (the leader)"), "\(text.output)")
    #expect(text.output.contains("switch:   app reached node2"), "\(text.output)")
  }

  /// The application reads a copy of the file: the switch is unverified (exit 9) after
  /// `within`, `status` is CRITICAL naming the node, and the next run says so again.
  @Test func aWrongFileLeavesTheSwitchUnverified() throws {
    let fixture = try Fixture()
    let app = try SessionApp.readingACopy(fixture, naming: "node1")
    defer { app.stop() }
    try verify(fixture, "within: 3s")
    #expect(try fixture.pgfollow("once").status == 2)
    try fixture.failOver()
    let started = Date()
    let once = try fixture.pgfollow("once")
    print("once with the wrong file:\n\(once.output)")
    #expect(once.status == 9, "\(once.output)")
    #expect(Date().timeIntervalSince(started) < 20)
    #expect(
      once.output.contains("app has not reached node2 ")
        && once.output.contains("no session on node2 since the restart"), "\(once.output)")
    #expect(once.output.contains("is \(fixture.appFile) the file it reads"))
    let again = try fixture.pgfollow("once")
    #expect(again.status == 9, "\(again.output)")
    let status = try fixture.pgfollow("status")
    #expect(status.status == 2, "\(status.output)")
    #expect(status.output.hasPrefix("CRITICAL: app has not reached node2"), "\(status.output)")
  }

  /// At steady state, sessions that sit on the standby for longer than `within` are a warning
  /// that names the file; the sidecar's `/healthz` is 503 with it, and its metrics say 0.
  @Test func sessionsOnAStandbyAreFoundAtSteadyState() throws {
    let fixture = try Fixture()
    let app = try SessionApp.readingACopy(fixture, naming: "node2")
    defer { app.stop() }
    // Started by a first run that verifies nothing: no switch is waiting to be verified.
    #expect(try fixture.pgfollow("once").status == 2)
    try verify(fixture, "within: 2s, every: 1s")
    let port = try freePort()
    try fixture.editConfig("metrics: {listen: off}", "metrics: {listen: \"127.0.0.1:\(port)\"}")
    #expect(waitUntil(10) { (try? app.sessions(on: "node2")) == 4 })
    let sidecar = try Sidecar(fixture: fixture)
    // The count is of the sessions older than `within` when first found: 1 to 4 of the pool.
    let warning =
      " sessions on node2, a standby, while \(fixture.appFile) names node1: is that the file "
      + "app reads?"
    #expect(waitUntil(30) { sidecar.log.contains(warning) }, "\(sidecar.log)")
    let metrics = try curl(port, "/metrics")
    #expect(metrics.contains("pgfollow_app_on_leader{app=\"app\"} 0"), "\(metrics)")
    #expect(
      waitUntil(10) {
        (try? curl(port, "/healthz")) == "app has 4" + warning + "\n\n503"
          && (try? curl(port, "/metrics"))?.contains(
            "pgfollow_app_sessions{app=\"app\",node=\"node2\"} 4") == true
      })
    print("/healthz with the wrong file:\n\(try curl(port, "/healthz"))")
    usleep(1_000_000)
    #expect(sidecar.log.components(separatedBy: warning).count == 2, "\(sidecar.log)")
    #expect(sidecar.stop() == 0)
  }

  /// An application that reloads keeps its pooled sessions on the demoted node: found and named;
  /// with `stale_sessions: terminate` they go, it reconnects to the new primary, and the switch
  /// is verified.
  @Test func aReloadThatKeepsSessionsIsFoundAndTheyCanBeEnded() throws {
    let fixture = try Fixture()
    let app = try SessionApp(fixture: fixture)
    defer { app.stop() }
    try verify(fixture, "within: 3s")
    try fixture.editConfig(
      "  units: app.service\n", "  units: app.service\n  action: reload-or-restart\n")
    #expect(try fixture.pgfollow("once").status == 2)
    #expect(waitUntil(10) { (try? app.sessions(on: "node1")) == 4 })
    // A switchover whose old primary stays writable: node2 is on the later timeline.
    try fixture.clusterCommand("promote", "node2")
    let once = try fixture.pgfollow("once")
    print("once after a reload that kept the sessions:\n\(once.output)")
    #expect(once.status == 9, "\(once.output)")
    #expect(once.output.contains("4 sessions left on node1"), "\(once.output)")
    let status = try fixture.pgfollow("status")
    #expect(status.output.contains("4 on node1 (a writable node)"), "\(status.output)")
    try verify(fixture, "within: 3s, stale_sessions: terminate")
    try fixture.editConfig("  verify: {role: shop, within: 3s}\n", "")
    let ended = try fixture.pgfollow("once")
    print("once with stale_sessions: terminate:\n\(ended.output)")
    #expect(ended.output.contains("terminated 4 sessions of app on node1"), "\(ended.output)")
    #expect(ended.output.contains("app reached node2"), "\(ended.output)")
    #expect(try app.sessions(on: "node1") == 0)
    #expect(waitUntil(10) { (try? app.sessions(on: "node2")) == 4 })
  }

  /// Without pg_read_all_stats the watchers' role cannot see the sessions: said with the grant,
  /// and the switch is followed all the same; check-config names the grant too.
  @Test func aRoleWithoutTheGrantSaysItCannotVerify() throws {
    let fixture = try Fixture()
    let app = try SessionApp(fixture: fixture, grant: false)
    defer { app.stop() }
    try verify(fixture, "within: 3s, stale_sessions: terminate")
    let once = try fixture.pgfollow("once")
    #expect(once.status == 2, "\(once.output)")
    #expect(
      once.output.contains(
        "cannot verify app's sessions on node1, node2: the watchers' role may not see other "
          + "roles' sessions: GRANT pg_read_all_stats"), "\(once.output)")
    let check = try fixture.pgfollow("check-config")
    #expect(check.status == 0, "\(check.output)")
    #expect(check.output.contains("GRANT pg_read_all_stats"), "\(check.output)")
    try fixture.clusterCommand("sql", "node1", "grant pg_read_all_stats to pgfollow")
    var seen = ""
    #expect(
      waitUntil(10) {
        seen = (try? fixture.pgfollow("check-config"))?.output ?? ""
        return seen.contains("app app: sessions: 4 on node1 (a writable node), 0 on node2")
      }, "\(seen)")
    // Seeing is granted, terminating is not: named, for an app that asks for it.
    #expect(
      seen.contains(
        "cannot terminate app's stale sessions on node1, node2: the watchers' role may not "
          + "terminate sessions: GRANT pg_signal_backend"), "\(seen)")
  }

  /// The sidecar verifies a crash failover and shows it in `/status`.
  @Test func theSidecarVerifiesAFailover() throws {
    let fixture = try Fixture()
    let app = try SessionApp(fixture: fixture)
    defer { app.stop() }
    try verify(fixture, "within: 10s")
    let port = try freePort()
    try fixture.editConfig("metrics: {listen: off}", "metrics: {listen: \"127.0.0.1:\(port)\"}")
    let sidecar = try Sidecar(fixture: fixture)
    #expect(waitUntil(30) { sidecar.log.contains("app reached node1: ") }, "\(sidecar.log)")
    try fixture.failOver()
    #expect(waitUntil(30) { sidecar.log.contains("app reached node2: ") }, "\(sidecar.log)")
    print("sidecar log:\n\(sidecar.log)")
    let status = try curl(port, "/status")
    #expect(
      status.contains("\"verification\": {\"state\": \"verified\", \"leader\": \"node2\""),
      "\(status)")
    let metrics = try curl(port, "/metrics")
    #expect(
      metrics.contains("pgfollow_app_verification{app=\"app\",state=\"verified\"} 1"), "\(metrics)")
    #expect(metrics.contains("pgfollow_app_on_leader{app=\"app\"} 1"), "\(metrics)")
    #expect(sidecar.stop() == 0, "\(sidecar.log)")
  }
}
