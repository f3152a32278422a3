import Foundation
import PGFollowTestSupport
import Testing

/// The whole chain with the real tools: repmgrd or Patroni promotes, its hook (the file in
/// examples/writer/, paths put in) runs `pgfollow record`, and the sidecar switches the
/// application and restarts it. Each step is checked in order, and the timeline printed.
@Suite(.serialized, Needs.failoverTools) struct FailoverToolsTests {
  /// A query on one node, as postgres.
  static func sql(_ fixture: Fixture, _ node: String, _ database: String, _ query: String)
    throws -> RunResult
  {
    let conninfo = "host=127.0.0.1 port=\(try fixture.port(node)) dbname=\(database) user=postgres"
    return try run("/usr/bin/psql", ["-X", "-At", conninfo, "-c", query], timeout: 30)
  }

  /// A cluster run by `tool`, and a sidecar that has applied its first leader.
  static func startChain(_ tool: String) throws -> (Fixture, Sidecar) {
    let fixture = try Fixture(failoverTool: tool)
    let sidecar = try Sidecar(fixture: fixture)
    #expect(waitUntil(20) { fixture.restarts().count == 1 }, "\(sidecar.log)")
    return (fixture, sidecar)
  }

  /// What the new primary's row says: its host and the time it was committed.
  static func newestRow(_ fixture: Fixture, on node: String) throws -> (
    host: String, committed: Double
  )? {
    let result = try sql(
      fixture, node, "pg_state",
      "select host, extract(epoch from pg_xact_commit_timestamp(xmin)) from failover_log "
        + "order by unixtime desc limit 1")
    let fields = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
      .split(separator: "|")
    guard result.status == 0, fields.count == 2, let committed = Double(fields[1]) else {
      return nil
    }
    return (String(fields[0]), committed)
  }

  /// What the tool's hook printed.
  static func recordLog(_ fixture: Fixture) -> String {
    (try? String(contentsOfFile: fixture.cluster + "/record.log", encoding: .utf8)) ?? ""
  }

  /// Follows one change of primary to node2 through the sidecar, and prints the timeline.
  static func followToNode2(
    _ fixture: Fixture, _ sidecar: Sidecar, started: Double, what: String
  ) throws {
    var promoted = 0.0
    #expect(
      waitUntil(60) {
        let primary = try? fixture.toolCommand("primary").output
        promoted = Date().timeIntervalSince1970
        return primary?.hasPrefix("node2") == true
      }, "node2 was not promoted")
    var row: (host: String, committed: Double)?
    #expect(
      try waitUntil(30) {
        row = try newestRow(fixture, on: "node2")
        return row?.host == "node2"
      }, "no row for node2: \(recordLog(fixture))")
    #expect(try waitUntil(20) { try fixture.masterAddress() == "node2:5432" }, "\(sidecar.log)")
    #expect(waitUntil(20) { fixture.restarts().count == 2 }, "\(sidecar.log)")
    let restarted = Date().timeIntervalSince1970
    // The hook's output lands when it exits (under ThreadSanitizer, a second after its commit).
    #expect(
      waitUntil(30) { recordLog(fixture).contains("pgfollow record: recorded (") },
      "\(recordLog(fixture))")
    if let committed = row?.committed {
      #expect(started < committed && committed < restarted)
      print(
        String(
          format:
            "%@: promoted after ≤ %.1f s, row committed at %.2f s, application restarted by %.2f s",
          what, promoted - started, committed - started, restarted - started))
    }
  }

  @Test func repmgrdPromotesRecordWritesTheSidecarSwitches() throws {
    let (fixture, sidecar) = try Self.startChain("repmgr")
    let killed = Date().timeIntervalSince1970
    try fixture.toolCommand("kill-node", "node1")
    try Self.followToNode2(fixture, sidecar, started: killed, what: "repmgr failover")
    // repmgrd writes its event once the notification command has returned.
    #expect(
      try waitUntil(30) {
        try Self.sql(
          fixture, "node2", "repmgr",
          "select event from repmgr.events where event = 'repmgrd_failover_promote'"
        ).output.contains("repmgrd_failover_promote")
      }, "repmgrd recorded no failover promotion")
    #expect(sidecar.stop() == 0)
  }

  @Test func patroniFailoverWhenTheLeaderDies() throws {
    let (fixture, sidecar) = try Self.startChain("patroni")
    let killed = Date().timeIntervalSince1970
    try fixture.toolCommand("kill-node", "node1")
    try Self.followToNode2(fixture, sidecar, started: killed, what: "Patroni failover")
    #expect(sidecar.stop() == 0)
  }

  /// A planned switchover: the old primary stops cleanly, comes back as a replica, and the
  /// application is not moved back.
  @Test func patroniSwitchoverAndTheOldPrimaryReturnsAsAReplica() throws {
    let (fixture, sidecar) = try Self.startChain("patroni")
    let asked = Date().timeIntervalSince1970
    try fixture.toolCommand("switchover", "node2")
    try Self.followToNode2(fixture, sidecar, started: asked, what: "Patroni switchover")
    #expect(
      try waitUntil(60) {
        try Self.sql(fixture, "node1", "postgres", "select pg_is_in_recovery()").output
          .hasPrefix("t")
      }, "node1 did not come back as a replica")
    Thread.sleep(forTimeInterval: 1.5)
    #expect(try fixture.masterAddress() == "node2:5432")
    #expect(fixture.restarts().count == 2, "moved again: \(sidecar.log)")
    #expect(sidecar.stop() == 0)
  }
}
