import PGFollowCore
import PGFollowDaemon
import Testing

/// The sidecar's evidence: an answer counts only while fresh, and stale evidence can never make
/// pgfollow follow, or stay on, a node it could not just check. No server needed.
@Suite struct EvidenceBoardTests {
  private let nodes = ["node1", "node2"]
  private let freshFor = Duration.milliseconds(2100)

  private func answer(_ node: String, writable: Bool, row: FailoverRow?) -> NodeEvidence {
    NodeEvidence(
      node: node,
      result: .success(
        Observation(inRecovery: !writable, walReceiverActive: !writable, newestRow: row)),
      latencyMilliseconds: 1)
  }

  private func decision(_ evidence: [NodeEvidence], applied: AppliedLeader? = nil) -> Decision {
    decide(evidence: evidence, nodes: nodes, previous: applied, policy: DecisionPolicy())
  }

  @Test func anAnswerCountsWhileFreshAndThenAsUnreachable() {
    let board = EvidenceBoard(freshFor: freshFor)
    let taken = ContinuousClock.now
    let row = FailoverRow(unixtime: 100, host: "node2")
    board.publish(answer("node2", writable: true, row: row), takenAt: taken)
    board.publish(answer("node1", writable: false, row: row), takenAt: taken)
    let fresh = board.snapshot(nodes, now: taken + freshFor).evidence
    #expect(decision(fresh).leader == "node2")
    let stale = board.snapshot(nodes, now: taken + freshFor + .milliseconds(1)).evidence
    #expect(stale.allSatisfy { $0.observation == nil })
    #expect(stale.first { $0.node == "node2" }?.result.failureStage == .timeout)
    #expect(decision(stale).leader == nil)
  }

  @Test func staleEvidenceOfTheNewLeaderNeverSwitchesAndNeverKeepsTheOldOne() {
    let board = EvidenceBoard(freshFor: freshFor)
    let start = ContinuousClock.now
    let newRow = FailoverRow(unixtime: 200, host: "node2")
    // node2's promotion was seen once, long ago; node1 answers now, as a standby with the row.
    board.publish(answer("node2", writable: true, row: newRow), takenAt: start)
    let now = start + .seconds(5)
    board.publish(answer("node1", writable: false, row: newRow), takenAt: now)
    let applied = AppliedLeader(name: "node1", unixtime: 100)
    let outcome = decision(board.snapshot(nodes, now: now).evidence, applied: applied).outcome
    #expect(outcome == .hold(.leaderUnreachable("node2")))
    // The old leader, stale too, is not followed either: the file stays as it is.
    let later = now + freshFor + .milliseconds(1)
    #expect(decision(board.snapshot(nodes, now: later).evidence, applied: applied).leader == nil)
  }

  @Test func aLateProbeKeepsTheAnswerAndCountsAsAChange() {
    let board = EvidenceBoard(freshFor: freshFor)
    let taken = ContinuousClock.now
    let evidence = answer("node1", writable: true, row: FailoverRow(unixtime: 1, host: "node1"))
    board.publish(evidence, takenAt: taken)
    let before = board.version
    board.publish(evidence, takenAt: taken + .milliseconds(10))
    #expect(board.version == before, "the same answer again changes nothing a decision sees")
    #expect(board.sequence(of: "node1") == 2, "but it is a new answer, for confirmations")
    board.markLate("node1")
    #expect(board.version == before + 1)
    #expect(board.lateNodes == ["node1"])
    #expect(board.snapshot(nodes, now: taken + .seconds(1)).evidence[0] == evidence)
    board.publish(evidence, takenAt: taken + .seconds(2))
    #expect(board.lateNodes.isEmpty)
  }

