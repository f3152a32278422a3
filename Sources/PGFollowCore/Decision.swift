/// What to do about split brain (two writable nodes at once).
package enum SplitBrainPolicy: String, Sendable, Hashable, CaseIterable {
  /// Follow the node named by the newest row, if it is one of the writable nodes.
  case followNewest = "follow-newest"
  /// Keep the application where it is until only one node is writable.
  case hold
}

package struct DecisionPolicy: Sendable, Hashable {
  /// The leader must be reachable and not in recovery right now.
  package var requireWritableLeader: Bool
  package var splitBrain: SplitBrainPolicy
  /// A node promoted later than the newest row's leader, with no row naming it, is followed once
  /// it has stayed so this long; nil (the default) never follows it.
  package var followUnrecordedPromotion: Duration?

  package init(
    requireWritableLeader: Bool = true, splitBrain: SplitBrainPolicy = .followNewest,
    followUnrecordedPromotion: Duration? = nil
  ) {
    self.requireWritableLeader = requireWritableLeader
    self.splitBrain = splitBrain
    self.followUnrecordedPromotion = followUnrecordedPromotion
  }
}

/// The leader most recently applied to the application, with the row that named it.
package struct AppliedLeader: Sendable, Hashable {
  package var name: String
  package var unixtime: Int64
  /// The row's recorded history, when the table has the columns for it.
  package var recorded: HistoryPosition?
  /// Where the leader's own history stood when it was last followed: its timeline.
  package var position: HistoryPosition?
  /// Set when the leader was followed as an unrecorded promotion: the timeline of the node the
  /// row names, which it was promoted after.
  package var overTimeline: Int64?

  package init(
    name: String, unixtime: Int64, recorded: HistoryPosition? = nil,
    position: HistoryPosition? = nil, overTimeline: Int64? = nil
  ) {
    self.name = name
    self.unixtime = unixtime
    self.recorded = recorded
    self.position = position
    self.overTimeline = overTimeline
  }

  package var row: FailoverRow { FailoverRow(unixtime: unixtime, host: name, recorded: recorded) }

  /// The position to keep for a leader followed again: the one kept while the leader stays in the
  /// same cluster on the same timeline (its WAL position then moves at every write, and nothing
  /// reads it), else the one seen.
  package static func keptPosition(_ kept: HistoryPosition?, seen: HistoryPosition?)
    -> HistoryPosition?
  {
    guard let seen else { return kept }
    guard let kept, kept.systemIdentifier == seen.systemIdentifier,
      kept.timeline == seen.timeline
    else { return seen }
    return kept
  }
}

/// A node writable on a later timeline than the newest row's leader, which no row names: promoted
/// (by a tool or a person) with no row recorded, or a row whose clock is behind.
package struct UnrecordedPromotion: Sendable, Hashable, CustomStringConvertible {
  package var node: String
  package var timeline: Int64
  /// The newest row's leader, and the timeline it is known to be on.
  package var rowLeader: String
  package var rowLeaderTimeline: Int64

  package init(node: String, timeline: Int64, rowLeader: String, rowLeaderTimeline: Int64) {
    self.node = node
    self.timeline = timeline
    self.rowLeader = rowLeader
    self.rowLeaderTimeline = rowLeaderTimeline
  }

  package var description: String {
    "\(node) is writable on timeline \(timeline), later than the timeline \(rowLeaderTimeline) of "
      + "\(rowLeader), which the newest row names: \(node) was promoted and no row names it (or "
      + "its row's clock is behind; `pgfollow init` adds the columns that order rows without "
      + "clocks)"
  }
}

