import Foundation
import PGFollowTestSupport
import Testing

/// The fleet layout: pgfollow watches each node through a PgBouncer of its own in transaction
/// pooling, started by the tests from Debian's package on 127.0.0.1.
@Suite(.serialized, Needs.pooler) struct PoolerTests {
  /// `once` through the poolers: the normal state, a failover (the old primary's server dead
  /// behind its live pooler), the old primary back as a stale writable node, and the leader's
  /// pooler down.
  @Test func onceFollowsThroughPoolers() throws {
    let fixture = try Fixture()
    try fixture.usePoolers()
    let first = try fixture.pgfollow("once")
    #expect(first.status == 2, "\(first.output)")
    #expect(try fixture.masterAddress() == "node1:5432")
    #expect(try fixture.pgfollow("once").status == 0)

    try fixture.failOver()
    let switched = try fixture.pgfollow("once")
    #expect(switched.status == 2, "\(switched.output)")
    #expect(try fixture.masterAddress() == "node2:5432")
    #expect(switched.output.contains("node node1 unreachable"), "\(switched.output)")
    #expect(fixture.restarts().count == 2)

    // The old primary comes back writable with its older row: never followed back.
    try fixture.clusterCommand("restart", "node1")
    var stale = try fixture.pgfollow("once")
    #expect(
      try waitUntil(20) {
        stale = try fixture.pgfollow("once")
        return stale.status == 4
      }, "split brain, following the newest row: \(stale.output)")
    #expect(try fixture.masterAddress() == "node2:5432")
    #expect(fixture.restarts().count == 2)

    // The leader's pooler down: its node cannot be checked, so pgfollow holds.
    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("pooler-kill", "node2")
    let held = try fixture.pgfollow("once")
    #expect(held.status == 3, "\(held.output)")
    #expect(try fixture.masterAddress() == "node2:5432")
  }

  /// A pooler whose server is dead is asked again after 2 s doubling to 10 s, not at the hold
  /// pace: over 6 s of a failover, at most 4 logins at the dead node's pooler (retried within
  /// about a second, as a lost connection is while urgent, it was 6).
  @Test func aDeadServersPoolerIsNotAskedAtTheHoldPace() throws {
    let fixture = try Fixture()
    try fixture.usePoolers()
    let sidecar = try Sidecar(fixture: fixture)
    #expect(waitUntil(20) { fixture.restarts().count == 1 }, "\(sidecar.log)")
    let log = fixture.cluster + "/node1.pooler.log"
    let before = try String(contentsOfFile: log, encoding: .utf8).utf8.count
    try fixture.clusterCommand("kill", "node1")
    usleep(6_000_000)
    let text = try String(contentsOfFile: log, encoding: .utf8)
    let since = String(decoding: text.utf8.dropFirst(before), as: UTF8.self)
    let logins = since.components(separatedBy: "login attempt").count - 1
    #expect((1...4).contains(logins), "\(logins) logins at node1's pooler in 6 s\n\(sidecar.log)")
    #expect(sidecar.stop() == 0)
  }

  /// The sidecar through the poolers: a server dying behind its live pooler is noticed, named
  /// as such, and the application switches.
  @Test func sidecarFollowsThroughPoolers() throws {
    let fixture = try Fixture()
    try fixture.usePoolers()
    let sidecar = try Sidecar(fixture: fixture)
    #expect(waitUntil(20) { fixture.restarts().count == 1 }, "\(sidecar.log)")
    try fixture.failOver()
    #expect(try waitUntil(20) { try fixture.masterAddress() == "node2:5432" }, "\(sidecar.log)")
    #expect(waitUntil(10) { fixture.restarts().count == 2 }, "\(sidecar.log)")
    #expect(
      sidecar.log.contains("the pooler answers, its server does not")
        || sidecar.log.contains("node node1 unreachable: "), "\(sidecar.log)")
    #expect(sidecar.stop() == 0)
  }

  /// With one server connection shared by every client of the pooler, what pgfollow leaves in
  /// that session is what the next client gets. The probe must leave nothing: no setting, no
  /// named prepared statement. A probe that ran SET or PREPARE would fail this test.
  @Test func theProbeLeavesNoSessionStateInThePool() throws {
    let fixture = try Fixture()
    try fixture.usePoolers(poolSize: 1)
    let sidecar = try Sidecar(fixture: fixture)
    #expect(waitUntil(20) { fixture.restarts().count == 1 }, "\(sidecar.log)")
    for _ in 0..<3 { _ = try fixture.pgfollow("once") }
    _ = try fixture.pgfollow("status")
    let conninfo =
      "host=127.0.0.1 port=\(try fixture.poolerPort("node1")) dbname=pg_state user=pgfollow"
    let psql = try run(
      "/usr/bin/psql",
      [
        "-X", "-At", conninfo, "-c",
        "select current_setting('statement_timeout') || ' ' || current_setting('search_path') "
          + "|| ' ' || (select count(*) from pg_prepared_statements) || ' ' || "
          + "(select count(*) from pg_stat_activity where usename = 'pgfollow')",
      ], timeout: 30)
    #expect(psql.status == 0, "\(psql.output)")
    #expect(
      psql.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0 \"$user\", public 0 1")
    #expect(sidecar.stop() == 0)
  }

  /// A node with no slot left for the watchers' role: reported with the remedy, never taken as
  /// evidence of anything, nothing changed.
  @Test func noSlotLeftIsNamedAndChangesNothing() throws {
    let fixture = try Fixture()
    #expect(try fixture.pgfollow("once").status == 2)
    try fixture.clusterCommand("sql", "node1", "alter role pgfollow connection limit 1")
    let sidecar = try Sidecar(fixture: fixture)
    #expect(waitUntil(20) { (try? fixture.pgfollowBackends("node1").count) == 1 }, "\(sidecar.log)")
    // `status` opens connections of its own, beside the sidecar's.
    let blocked = try fixture.pgfollow("status")
    #expect(blocked.status == 2, "holding: \(blocked.output)")
    #expect(
      blocked.output.contains("too many connections for role \"pgfollow\""), "\(blocked.output)")
    #expect(blocked.output.contains("no connection slot for pgfollow: raise the watchers' role's"))
    #expect(try fixture.masterAddress() == "node1:5432")
    let json = try fixture.pgfollow("status", "--json")
    #expect(json.output.contains("\"error\": \"no-slot: "), "\(json.output)")
    #expect(fixture.restarts().count == 1)
    #expect(sidecar.stop() == 0)
  }

  /// Watchers logging in as a superuser escape every limit: check-config and status say so.
  @Test func superuserLoginsAreWarnedAbout() throws {
    let fixture = try Fixture()
    try fixture.editConfig("user=pgfollow", "user=postgres")
    let check = try fixture.pgfollow("check-config", "--quiet")
    #expect(check.status == 0, "\(check.output)")
    #expect(
      check.output.contains(
        "warning: pgfollow logs in to node1, node2 as a superuser, which escapes any CONNECTION "
          + "LIMIT"), "\(check.output)")
    let status = try fixture.pgfollow("status")
    #expect(status.output.contains("warning:  pgfollow logs in to node1, node2 as a superuser"))
    try fixture.editConfig("user=postgres", "user=pgfollow")
    let clean = try fixture.pgfollow("check-config", "--quiet")
    #expect(clean.status == 0 && clean.output.isEmpty, "\(clean.output)")
  }
}
