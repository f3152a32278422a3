import Foundation
import PGFollowConfig
import PGFollowCore
import PGFollowDaemon
import PGFollowTestSupport
import Testing

/// The probe's cost does not grow with the failover table, and its order is the decision's.
@Suite(.serialized, Needs.cluster) struct LargeTableTests {
  /// A million rows on the seed's bare table: the probe reads all of them and says so, with the
  /// statement that fixes it; after `init`, it reads a few, and a row on a later timeline still
  /// wins over a million with later timestamps (a clock far behind).
  @Test func aMillionRowsCostAFewOnceIndexedAndDecideAsTen() throws {
    let fixture = try Fixture()
    try fixture.clusterCommand(
      "sql", "node1",
      "insert into failover_log select 1500000000 + g, case when g % 5 < 2 "
        + "then 'node' || (g % 2 + 1) else 'other' || (g % 7) end "
        + "from generate_series(1, 1000000) as g; analyze failover_log")
    let bare = try fixture.pgfollow("once", "--dry-run")
    #expect(bare.output.contains("leader:   node1"), "\(bare.output)")
    #expect(
      bare.output.contains(
        "failover_log has about 1.0 M rows on node1, node2 and lacks an index the probe needs"),
      "\(bare.output)")
    #expect(bare.output.contains(#"CREATE INDEX ON "failover_log" ("unixtime");"#))
    #expect(try rowsRead(fixture, form: .bare) > 500_000)