package enum HoldReason: Sendable, Hashable {
  case noNodeReachable
  /// No row names a configured node; `primary` is the one writable node, if there is one.
  case noRows(primary: String?)
  case leaderUnreachable(String)
  case leaderInRecovery(String)
  case splitBrain([String])
  case olderThanApplied(row: FailoverRow, applied: AppliedLeader)
  /// The row's leader is writable, and so is a node on a later timeline that no row names.
  case supersededLeader(String, by: UnrecordedPromotion)
  /// The row's leader is on an earlier timeline than the applied leader was: a stale primary.
  case staleTimeline(String, timeline: Int64, applied: AppliedLeader, appliedTimeline: Int64)
}

package struct Decision: Sendable, Hashable {
  package enum Outcome: Sendable, Hashable {
    case follow(leader: String, standby: String?)
    case hold(HoldReason)
  }

  package var outcome: Outcome
  /// The newest row that names a configured node, if any.
  package var newestRow: FailoverRow?
  /// Nodes that are writable at once, when there are two or more.
  package var splitBrain: [String]
  /// A node promoted later than the newest row's leader, that no row names.
  package var unrecordedPromotion: UnrecordedPromotion?
  /// How long an unrecorded promotion may last before it is a warning: failover tools record
  /// within seconds (repmgr a second after its promotion, pg_keeper's `sleep`).
  package static let unrecordedPromotionWarningDelay: Duration = .seconds(10)
  /// Set when the leader is that promotion, followed after its grace period.
  package var followsUnrecordedPromotion = false
  /// The healthy standbys (in recovery and receiving WAL), in configuration order, when
  /// following a leader.
  package var standbys: [String] = []
  package var warnings: [DecisionWarning]
  package var evidence: [NodeEvidence]

  package var leader: String? {
    if case .follow(let leader, _) = outcome { return leader }
    return nil
  }

  /// One sentence saying why.
  package var reason: String {
    switch outcome {
    case .follow(let leader, _) where followsUnrecordedPromotion:
      return "\(leader) was promoted later than the newest row's leader and has stayed writable "
        + "past policy.follow_unrecorded_promotion; followed with no row naming it"
    case .follow(let leader, _):
      let row = newestRow.map { "the newest row \($0) names \(leader)" } ?? leader
      let split = splitBrain.isEmpty ? "" : "; split brain: \(splitBrain.joined(separator: ", "))"
      return "\(row), which is reachable and writable\(split)"
    case .hold(let reason):
      return reason.description(newest: newestRow)
    }
  }
}

/// Decides the leader from one cycle's evidence. Pure: no I/O, no clock.
///
/// The leader is the node named by the newest row seen on any reachable node, rows ordered by
/// `HistoryOrder` (their recorded timeline and WAL position, their timestamp last). When two
/// writable nodes of one cluster are on different timelines, the later one wins whatever the
/// rows' clocks say. Rows that tie go to the one already applied, then to a node writable now,
/// then to the node listed first in the configuration.
package func decide(
  evidence: [NodeEvidence], nodes: [String], previous: AppliedLeader?, policy: DecisionPolicy
) -> Decision {
  let order = HistoryOrder(evidence)
  var decision = Decision(
    outcome: .hold(.noNodeReachable), newestRow: nil, splitBrain: [], unrecordedPromotion: nil,
    warnings: unknownHostWarnings(evidence, nodes: nodes) + superuserWarnings(evidence)
      + tableWarnings(evidence)
      + order.warnings(evidence),
    evidence: evidence)
  let reachable = evidence.filter { $0.observation != nil }
  guard !reachable.isEmpty else { return decision }
  guard var row = newestRow(reachable, nodes: nodes, previous: previous, order: order) else {
    let writable = reachable.filter(\.isWritable).map(\.node)
    decision.outcome = .hold(.noRows(primary: writable.count == 1 ? writable.first : nil))
    return decision
  }
  let writable = evidence.filter(\.isWritable).map(\.node)
  if writable.count > 1 { decision.splitBrain = writable }
  if let latest = order.latestPromoted(evidence), latest.node != row.host,
    let rowTimeline = order.knownTimeline(of: row, evidence, previous: previous),
    latest.timeline > rowTimeline
  {
    let own = evidence.first { $0.node == latest.node }?.observation?.newestRow
    if writable.contains(row.host), let own, own.host == latest.node {
      row = own
    } else {
      // Said as a warning by the caller once it has lasted: a row often comes a moment later.
      decision.unrecordedPromotion = UnrecordedPromotion(
        node: latest.node, timeline: latest.timeline, rowLeader: row.host,
        rowLeaderTimeline: rowTimeline)
    }
  }
  decision.newestRow = row
  decision.outcome = outcome(
    leader: row, writable: writable, evidence: evidence, nodes: nodes, previous: previous,
    policy: policy, order: order, unrecorded: decision.unrecordedPromotion)
  if case .follow(let leader, _) = decision.outcome {
    decision.standbys = healthyStandbys(evidence, nodes: nodes, leader: leader)
  }
  return decision
}