  /// A primary taking writes answers with a new WAL position every time: no decision reads it,
  /// so it is no change; a new timeline is.
  @Test func aMovingWALPositionIsNoChangeANewTimelineIs() {
    let board = EvidenceBoard(freshFor: freshFor)
    let taken = ContinuousClock.now
    func primary(timeline: Int64, lsn: UInt64) -> NodeEvidence {
      var evidence = answer("node1", writable: true, row: FailoverRow(unixtime: 1, host: "node1"))
      evidence.result = .success(
        Observation(
          inRecovery: false, newestRow: FailoverRow(unixtime: 1, host: "node1"),
          position: HistoryPosition(systemIdentifier: "7", timeline: timeline, lsn: lsn)))
      return evidence
    }
    board.publish(primary(timeline: 1, lsn: 100), takenAt: taken)
    let before = board.version
    for step in 1...50 {
      board.publish(primary(timeline: 1, lsn: 100 + UInt64(step) * 8192), takenAt: taken)
    }
    #expect(board.version == before, "a WAL position moving on one timeline changed the evidence")
    // Compared unwrapped: ASan reads past an optional UInt64 boxed for #expect's message.
    let shown = board.snapshot(nodes, now: taken).evidence[0].observation?.position?.lsn ?? 0
    #expect(shown == 100 + 50 * 8192, "status shows the newest position all the same")
    board.publish(primary(timeline: 2, lsn: 100), takenAt: taken)
    #expect(board.version == before + 1)
  }

  @Test func aNodeNotHeardFromIsUnreachable() {
    let board = EvidenceBoard(freshFor: freshFor)
    let snapshot = board.snapshot(nodes)
    #expect(snapshot.evidence.map(\.node) == nodes)
    #expect(snapshot.evidence.allSatisfy { $0.observation == nil })
    #expect(!board.hasHeard(from: nodes))
  }
}

extension Result where Failure == ProbeFailure {
  fileprivate var failureStage: ProbeFailure.Stage? {
    if case .failure(let failure) = self { return failure.stage }
    return nil
  }
}

/// `once`'s confirming probes ask again only the nodes that answered: a silent node is paid for
/// once, whatever the number of confirmations.
@Suite struct ConfirmingProberTests {
  final class CountingProber: Prober, @unchecked Sendable {
    var asked: [[String]] = []
    func probe(_ config: Config) async -> [NodeEvidence] {
      asked.append(config.nodeNames)
      return config.nodes.map { node in
        node.name == "silent"
          ? NodeEvidence(
            node: node.name,
            result: .failure(ProbeFailure(stage: .timeout, message: "no answer")),
            latencyMilliseconds: 1000)
          : NodeEvidence(
            node: node.name, result: .success(Observation(inRecovery: false, newestRow: nil)),
            latencyMilliseconds: 1)
      }
    }
  }

  @Test func aSilentNodeIsAskedOnceAndKeepsItsFailure() async {
    let nodes = ["a", "silent", "b"].map {
      NodeConfig(name: $0, conninfo: "host=\($0)", address: "\($0):5432")
    }
    let config = Config(nodes: nodes, app: AppConfig(file: "/dev/null", values: []))
    let base = CountingProber()
    let prober = ConfirmingProber(base)
    for _ in 0..<3 {
      let evidence = await prober.probe(config)
      #expect(evidence.map(\.node) == ["a", "silent", "b"])
      #expect(evidence[1].observation == nil && evidence[0].observation != nil)
    }
    #expect(base.asked == [["a", "silent", "b"], ["a", "b"], ["a", "b"]])
  }
}

extension EvidenceBoardTests {
  /// With two watchers of a node, the newest evidence stands: an answer to a probe sent before
  /// the other watcher's answer or failure is dropped.
  @Test func olderEvidenceNeverReplacesNewer() {
    let board = EvidenceBoard(freshFor: freshFor)
    let start = ContinuousClock.now
    let row = FailoverRow(unixtime: 1, host: "node1")
    let failure = NodeEvidence(
      node: "node1", result: .failure(ProbeFailure(stage: .query, message: "server closed")),
      latencyMilliseconds: 1)
    board.publish(failure, takenAt: start + .milliseconds(500))
    board.publish(answer("node1", writable: true, row: row), takenAt: start)
    #expect(board.snapshot(nodes, now: start + .seconds(1)).evidence[0] == failure)
    #expect(board.sequence(of: "node1") == 1)
    board.publish(answer("node1", writable: true, row: row), takenAt: start + .seconds(1))
    #expect(board.snapshot(nodes, now: start + .seconds(1)).evidence[0].observation != nil)
  }
}
