import Testing

@testable import PGFollowCore

private let nodes = ["a", "b", "c"]
private let cluster = "7714710222592293049"

/// Where a node or a row stands: timeline `timeline` at WAL position `lsn`, in `cluster`.
private func at(_ timeline: Int64, _ lsn: UInt64 = 100, in system: String = cluster)
  -> HistoryPosition
{
  HistoryPosition(systemIdentifier: system, timeline: timeline, lsn: lsn)
}

private func row(_ unixtime: Int64, _ host: String, _ recorded: HistoryPosition? = nil)
  -> FailoverRow
{
  FailoverRow(unixtime: unixtime, host: host, recorded: recorded)
}

private func node(
  _ name: String, writable: Bool, on position: HistoryPosition?, newest: FailoverRow?
) -> NodeEvidence {
  NodeEvidence(
    node: name,
    result: .success(
      Observation(
        inRecovery: !writable, walReceiverActive: !writable, newestRow: newest,
        position: position)),
    latencyMilliseconds: 1)
}

private func down(_ name: String) -> NodeEvidence {
  NodeEvidence(
    node: name, result: .failure(ProbeFailure(stage: .timeout, message: "no answer")),
    latencyMilliseconds: 1000)
}

private func decision(
  _ evidence: [NodeEvidence], previous: AppliedLeader? = nil,
  policy: DecisionPolicy = DecisionPolicy()
) -> Decision {
  decide(evidence: evidence, nodes: nodes, previous: previous, policy: policy)
}

/// Failovers ordered without trusting clocks: timelines first, timestamps last.
@Suite struct HistoryOrderTests {
  /// The new primary's clock is an hour behind: its row's timestamp is older than the old
  /// primary's, but the row was recorded on a later timeline.
  @Test func aRowOnALaterTimelineWinsWhateverItsTimestamp() {
    let old = row(10_000, "a", at(1, 500))
    let new = row(10_000 - 3600, "b", at(2, 900))
    let made = decision(
      [
        down("a"), node("b", writable: true, on: at(2, 950), newest: new),
        node("c", writable: false, on: at(2, 950), newest: new),
      ],
      previous: AppliedLeader(name: "a", unixtime: old.unixtime, recorded: old.recorded))
    #expect(made.outcome == .follow(leader: "b", standby: "c"))
    #expect(made.newestRow == new)
    #expect(made.warnings.isEmpty, "\(made.warnings)")
  }

  /// On one timeline the WAL position orders rows; the timestamp only breaks a tie.
  @Test func onOneTimelineTheWALPositionOrders() {
    let earlier = row(9_000, "b", at(2, 100))
    let later = row(5_000, "c", at(2, 200))
    let made = decision([
      node("b", writable: false, on: at(2, 300), newest: earlier),
      node("c", writable: true, on: at(2, 300), newest: later),
    ])
    #expect(made.newestRow == later)
    #expect(made.leader == "c")
  }

  /// A recorded row outranks any row without history: those predate the columns.
  @Test func aRecordedRowOutranksABareOne() {
    let bare = row(20_000, "a")
    let recorded = row(10_000, "b", at(2))
    let made = decision([
      node("a", writable: false, on: at(2), newest: bare),
      node("b", writable: true, on: at(2), newest: recorded),
    ])
    #expect(made.leader == "b")
  }

  /// A stale old primary comes back writable, an hour ahead, with a bare row of its own: the
  /// later timeline wins the split brain, unless the policy holds.
  @Test func splitBrainGoesToTheLaterTimelineWhateverTheClocks() {
    let stale = row(99_999, "a")
    let promoted = row(10_000, "b")
    let evidence = [
      node("a", writable: true, on: at(1, 800), newest: stale),
      node("b", writable: true, on: at(2, 500), newest: promoted),
    ]
    let followed = decision(evidence)
    #expect(followed.outcome == .follow(leader: "b", standby: nil))
    #expect(followed.splitBrain == ["a", "b"])
    let held = decision(evidence, policy: DecisionPolicy(splitBrain: .hold))
    #expect(held.outcome == .hold(.splitBrain(["a", "b"])))
  }

  /// Alone and writable again, the stale primary is on an earlier timeline than the leader the
  /// application follows: never followed back, however new its row's timestamp.
  @Test func aStalePrimaryOnAnEarlierTimelineIsNeverFollowedBack() {
    let applied = AppliedLeader(name: "b", unixtime: 10_000, position: at(2, 500))
    let made = decision(
      [node("a", writable: true, on: at(1, 800), newest: row(99_999, "a")), down("b")],
      previous: applied)
    guard case .hold(.staleTimeline("a", 1, _, 2)) = made.outcome else {
      Issue.record("expected a hold for a stale timeline, got \(made.outcome)")
      return
    }
    #expect(made.reason.contains("a stale old primary, whatever its clock says"))
  }

