package import PGFollowCore
package import PGFollowSystem

/// The latest evidence of every node, each stamped with when it was taken. Node watchers publish
/// to it; the sidecar decides over a snapshot of it and never waits for a node.
package final class EvidenceBoard: Sendable {
  struct Entry: Sendable {
    var evidence: NodeEvidence
    /// When the probe behind an answer was sent (the node's state is at least this recent), or
    /// when a failure was seen.
    var takenAt: ContinuousClock.Instant
    /// Counts the node's publications.
    var sequence: Int
    /// A probe sent since has missed the query timeout, and its answer is still awaited; whether
    /// it reached the node's host (TCP acknowledged it: the server is slow or frozen, not the
    /// network).
    var late: LateProbe?
  }

  private struct State {
    var entries: [String: Entry] = [:]
    /// When each node's probes were late, over the last `lateMemory`.
    var lateTimes: [String: [ContinuousClock.Instant]] = [:]
    /// Counts the publications that changed what a decision would see.
    var version = 0
  }

  private let state = Locked(State())
  private let freshFor: Locked<Duration>
  private let published: @Sendable () -> Void

  /// `published` is called after every publication (from the publishing watcher's thread).
  package init(freshFor: Duration, published: @escaping @Sendable () -> Void = {}) {
    self.freshFor = Locked(freshFor)
    self.published = published
  }

  /// How long evidence counts once taken.
  package var freshness: Duration {
    get { freshFor.withLock { $0 } }
    set { freshFor.withLock { $0 = newValue } }
  }

  package func publish(_ evidence: NodeEvidence, takenAt: ContinuousClock.Instant) {
    let freshFor = freshness
    let published = state.withLock { state -> Bool in
      let previous = state.entries[evidence.node]
      // Two watchers of one node (a hedge): what is older than the board's evidence of the
      // node (an answer to a probe sent before the other's answer or failure) adds nothing.
      if let previous, previous.takenAt > takenAt { return false }
      if previous.map({ !sameVerdict($0.evidence, evidence) || isStale($0, freshFor) }) ?? true {
        state.version += 1
      }
      state.entries[evidence.node] = Entry(
        evidence: evidence, takenAt: takenAt, sequence: (previous?.sequence ?? 0) + 1)
      return true
    }
    if published { self.published() }
  }

  /// The node's probe missed the query timeout; its evidence stands until it is no longer
  /// fresh, and a late answer may still renew it.
  package func markLate(_ node: String, acknowledged: Bool = true) {
    let now = ContinuousClock.now
    state.withLock { state in
      state.lateTimes[node, default: []].removeAll { $0.duration(to: now) > Self.lateMemory }
      state.lateTimes[node, default: []].append(now)
      guard let entry = state.entries[node], entry.late == nil else { return }
      state.entries[node]?.late = acknowledged ? .acknowledged : .unacknowledged
      state.version += 1
    }
    published()
  }

  /// How long lateness is remembered.
  static let lateMemory = Duration.seconds(300)

  /// How many times `node`'s probes were late within `window` (at most `lateMemory`).
  package func lateCount(_ node: String, within window: Duration) -> Int {
    let now = ContinuousClock.now
    return state.withLock { state in
      state.lateTimes[node, default: []].filter { $0.duration(to: now) <= window }.count
    }
  }

  /// The nodes whose probe is late.
  package var lateNodes: [String] {
    state.withLock { state in state.entries.filter { $0.value.late != nil }.map(\.key).sorted() }
  }

  /// When the first of the answers that count now stops counting.
  package func nextExpiry() -> ContinuousClock.Instant? {
    let freshFor = freshness
    let now = ContinuousClock.now
    return state.withLock { state in
      state.entries.values.filter { $0.evidence.observation != nil }.map { $0.takenAt + freshFor }
        .filter { $0 > now }.min()
    }
  }

  func forget(_ node: String) {
    state.withLock { state in
      if state.entries.removeValue(forKey: node) != nil { state.version += 1 }
    }
  }

  /// Grows whenever a publication changes what a decision would see: a node's answer differs,
  /// it starts or stops answering, or it answers again after its evidence went stale.
  package var version: Int { state.withLock { $0.version } }

  /// How many times `node` has published.
  package func sequence(of node: String) -> Int {
    state.withLock { $0.entries[node]?.sequence ?? 0 }
  }

  /// Whether every one of `nodes` has published at least once.
  package func hasHeard(from nodes: [String]) -> Bool {
    state.withLock { state in nodes.allSatisfy { state.entries[$0] != nil } }
  }

  /// What a decision was made from: the evidence, and the board's marks when it was taken.
  package struct Snapshot: Sendable {
    package var evidence: [NodeEvidence]
    package var version: Int
    package var sequences: [String: Int]
  }

  /// The evidence of `nodes`, in their order, as a decision may use it now: evidence older than
  /// `freshness` counts as unreachable, and so does a node not heard from yet.
  package func snapshot(_ nodes: [String], now: ContinuousClock.Instant = .now) -> Snapshot {
    let freshFor = freshness
    let (entries, version) = state.withLock { ($0.entries, $0.version) }
    let evidence = nodes.map { node in
      guard let entry = entries[node] else {
        return NodeEvidence(
          node: node, result: .failure(ProbeFailure(stage: .connect, message: "no answer yet")),
          latencyMilliseconds: 0)
      }
      let age = entry.takenAt.duration(to: now)
      guard age > freshFor, entry.evidence.observation != nil else { return entry.evidence }
      var stale = entry.evidence
      let freshness =
        "the last answer is \(formatDuration(age)) old, more than \(formatDuration(freshFor))"
      stale.result = .failure(
        entry.late == .acknowledged
          ? ProbeFailure(
            stage: .slow,
            message: "connected; its probe reached the host and is unanswered: " + freshness)
          : ProbeFailure(stage: .timeout, message: "no fresh answer: " + freshness))
      return stale
    }
    return Snapshot(
      evidence: evidence, version: version, sequences: entries.mapValues(\.sequence))
  }
}

enum LateProbe: Sendable {
  case acknowledged, unacknowledged
}

/// Whether two pieces of evidence lead a decision the same way: the same answer but for where
/// the node's WAL stands on the same timeline (a primary taking writes moves it at every answer,
/// and no decision reads it), or a failure at the same stage (a failure's wording may change from
/// one attempt to the next).
private func sameVerdict(_ old: NodeEvidence, _ new: NodeEvidence) -> Bool {
  switch (old.result, new.result) {
  case (.success(let a), .success(let b)): a.decisionView == b.decisionView
  case (.failure(let a), .failure(let b)): a.stage == b.stage
  default: false
  }
}

private func isStale(_ entry: EvidenceBoard.Entry, _ freshFor: Duration) -> Bool {
  entry.takenAt.duration(to: .now) > freshFor
}