private func outcome(
  leader row: FailoverRow, writable: [String], evidence: [NodeEvidence], nodes: [String],
  previous: AppliedLeader?, policy: DecisionPolicy, order: HistoryOrder,
  unrecorded: UnrecordedPromotion?
) -> Decision.Outcome {
  if let stale = order.staleTimeline(of: row.host, evidence, previous: previous) {
    return .hold(stale)
  }
  if let previous, order.isOlder(row, than: previous.row) {
    return .hold(.olderThanApplied(row: row, applied: previous))
  }
  if writable.count > 1, policy.splitBrain == .hold {
    return .hold(.splitBrain(writable))
  }
  if let unrecorded, writable.contains(row.host) {
    return .hold(.supersededLeader(row.host, by: unrecorded))
  }
  let leaderEvidence = evidence.first { $0.node == row.host }
  if policy.requireWritableLeader {
    guard let observation = leaderEvidence?.observation else {
      return .hold(.leaderUnreachable(row.host))
    }
    if observation.inRecovery { return .hold(.leaderInRecovery(row.host)) }
  }
  let standbys = healthyStandbys(evidence, nodes: nodes, leader: row.host)
  return .follow(leader: row.host, standby: standbys.first)
}

extension Decision {
  /// This decision, but following its unrecorded promotion: what `policy.follow_unrecorded_
  /// promotion` does once the promotion has lasted its grace period.
  package func followingUnrecordedPromotion(nodes: [String]) -> Decision {
    guard let promotion = unrecordedPromotion else { return self }
    var decision = self
    decision.standbys = healthyStandbys(evidence, nodes: nodes, leader: promotion.node)
    decision.outcome = .follow(leader: promotion.node, standby: decision.standbys.first)
    decision.followsUnrecordedPromotion = true
    return decision
  }
}

/// The nodes other than the leader that are in recovery and receiving WAL, in configuration
/// order. A standby that still follows a dead primary receives nothing and is left out.
private func healthyStandbys(_ evidence: [NodeEvidence], nodes: [String], leader: String)
  -> [String]
{
  nodes.filter { name in
    name != leader && evidence.contains { $0.node == name && $0.isHealthyStandby }
  }
}

private func newestRow(
  _ reachable: [NodeEvidence], nodes: [String], previous: AppliedLeader?, order: HistoryOrder
) -> FailoverRow? {
  let rows = reachable.compactMap { $0.observation?.newestRow }.filter { nodes.contains($0.host) }
  guard let newest = rows.max(by: { order.isOlder($0, than: $1) }) else { return nil }
  let tied = rows.filter { order.isTied($0, newest) }
  let writable = Set(reachable.filter(\.isWritable).map(\.node))
  let preferred =
    previous.flatMap { applied in tied.first { $0.host == applied.name } }
    ?? nodes.lazy.compactMap { name in tied.first { $0.host == name && writable.contains(name) } }
    .first
    ?? nodes.lazy.compactMap { name in tied.first { $0.host == name } }.first
  return preferred
}
