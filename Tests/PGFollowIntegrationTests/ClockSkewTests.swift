import Foundation
import PGFollowTestSupport
import Testing

/// Failovers ordered without trusting clocks, against real servers whose clocks libfaketime
/// moves (scripts/test-cluster skew), with rows written as the seed's pg_keeper `after_command`
/// writes them (`date +%s` on the promoted host) and by `pgfollow record`.
@Suite(.serialized, Needs.fakeClock) struct ClockSkewTests {
  enum Writer: String, CaseIterable, Sendable {
    case seedSQL, record
  }

  /// The new primary's clock is an hour behind: its row's timestamp is older than the old
  /// primary's, and it is followed all the same, by its timeline.
  @Test(arguments: Writer.allCases)
  func aNewPrimaryWhoseClockIsAnHourBehindIsFollowed(_ writer: Writer) throws {
    let fixture = try Fixture()
    try fixture.addHistoryColumns()
    #expect(try fixture.pgfollow("once").status == 2)
    try fixture.clusterCommand("skew", "node2", "-1h")
    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote-only", "node2")
    switch writer {
    case .seedSQL:
      try fixture.recordAsTheSeedDoes("node2", clockOffset: "-1h")
    case .record:
      // record writes the server's now(), and this server's clock is the one behind.
      let recorded = try fixture.record(on: "node2")
      #expect(recorded.status == 0, "\(recorded.output)")
    }
    let rows = try fixture.sql("node2", "select unixtime, host, timeline_id from failover_log")
    let dryRun = try fixture.pgfollow("once", "--dry-run")
    print(
      "once --dry-run, the new primary an hour behind (\(writer.rawValue)):\n\(rows)\n\(dryRun.output)"
    )
    #expect(dryRun.output.contains("leader:   node2 (node2:5432)"), "\(dryRun.output)")
    #expect(dryRun.output.contains("timeline 2)"), "\(dryRun.output)")
    let once = try fixture.pgfollow("once")
    #expect(once.status == 2, "\(once.output)")
    #expect(try fixture.masterAddress() == "node2:5432")
  }

  /// A stale old primary comes back writable, its clock an hour ahead, and a row is written
  /// there as the seed writes it: never followed, on a table with history columns or the seed's
  /// own, because it is on an earlier timeline.
  @Test(arguments: [true, false])
  func aStaleOldPrimaryAnHourAheadIsNeverFollowed(withHistoryColumns: Bool) throws {
    let fixture = try Fixture()
    if withHistoryColumns { try fixture.addHistoryColumns() }
    #expect(try fixture.pgfollow("once").status == 2)
    try fixture.failOver()
    #expect(try fixture.pgfollow("once").status == 2)
    #expect(try fixture.masterAddress() == "node2:5432")

    try fixture.clusterCommand("skew", "node1", "+1h")
    try fixture.recordAsTheSeedDoes("node1", clockOffset: "+1h")
    let split = try fixture.pgfollow("once", "--dry-run")
    print(
      "once --dry-run, a stale primary an hour ahead (history columns: \(withHistoryColumns)):\n\(split.output)"
    )
    #expect(split.output.contains("leader:   node2 (node2:5432)"), "\(split.output)")
    #expect(split.output.contains("SPLIT BRAIN: node1 and node2"))
    for _ in 0..<3 {
      #expect(try fixture.pgfollow("once").status == 4)
      #expect(try fixture.masterAddress() == "node2:5432")
    }

    // node2 goes away: node1 alone, writable, its row the newest by far by its clock.
    try fixture.clusterCommand("kill", "node2")
    let alone = try fixture.pgfollow("once")
    #expect(alone.status == 3, "\(alone.output)")
    #expect(
      alone.output.contains("a stale old primary, whatever its clock says"), "\(alone.output)")
    #expect(try fixture.masterAddress() == "node2:5432")
    #expect(fixture.restarts().count == 2)
  }

  /// Promoted with no row: warned about, and held; with `policy.follow_unrecorded_promotion`,
  /// followed once it has lasted the grace period.
  @Test func aPromotionWithNoRowIsWarnedAboutThenFollowedIfThePolicySaysSo() throws {
    let fixture = try Fixture()
    try fixture.addHistoryColumns()
    #expect(try fixture.pgfollow("once").status == 2)
    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote-only", "node2")
    // A failover tool records a moment after its promotion: no warning at once.
    let held = try fixture.pgfollow("once")
    #expect(held.status == 3, "\(held.output)")
    #expect(!held.output.contains("node2 is writable on timeline 2"), "\(held.output)")
    let status = try fixture.pgfollow("status", "--json")
    #expect(status.output.contains("\"unrecorded_promotion\": \"node2\""), "\(status.output)")
    // The warning waits 10 s from when the promotion was first seen: the state file's record
    // of that moment is moved 11 s back rather than waited for.
    try fixture.movePromotionSightingBack(seconds: 11)
    let warned = try fixture.pgfollow("once")
    #expect(warned.status == 3, "\(warned.output)")
    #expect(
      warned.output.contains(
        "warning: node2 is writable on timeline 2, later than the timeline 1 of node1"),
      "\(warned.output)")
    #expect(try fixture.masterAddress() == "node1:5432")

    try fixture.writeConfig(nodes: 2, policy: "policy: {follow_unrecorded_promotion: 2s}")
    let followed = try fixture.pgfollow("once")
    #expect(followed.status == 2, "\(followed.output)")
    #expect(try fixture.masterAddress() == "node2:5432")
    let again = try fixture.pgfollow("once")
    #expect(again.status == 0, "followed once, then in sync: \(again.output)")
    #expect(fixture.restarts().count == 2)
  }

  /// Nodes of two clusters (one rebuilt with a new system identifier): rows are ordered by their
  /// timestamps, with a warning that says so.
  @Test func aRebuiltClusterFallsBackToTimestampsWithAWarning() throws {
    let fixture = try Fixture()
    try fixture.addHistoryColumns()
    let rebuilt = fixture.directory + "/rebuilt"
    try Fixture.cluster("start", rebuilt, "1")
    defer { _ = try? Fixture.cluster("stop", rebuilt) }
    let port = try String(contentsOfFile: rebuilt + "/node1.port", encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    try Fixture.cluster(
      "sql", rebuilt,
      "node1 insert into failover_log values(\(Int64(Date().timeIntervalSince1970) + 5), 'node3')")
    try fixture.writeConfig(nodes: 2, extraNodes: [("node3", Int(port) ?? 0)])
    let result = try fixture.pgfollow("once", "--dry-run")
    #expect(
      result.output.contains("the nodes report different system identifiers"), "\(result.output)")
    #expect(result.output.contains("leader:   node3"), "\(result.output)")
  }

  /// The seed's two-column table, written by plain SQL with right clocks: as before, and the
  /// table is never changed by the reader.
  @Test func theSeedsTableWorksAsBefore() throws {
    let fixture = try Fixture()
    #expect(try fixture.pgfollow("once").status == 2)
    try fixture.failOver()
    let result = try fixture.pgfollow("once")
    #expect(result.status == 2, "\(result.output)")
    #expect(try fixture.masterAddress() == "node2:5432")
    let dryRun = try fixture.pgfollow("once", "--dry-run")
    #expect(dryRun.output.contains("names node2, which is reachable and writable"))
    #expect(!dryRun.output.contains("(timeline"), "a bare row shows no timeline: \(dryRun.output)")
    let columns = try fixture.sql(
      "node2",
      "select count(*) from pg_attribute where attrelid = 'failover_log'::regclass and attnum > 0")
    #expect(columns == "2")
  }
}