  /// Promoted, no row: warned about and held; followed only once the policy's grace is over
  /// (the caller decides that, with its clock).
  @Test func aPromotionWithNoRowIsWarnedAboutAndHeld() {
    let old = row(10_000, "a", at(1, 500))
    let evidence = [down("a"), node("b", writable: true, on: at(2, 600), newest: old)]
    let made = decision(evidence)
    #expect(made.outcome == .hold(.leaderUnreachable("a")))
    #expect(
      made.unrecordedPromotion
        == UnrecordedPromotion(node: "b", timeline: 2, rowLeader: "a", rowLeaderTimeline: 1))
    #expect(made.unrecordedPromotion?.description.hasPrefix("b is writable on timeline 2") == true)
    let followed = made.followingUnrecordedPromotion(nodes: nodes)
    #expect(followed.outcome == .follow(leader: "b", standby: nil))
    #expect(followed.reason.contains("followed with no row naming it"))
  }

  /// With a bare row, the old leader's timeline comes from the applied state.
  @Test func theAppliedLeadersTimelineServesWhenTheRowHasNone() {
    let applied = AppliedLeader(name: "a", unixtime: 10_000, position: at(1))
    let made = decision(
      [down("a"), node("b", writable: true, on: at(2), newest: row(10_000, "a"))],
      previous: applied)
    #expect(made.unrecordedPromotion?.rowLeaderTimeline == 1)
  }

  /// The row's leader still writable, a later promotion that no row names: neither is followed.
  @Test func aWritableLeaderSupersededByAnUnrecordedPromotionHolds() {
    let old = row(10_000, "a", at(1, 500))
    let made = decision([
      node("a", writable: true, on: at(1, 700), newest: old),
      node("b", writable: true, on: at(2, 600), newest: old),
    ])
    guard case .hold(.supersededLeader("a", let promotion)) = made.outcome else {
      Issue.record("expected a superseded leader, got \(made.outcome)")
      return
    }
    #expect(promotion.node == "b")
  }

  /// Nodes of different clusters (a rebuild, a restored dump): timestamps order, with a warning.
  @Test func differentClustersFallBackToTimestamps() {
    let older = row(10_000, "a", at(5, 900, in: "111"))
    let newer = row(20_000, "b", at(1, 100, in: "222"))
    let made = decision([
      node("a", writable: true, on: at(5, 950, in: "111"), newest: older),
      node("b", writable: true, on: at(1, 150, in: "222"), newest: newer),
    ])
    #expect(made.leader == "b")
    #expect(
      made.warnings.contains { $0.text.contains("different system identifiers (a: 111; b: 222)") })
  }

  /// A row recorded in another cluster is ordered by its timestamp, with a warning.
  @Test func aRowFromAnotherClusterIsOrderedByItsTimestamp() {
    let restored = row(20_000, "a", at(7, 900, in: "111"))
    let made = decision([
      node("a", writable: true, on: at(1, 100), newest: restored),
      node("b", writable: false, on: at(1, 100), newest: row(10_000, "b")),
    ])
    #expect(made.newestRow == restored)
    #expect(made.warnings.contains { $0.text.contains("recorded in another cluster") })
  }

  /// Without any history (no positions), everything is as it was: the newest timestamp.
  @Test func withoutHistoryTimestampsOrderAsBefore() {
    let made = decision([
      node("a", writable: false, on: nil, newest: row(100, "a")),
      node("b", writable: true, on: nil, newest: row(200, "b")),
    ])
    #expect(made.leader == "b")
    #expect(made.warnings.isEmpty)
    #expect(made.reason == "the newest row (200, b) names b, which is reachable and writable")
  }

  @Test func walPositionsReadAndPrintAsPostgreSQLWritesThem() {
    #expect(HistoryPosition.lsn("16/B374D848") == 0x16_B374_D848)
    #expect(HistoryPosition.lsn("0/0") == 0)
    #expect(HistoryPosition.lsn("x/1") == nil && HistoryPosition.lsn("1") == nil)
    #expect(at(1, 0x16_B374_D848).lsnText == "16/B374D848")
    #expect(HistoryPosition(systemIdentifier: "1", timeline: "0", lsn: "0/1") == nil)
  }
}