    let admin = "host=127.0.0.1 port=\(try fixture.port("node1")) dbname=postgres user=postgres"
    let initialised = try run(
      Fixture.binary, ["init", "--conninfo", admin, "--grant", "pgfollow"], timeout: 120)
    #expect(initialised.status == 0, "\(initialised.output)")
    // The indexes reach the standby as it replays them.
    var indexed = try fixture.pgfollow("once", "--dry-run")
    #expect(
      try waitUntil(20) {
        indexed = try fixture.pgfollow("once", "--dry-run")
        return !indexed.output.contains("lacks an index")
      }, "\(indexed.output)")
    #expect(try rowsRead(fixture, form: .history) < 50)

    // node2 promoted, its row written by a clock hours behind every row's.
    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote-only", "node2")
    try fixture.clusterCommand(
      "sql", "node2", "insert into failover_log (unixtime, host) values (1400000000, 'node2')")
    let followed = try fixture.pgfollow("once")
    #expect(try fixture.masterAddress() == "node2:5432", "\(followed.output)")
  }

  /// The SQL's order and `HistoryOrder` agree on random rows: rows recorded here (by timeline,
  /// WAL position, then timestamp) before the rest (by timestamp), other clusters' rows and
  /// unconfigured hosts included.
  @Test func theProbesOrderIsTheDecisionsOrder() throws {
    let fixture = try Fixture()
    let admin = "host=127.0.0.1 port=\(try fixture.port("node1")) dbname=postgres user=postgres"
    let initialised = try run(
      Fixture.binary, ["init", "--conninfo", admin, "--grant", "pgfollow"], timeout: 120)
    #expect(initialised.status == 0, "\(initialised.output)")
    let sysid = try Fixture.cluster(
      "sql", fixture.cluster, "node1 select system_identifier from pg_control_system()"
    ).output.trimmingCharacters(in: .whitespacesAndNewlines)
    var generator = SystemRandomNumberGenerator()
    for round in 0..<6 {
      var rows: [FailoverRow] = []
      var values: [String] = []
      for index in 0..<150 {
        let host = ["node1", "node2", "elsewhere"].randomElement(using: &generator)!
        let unixtime = Int64(1_700_000_000 + index * 7 + round)
        let recorded: HistoryPosition? =
          Int.random(in: 0..<4, using: &generator) == 0
          ? nil
          : HistoryPosition(
            systemIdentifier: Bool.random(using: &generator) ? sysid : "42",
            timeline: Int64.random(in: 1...Int64(round + 2), using: &generator),
            lsn: UInt64.random(in: 0...0xFF_FFFF, using: &generator))
        rows.append(FailoverRow(unixtime: unixtime, host: host, recorded: recorded))
        let history =
          recorded.map { "\($0.timeline), '\($0.lsnText)', \($0.systemIdentifier)" }
          ?? "null, null, null"
        values.append("(\(unixtime), '\(host)', \(history))")
      }
      let insert =
        "truncate failover_log; insert into failover_log (unixtime, host, timeline_id, wal_lsn, "
        + "system_identifier) values " + values.shuffled(using: &generator).joined(separator: ", ")
      try fixture.clusterCommand("sql", "node1", insert)
      // This round's rows (their timestamps say which round), replayed on node2.
      #expect(waitUntil(20) { (try? Self.count(fixture, "node2", round: round)) == 150 })
      // Both nodes report this cluster's system identifier, as they do to a decision.
      let order = HistoryOrder(
        ["node1", "node2"].map { node in
          NodeEvidence(
            node: node,
            result: .success(
              Observation(
                inRecovery: node == "node2", newestRow: nil,
                position: HistoryPosition(systemIdentifier: sysid, timeline: 1, lsn: 0))),
            latencyMilliseconds: 0)
        })
      let expected = rows.filter { $0.host != "elsewhere" }.max { order.isOlder($0, than: $1) }
      // What the probe chose on each node, as `status --json` shows it (in a process of its
      // own, retried while a loaded machine is slow to answer).
      var seen: [String: String] = [:]
      #expect(
        try waitUntil(30) {
          seen = try Self.newestRows(fixture)
          return seen.count == 2
        }, "round \(round): \(seen)")
      let wanted = expected.map { "\($0.unixtime) \($0.host)" }
      #expect(seen["node1"] == wanted && seen["node2"] == wanted, "round \(round): \(seen)")
    }
  }

  /// History columns made by hand with other types are not read, and `once` says so.
  @Test func historyColumnsOfOtherTypesAreNamed() throws {
    let fixture = try Fixture()
    try fixture.clusterCommand(
      "sql", "node1",
      "alter table failover_log add column timeline_id int4, add column wal_lsn text, "
        + "add column system_identifier int8")
    var dry = try fixture.pgfollow("once", "--dry-run")
    #expect(
      try waitUntil(10) {
        dry = try fixture.pgfollow("once", "--dry-run")
        return dry.output.contains(
          "the failover table on node1, node2 has timeline_id, wal_lsn and system_identifier, "
            + "but not as int8, pg_lsn and int8")
      }, "\(dry.output)")
    #expect(dry.output.contains("leader:   node1"), "\(dry.output)")
  }

  /// A probe that outlives the query timeout on a connected node (here a lock held on the table,
  /// as a migration holds one) is reported as slow, not as a node out of reach, by `once`,
  /// `check-config` and the sidecar.
  @Test func aProbeThatOutlivesItsTimeoutIsSlowNotUnreachable() throws {
    let fixture = try Fixture()
    let sidecar = try Sidecar(fixture: fixture)
    #expect(waitUntil(10) { fixture.restarts().count == 1 }, "\(sidecar.log)")
    let lock = Process()
    lock.executableURL = URL(fileURLWithPath: Fixture.packageRoot.path + "/scripts/test-cluster")
    lock.arguments = [
      "sql", fixture.cluster, "node1", "lock table failover_log; select pg_sleep(6)",
    ]
    lock.standardInput = FileHandle.nullDevice
    try lock.run()
    defer { lock.waitUntilExit() }
    usleep(500_000)
    let once = try fixture.pgfollow("once", "--dry-run")
    #expect(
      once.output.contains(
        "node node1 does not answer in time: connected; the probe took longer than 1s"),
      "\(once.output)")
    #expect(!once.output.contains("node node1 unreachable"), "\(once.output)")
    let check = try fixture.pgfollow("check-config")
    #expect(check.output.contains("node node1 does not answer in time"), "\(check.output)")
    #expect(
      waitUntil(10) { sidecar.log.contains("node node1 does not answer in time: connected") },
      "\(sidecar.log)")
    #expect(waitUntil(15) { sidecar.log.contains("node node1 reachable again") }, "\(sidecar.log)")
    #expect(sidecar.stop() == 0)
  }

  /// Each answering node's newest row, `unixtime host`, from `pgfollow status --json`.
  private static func newestRows(_ fixture: Fixture) throws -> [String: String] {
    let output = try fixture.pgfollow("status", "--json").output
    guard let start = output.firstIndex(of: "{"),
      let object = try JSONSerialization.jsonObject(with: Data(output[start...].utf8))
        as? [String: Any],
      let nodes = object["nodes"] as? [[String: Any]]
    else { return [:] }
    var rows: [String: String] = [:]
    for node in nodes {
      guard let name = node["name"] as? String, let row = node["newest_row"] as? [String: Any],
        let unixtime = row["unixtime"] as? Int, let host = row["host"] as? String
      else { continue }
      rows[name] = "\(unixtime) \(host)"
    }
    return rows
  }

  private static func count(_ fixture: Fixture, _ node: String, round: Int) throws -> Int? {
    let sql =
      "\(node) select count(*) from failover_log where (unixtime - 1700000000) % 7 = \(round)"
    return Int(
      try Fixture.cluster("sql", fixture.cluster, sql).output
        .trimmingCharacters(in: .whitespacesAndNewlines))
  }

  /// The rows of failover_log the probe reads on node1 (returned or filtered out), by its plan.
  private func rowsRead(_ fixture: Fixture, form: TableForm) throws -> Int {
    let config = try loadConfigFile(fixture.configFile)
    let query = ProbeQuery(table: config.failoverTable, nodes: config.nodeNames)
    let arguments = query.parameters.map { "'" + ($0 ?? "") + "'" }.joined(separator: ", ")
    let sql =
      "prepare probe (text[], text) as \(query.sql(ProbeRequest(form: form, withFacts: true))); "
      + "explain (analyze, format json) execute probe (\(arguments))"
    let output = try Fixture.cluster("sql", fixture.cluster, "node1 " + sql).output
    let plans = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]]
    return plans?.first.flatMap { ($0["Plan"] as? [String: Any]).map(tableRows) } ?? -1
  }
}

private func tableRows(_ plan: [String: Any]) -> Int {
  var read = 0
  if plan["Relation Name"] as? String == "failover_log" {
    let loops = plan["Actual Loops"] as? Int ?? 1
    let rows = (plan["Actual Rows"] as? Int ?? 0) + (plan["Rows Removed by Filter"] as? Int ?? 0)
    read += rows * loops
  }
  for child in plan["Plans"] as? [[String: Any]] ?? [] { read += tableRows(child) }
  return read
}
