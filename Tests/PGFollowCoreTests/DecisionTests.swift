import Testing

@testable import PGFollowCore

private let nodes = ["a", "b", "c"]

private func up(_ node: String, recovery: Bool, row: (Int64, String)? = nil, receiving: Bool = true)
  -> NodeEvidence
{
  NodeEvidence(
    node: node,
    result: .success(
      Observation(
        inRecovery: recovery, walReceiverActive: recovery && receiving,
        newestRow: row.map { FailoverRow(unixtime: $0.0, host: $0.1) })),
    latencyMilliseconds: 1)
}

private func down(_ node: String) -> NodeEvidence {
  NodeEvidence(
    node: node, result: .failure(ProbeFailure(stage: .timeout, message: "no answer")),
    latencyMilliseconds: 1000)
}

private func outcome(
  _ evidence: [NodeEvidence], previous: AppliedLeader? = nil,
  policy: DecisionPolicy = DecisionPolicy()
) -> Decision.Outcome {
  decide(evidence: evidence, nodes: nodes, previous: previous, policy: policy).outcome
}

@Suite struct DecisionTests {
  @Test func followsTheNodeNamedByTheNewestRow() {
    let evidence = [
      up("a", recovery: true, row: (100, "a")), up("b", recovery: false, row: (200, "b")),
      up("c", recovery: true, row: (200, "b")),
    ]
    #expect(outcome(evidence) == .follow(leader: "b", standby: "a"))
  }

  @Test func standbyMustBeReceivingWAL() {
    let evidence = [
      up("a", recovery: true, row: (100, "b"), receiving: false),
      up("b", recovery: false, row: (100, "b")), up("c", recovery: true, row: (100, "b")),
    ]
    #expect(outcome(evidence) == .follow(leader: "b", standby: "c"))
    let noStandby = [down("a"), up("b", recovery: false, row: (100, "b")), down("c")]
    #expect(outcome(noStandby) == .follow(leader: "b", standby: nil))
  }

  /// Every healthy standby, in configuration order, for `{standby[K]}`; one that still follows
  /// a dead primary (in recovery, receiving nothing) is not among them.
  @Test func theHealthyStandbysAreListedInConfigurationOrder() {
    let evidence = [
      up("a", recovery: true, row: (100, "b"), receiving: false),
      up("b", recovery: false, row: (100, "b")), up("c", recovery: true, row: (100, "b")),
      up("d", recovery: true, row: (100, "b")),
    ]
    let decision = decide(
      evidence: evidence, nodes: ["a", "b", "c", "d"], previous: nil, policy: .init())
    #expect(decision.standbys == ["c", "d"])
    let held = decide(
      evidence: [down("a"), up("b", recovery: true)], nodes: ["a", "b"], previous: nil,
      policy: .init())
    #expect(held.standbys.isEmpty)
  }

  @Test func noNodeReachableHolds() {
    #expect(outcome([down("a"), down("b"), down("c")]) == .hold(.noNodeReachable))
    #expect(outcome([]) == .hold(.noNodeReachable))
  }

