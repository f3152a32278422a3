import Foundation
import PGFollowTestSupport
import Testing

/// The chain a user runs, on every supported PostgreSQL: Debian 12's 15, and 16, 17 and 18 from
/// the PyPI wheels that scripts/setup unpacks. The watchers' role logs in by SCRAM throughout.
@Suite(Needs.fakeClock) struct PostgresVersionsTests {
  @Test(Needs.postgres(15)) func postgres15() throws { try chain(15) }
  @Test(Needs.postgres(16)) func postgres16() throws { try chain(16) }
  @Test(Needs.postgres(17)) func postgres17() throws { try chain(17) }
  @Test(Needs.postgres(18)) func postgres18() throws { try chain(18) }

  private func chain(_ major: Int) throws {
    let fixture = try Fixture(server: PostgresServers.bin(major))
    for node in ["node1", "node2"] {
      let version = try fixture.sql(
        node, "select current_setting('server_version_num')::int / 10000")
      try #require(version == "\(major)", "\(node) runs PostgreSQL \(version)")
    }
    try requireScram(fixture)
    try initAndRecord(fixture)
    let app = try SessionApp(fixture: fixture)
    defer { app.stop() }
    try fixture.editConfig("  set:\n", "  verify: {role: shop, within: 10s}\n  set:\n")

    let check = try fixture.pgfollow("check-config")
    #expect(check.status == 0, "\(check.output)")
    #expect(check.output.contains("node node1: answers, writable (a primary)"), "\(check.output)")
    #expect(check.output.contains("node node2: answers, a standby"), "\(check.output)")
    let once = try fixture.pgfollow("once")
    #expect(once.status == 2, "\(once.output)")
    #expect(once.output.contains("app reached node1: "), "\(once.output)")

    try followACrashAndAPromotion(fixture)
    try neverFollowAStaleOldPrimaryAnHourAhead(fixture)
  }

  /// The watchers' role asks a password on both nodes, as pg_hba's scram-sha-256.
  private func requireScram(_ fixture: Fixture) throws {
    try fixture.sql("node1", "alter role pgfollow password 'topsecret'")
    for node in ["node1", "node2"] {
      let hba = "\(fixture.cluster)/\(node)/pg_hba.conf"
      let rules = try String(contentsOfFile: hba, encoding: .utf8)
      try ("host all pgfollow 127.0.0.1/32 scram-sha-256\n" + rules).write(
        toFile: hba, atomically: false, encoding: .utf8)
      try fixture.sql(node, "select pg_reload_conf()")
    }
    try fixture.editConfig("password=topsecret", "password=wrong9")
    let wrong = try fixture.pgfollow("check-config")
    #expect(wrong.status == 5 && wrong.output.contains("password authentication failed"))
    #expect(!wrong.output.contains("wrong9"), "\(wrong.output)")
    try fixture.editConfig("password=wrong9", "password=topsecret")
  }

  /// `init` on the seed's table and on a new database, and `record` there: the row carries the
  /// cluster's system identifier and timeline.
  private func initAndRecord(_ fixture: Fixture) throws {
    try fixture.addHistoryColumns()
    let admin = "host=127.0.0.1 port=\(try fixture.port("node1")) user=postgres"
    let created = try run(
      Fixture.binary,
      [
        "init", "--conninfo", admin + " dbname=postgres", "--database", "pg_new", "--grant",
        "pgfollow",
      ],
      timeout: 60)
    #expect(
      created.status == 0 && created.output.contains("created database pg_new"), "\(created.output)"
    )
    let recorded = try run(
      Fixture.binary, ["record", "--conninfo", admin + " dbname=pg_new", "--name", "node1"],
      timeout: 60)
    #expect(recorded.status == 0, "\(recorded.output)")
    let row = try run(
      PostgresServers.bin(15) + "/psql",
      [
        "-X", "-At", "-h", "127.0.0.1", "-p", "\(try fixture.port("node1"))", "-U", "postgres",
        "-d", "pg_new", "-c",
        "select host, timeline_id, system_identifier = (select system_identifier "
          + "from pg_control_system()) from failover_log",
      ], timeout: 30)
    #expect(
      row.output.trimmingCharacters(in: .whitespacesAndNewlines) == "node1|1|t", "\(row.output)")
  }

  /// The sidecar follows node1's crash and node2's promotion, recorded by `pgfollow record`, and
  /// sees the application's sessions reach node2.
  private func followACrashAndAPromotion(_ fixture: Fixture) throws {
    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(notify.waitFor("STATUS=following node1"), "\(sidecar.log)")
    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote-only", "node2")
    let recorded = try fixture.record(on: "node2")
    #expect(recorded.status == 0, "\(recorded.output)")
    #expect(waitUntil(30) { sidecar.log.contains("app reached node2: ") }, "\(sidecar.log)")
    #expect(notify.waitFor("STATUS=following node2"), "\(sidecar.log)")
    let values = try fixture.appValues()
    #expect(try fixture.masterAddress() == "'127.0.0.1:\(try fixture.port("node2"))'", "\(values)")
    #expect(sidecar.log.contains("timeline 2"), "\(sidecar.log)")
    #expect(sidecar.stop() == 0, "\(sidecar.log)")
  }

  /// node1 comes back writable on its old timeline, its clock an hour ahead, and a row is written
  /// there as the seed writes it: a split brain, never followed.
  private func neverFollowAStaleOldPrimaryAnHourAhead(_ fixture: Fixture) throws {
    try fixture.clusterCommand("skew", "node1", "+1h")
    try fixture.recordAsTheSeedDoes("node1", clockOffset: "+1h")
    let split = try fixture.pgfollow("once", "--dry-run")
    #expect(split.output.contains("SPLIT BRAIN: node1 and node2"), "\(split.output)")
    #expect(try fixture.pgfollow("once").status == 4)
    #expect(try fixture.masterAddress() == "'127.0.0.1:\(try fixture.port("node2"))'")
  }
}
