package import PGFollowCore

/// What `check-config` found at one node: it answers, it cannot work as configured (an error),
/// or it does not answer now (a warning: a node may be down while you check).
package struct NodeCheck: Sendable, Equatable, CustomStringConvertible {
  package enum Verdict: Sendable, Equatable {
    /// `slow`: connected, and its answer came after the query timeout.
    case answers, cannotWork, unreachable, slow
  }

  package var node: String
  package var verdict: Verdict
  package var detail: String
  /// Why the node turned pgfollow away, when it did.
  package var refusal: ProbeFailure.Refusal?

  package init(
    node: String, verdict: Verdict, detail: String, refusal: ProbeFailure.Refusal? = nil
  ) {
    self.node = node
    self.verdict = verdict
    self.detail = detail
    self.refusal = refusal
  }

  /// A refusal for something that does not exist (yet): on a standby, it may be replication lag.
  package var mayBeReplicationLag: Bool { verdict == .cannotWork && refusal == .missing }

  package var description: String {
    switch verdict {
    case .answers: "node \(node): answers, \(detail)"
    case .cannotWork: "node \(node): \(detail)"
    case .slow: "node \(node) does not answer in time: \(detail)"
    case .unreachable: "node \(node) unreachable now: \(detail)"
    }
  }
}

/// Judges each node's evidence as `check-config` reports it.
package func checkNodes(_ evidence: [NodeEvidence]) -> [NodeCheck] {
  evidence.map { item in
    switch item.result {
    case .success(let observation):
      let role = observation.inRecovery ? "a standby" : "writable (a primary)"
      let timeline = observation.position.map { " on timeline \($0.timeline)" } ?? ""
      let row = observation.newestRow.map { "; the newest row is \($0)" } ?? "; no row names a node"
      return NodeCheck(node: item.node, verdict: .answers, detail: role + timeline + row)
    case .failure(let failure):
      return NodeCheck(
        node: item.node, verdict: verdict(failure), detail: failure.message,
        refusal: failure.refusal)
    }
  }
}

/// A node that answered with a refusal cannot work as configured; silence, a refused TCP
/// connection, a full server or a pooler without its server may be passing.
private func verdict(_ failure: ProbeFailure) -> NodeCheck.Verdict {
  switch failure.stage {
  case .query: return .cannotWork
  case .timeout, .noSlot, .pooler: return .unreachable
  case .slow: return .slow
  case .connect: return failure.refusal == nil ? .unreachable : .cannotWork
  }
}
