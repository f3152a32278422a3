/// How pgfollow orders what it sees without trusting any clock. Within one cluster (one system
/// identifier) a promotion always starts a timeline with a higher ID, and WAL positions grow
/// along a timeline, so a row recorded with its timeline and WAL position (the columns
/// `pgfollow init` adds, filled by the server whoever inserts the row) is ordered by them, its
/// timestamp breaking ties only. A row without them (the seed's two-column table), or one
/// recorded in another cluster (a rebuild, a restored dump), is ordered by its timestamp.
package struct HistoryOrder {
  /// The one system identifier every reachable node reports, if they agree.
  let cluster: String?
  /// Each system identifier reported, with its nodes, when they do not agree.
  let clusters: [(systemIdentifier: String, nodes: [String])]

  package init(_ evidence: [NodeEvidence]) {
    var clusters: [(systemIdentifier: String, nodes: [String])] = []
    for item in evidence {
      guard let identifier = item.observation?.position?.systemIdentifier else { continue }
      if let index = clusters.firstIndex(where: { $0.systemIdentifier == identifier }) {
        clusters[index].nodes.append(item.node)
      } else {
        clusters.append((identifier, [item.node]))
      }
    }
    self.clusters = clusters
    cluster = clusters.count == 1 ? clusters[0].systemIdentifier : nil
  }

  /// Whether the row was recorded in the cluster every node reports: then its history orders it.
  func isRecordedHere(_ row: FailoverRow) -> Bool {
    guard let cluster, let recorded = row.recorded else { return false }
    return recorded.systemIdentifier == cluster
  }

  /// A recorded row is newer than any that is not (those predate the columns); recorded rows go
  /// by timeline, then WAL position; the timestamp comes last.
  package func isOlder(_ a: FailoverRow, than b: FailoverRow) -> Bool {
    key(a) < key(b)
  }

  func isTied(_ a: FailoverRow, _ b: FailoverRow) -> Bool { key(a) == key(b) }

  private func key(_ row: FailoverRow) -> (Int, Int64, UInt64, Int64) {
    guard isRecordedHere(row), let recorded = row.recorded else { return (0, 0, 0, row.unixtime) }
    return (1, recorded.timeline, recorded.lsn, row.unixtime)
  }

  /// The writable node on the highest timeline, when every writable node is in this cluster and
  /// no other shares that timeline: the one promoted last.
  func latestPromoted(_ evidence: [NodeEvidence]) -> (node: String, timeline: Int64)? {
    guard let cluster else { return nil }
    let writable = evidence.filter(\.isWritable).map { ($0.node, $0.observation?.position) }
    guard writable.allSatisfy({ $0.1?.systemIdentifier == cluster }) else { return nil }
    let timelines = writable.compactMap { node, position in position.map { (node, $0.timeline) } }
    guard let top = timelines.max(by: { $0.1 < $1.1 }),
      timelines.filter({ $0.1 == top.1 }).count == 1
    else { return nil }
    return top
  }

  /// The timeline `row`'s leader is known to be on: its own, if it answers; the row's recorded
  /// one; or the one it was on when last followed.
  func knownTimeline(of row: FailoverRow, _ evidence: [NodeEvidence], previous: AppliedLeader?)
    -> Int64?
  {
    let live = evidence.first { $0.node == row.host }?.observation?.position
    if let live, live.systemIdentifier == cluster { return live.timeline }
    if isRecordedHere(row) { return row.recorded?.timeline }
    guard let previous else { return nil }
    // Followed past this very row as an unrecorded promotion: the row's leader stays behind.
    if previous.name != row.host, isTied(row, previous.row), let over = previous.overTimeline {
      return over
    }
    guard previous.name == row.host, let position = previous.position,
      position.systemIdentifier == cluster
    else { return nil }
    return position.timeline
  }

  /// Set when `node` is on an earlier timeline than the applied leader was, in this cluster: a
  /// node the cluster has moved on from can never be its newest primary.
  func staleTimeline(of node: String, _ evidence: [NodeEvidence], previous: AppliedLeader?)
    -> HoldReason?
  {
    guard let cluster, let previous, previous.name != node,
      let applied = previous.position, applied.systemIdentifier == cluster,
      let live = evidence.first(where: { $0.node == node })?.observation, !live.inRecovery,
      let position = live.position, position.systemIdentifier == cluster,
      position.timeline < applied.timeline
    else { return nil }
    return .staleTimeline(
      node, timeline: position.timeline, applied: previous, appliedTimeline: applied.timeline)
  }

  /// Said when the clusters differ, or a node's newest row was recorded in another cluster.
  func warnings(_ evidence: [NodeEvidence]) -> [DecisionWarning] {
    if clusters.count > 1 {
      let list = clusters.map { "\($0.nodes.joined(separator: ", ")): \($0.systemIdentifier)" }
      return [
        DecisionWarning(
          .clustersDiffer, about: list.joined(separator: "; "),
          "the nodes report different system identifiers (\(list.joined(separator: "; "))): a "
            + "cluster rebuilt, re-initialised or restored from a dump; rows are ordered by their "
            + "timestamps, whose clocks must then be right")
      ]
    }
    guard let cluster else { return [] }
    let foreign = evidence.compactMap { item -> String? in
      guard let row = item.observation?.newestRow, let recorded = row.recorded,
        recorded.systemIdentifier != cluster
      else { return nil }
      return "\(row) on \(item.node) (system identifier \(recorded.systemIdentifier))"
    }
    guard !foreign.isEmpty else { return [] }
    return [
      DecisionWarning(
        .foreignRow, about: foreign.joined(separator: "; "),
        "the newest row was recorded in another cluster than this one (\(cluster)): "
          + foreign.joined(separator: "; ") + "; a rebuild or a restored dump? It is ordered by "
          + "its timestamp until a row is recorded here")
    ]
  }
}