  @Test func noRowsHolds() {
    let evidence = [up("a", recovery: false), up("b", recovery: true), down("c")]
    #expect(outcome(evidence) == .hold(.noRows(primary: "a")))
    // A fresh install says what to do next.
    #expect(
      HoldReason.noRows(primary: "a").description.hasSuffix(
        "run `pgfollow record --name a` on a"))
    let standbysOnly = [up("a", recovery: true), up("b", recovery: true)]
    #expect(outcome(standbysOnly) == .hold(.noRows(primary: nil)))
  }

  @Test func leaderMustBeReachableAndWritable() {
    let unreachable = [down("a"), up("b", recovery: true, row: (100, "a")), down("c")]
    #expect(outcome(unreachable) == .hold(.leaderUnreachable("a")))
    let inRecovery = [up("a", recovery: true, row: (100, "a")), down("b"), down("c")]
    #expect(outcome(inRecovery) == .hold(.leaderInRecovery("a")))
    let relaxed = DecisionPolicy(requireWritableLeader: false)
    #expect(outcome(unreachable, policy: relaxed) == .follow(leader: "a", standby: "b"))
  }

  @Test func rowsNamingUnknownHostsAreIgnoredWithAWarning() {
    var evidence = [up("a", recovery: false, row: (100, "a")), down("b"), down("c")]
    evidence[0].result = .success(
      Observation(
        inRecovery: false, newestRow: FailoverRow(unixtime: 100, host: "a"),
        newestUnknownRow: FailoverRow(unixtime: 500, host: "evil\nhost")))
    let decision = decide(evidence: evidence, nodes: nodes, previous: nil, policy: .init())
    #expect(decision.outcome == .follow(leader: "a", standby: nil))
    #expect(
      decision.warnings.map(\.text) == [
        "row (500, \"evil\\u{a}host\") seen on a names a host that is not a configured node; ignored"
      ])
    let onlyUnknown = [up("a", recovery: false, row: (900, "zzz")), down("b"), down("c")]
    #expect(outcome(onlyUnknown) == .hold(.noRows(primary: "a")))
  }

  @Test func neverSwitchesBackToAnOlderRow() {
    let previous = AppliedLeader(name: "b", unixtime: 200)
    let staleOnly = [up("a", recovery: false, row: (100, "a")), down("b"), down("c")]
    #expect(
      outcome(staleOnly, previous: previous)
        == .hold(.olderThanApplied(row: FailoverRow(unixtime: 100, host: "a"), applied: previous)))
  }

  @Test func splitBrainFollowsNewestOrHolds() {
    let evidence = [
      up("a", recovery: false, row: (100, "a")), up("b", recovery: false, row: (200, "b")),
      down("c"),
    ]
    let followed = decide(evidence: evidence, nodes: nodes, previous: nil, policy: .init())
    #expect(followed.outcome == .follow(leader: "b", standby: nil))
    #expect(followed.splitBrain == ["a", "b"])
    let held = DecisionPolicy(splitBrain: .hold)
    #expect(outcome(evidence, policy: held) == .hold(.splitBrain(["a", "b"])))
  }

  @Test func splitBrainWhoseNewestRowNamesANonWritableNodeHolds() {
    let evidence = [
      up("a", recovery: false, row: (300, "c")), up("b", recovery: false, row: (200, "b")),
      up("c", recovery: true, row: (300, "c")),
    ]
    #expect(outcome(evidence) == .hold(.leaderInRecovery("c")))
  }

  @Test func tiesPreferAppliedThenWritableThenConfigOrder() {
    let tie = [
      up("a", recovery: true, row: (100, "c")), up("b", recovery: true, row: (100, "b")),
      up("c", recovery: false, row: (100, "c")),
    ]
    #expect(outcome(tie) == .follow(leader: "c", standby: "a"))
    let noneWritable = DecisionPolicy(requireWritableLeader: false)
    let bothStandby = [
      up("a", recovery: true, row: (100, "c")), up("b", recovery: true, row: (100, "b")), down("c"),
    ]
    #expect(outcome(bothStandby, policy: noneWritable) == .follow(leader: "b", standby: "a"))
    let applied = AppliedLeader(name: "c", unixtime: 100)
    #expect(
      outcome(bothStandby, previous: applied, policy: noneWritable)
        == .follow(leader: "c", standby: "a"))
  }

  @Test func everyDecisionCarriesReasonAndEvidence() {
    let evidence = [up("a", recovery: false, row: (100, "a")), down("b"), down("c")]
    let decision = decide(evidence: evidence, nodes: nodes, previous: nil, policy: .init())
    #expect(decision.evidence == evidence)
    #expect(decision.reason == "the newest row (100, a) names a, which is reachable and writable")
    let held = decide(evidence: [down("a")], nodes: nodes, previous: nil, policy: .init())
    #expect(held.reason == "no node is reachable")
  }
}
