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

  package init(requireWritableLeader: Bool = true, splitBrain: SplitBrainPolicy = .followNewest) {
    self.requireWritableLeader = requireWritableLeader
    self.splitBrain = splitBrain
  }
}

/// The leader most recently applied to the application, with the row that named it.
package struct AppliedLeader: Sendable, Hashable {
  package var name: String
  package var unixtime: Int64

  package init(name: String, unixtime: Int64) {
    self.name = name
    self.unixtime = unixtime
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
  /// The healthy standbys (in recovery and receiving WAL), in configuration order, when
  /// following a leader.
  package var standbys: [String] = []
  package var warnings: [String]
  package var evidence: [NodeEvidence]

  package var leader: String? {
    if case .follow(let leader, _) = outcome { return leader }
    return nil
  }

  /// One sentence saying why.
  package var reason: String {
    switch outcome {
    case .follow(let leader, _):
      let row = newestRow.map { "the newest row \($0) names \(leader)" } ?? leader
      let split = splitBrain.isEmpty ? "" : "; split brain: \(splitBrain.joined(separator: ", "))"
      return "\(row), which is reachable and writable\(split)"
    case .hold(let reason):
      return reason.description(newest: newestRow)
    }
  }
}

extension HoldReason: CustomStringConvertible {
  package var description: String { description(newest: nil) }

  /// Names the newest row when known, so that a row from a wrong clock is easy to spot.
  func description(newest row: FailoverRow?) -> String {
    let newest = row.map { "the newest row \($0)" } ?? "the newest row"
    return switch self {
    case .noNodeReachable: "no node is reachable"
    case .noRows(let primary):
      "no node has a row naming a configured node: a new table stays empty until the current "
        + "primary is recorded; run `pgfollow record --name \(primary ?? "NAME")` on "
        + (primary ?? "the primary")
    case .leaderUnreachable(let name): "\(newest) names \(name), which is unreachable"
    case .leaderInRecovery(let name):
      "\(newest) names \(name), which is in recovery (not yet promoted?)"
    case .splitBrain(let names):
      "split brain: \(allWritable(names)); policy is hold"
    case .olderThanApplied(let row, let applied):
      "the newest visible row \(row) is older than the applied one "
        + "(\(applied.unixtime), \(applied.name)); not switching back"
    }
  }
}

/// Decides the leader from one cycle's evidence. Pure: no I/O, no clock.
///
/// The leader is the node named by the newest row seen on any reachable node. When rows of
/// different nodes share the newest timestamp, the one already applied wins, then a node that
/// is writable now, then the node listed first in the configuration.
package func decide(
  evidence: [NodeEvidence], nodes: [String], previous: AppliedLeader?, policy: DecisionPolicy
) -> Decision {
  var decision = Decision(
    outcome: .hold(.noNodeReachable), newestRow: nil, splitBrain: [],
    warnings: unknownHostWarnings(evidence, nodes: nodes) + superuserWarnings(evidence),
    evidence: evidence)
  let reachable = evidence.filter { $0.observation != nil }
  guard !reachable.isEmpty else { return decision }
  guard let row = newestRow(reachable, nodes: nodes, previous: previous) else {
    let writable = reachable.filter(\.isWritable).map(\.node)
    decision.outcome = .hold(.noRows(primary: writable.count == 1 ? writable.first : nil))
    return decision
  }
  decision.newestRow = row
  let writable = evidence.filter(\.isWritable).map(\.node)
  if writable.count > 1 { decision.splitBrain = writable }
  decision.outcome = outcome(
    leader: row, writable: writable, evidence: evidence, nodes: nodes, previous: previous,
    policy: policy)
  if case .follow(let leader, _) = decision.outcome {
    decision.standbys = healthyStandbys(evidence, nodes: nodes, leader: leader)
  }
  return decision
}

private func outcome(
  leader row: FailoverRow, writable: [String], evidence: [NodeEvidence], nodes: [String],
  previous: AppliedLeader?, policy: DecisionPolicy
) -> Decision.Outcome {
  if let previous, row.unixtime < previous.unixtime {
    return .hold(.olderThanApplied(row: row, applied: previous))
  }
  if writable.count > 1, policy.splitBrain == .hold {
    return .hold(.splitBrain(writable))
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

/// The nodes other than the leader that are in recovery and receiving WAL, in configuration
/// order. A standby that still follows a dead primary receives nothing and is left out.
private func healthyStandbys(_ evidence: [NodeEvidence], nodes: [String], leader: String)
  -> [String]
{
  nodes.filter { name in
    name != leader && evidence.contains { $0.node == name && $0.isHealthyStandby }
  }
}

private func newestRow(_ reachable: [NodeEvidence], nodes: [String], previous: AppliedLeader?)
  -> FailoverRow?
{
  let rows = reachable.compactMap { $0.observation?.newestRow }.filter { nodes.contains($0.host) }
  guard let newest = rows.map(\.unixtime).max() else { return nil }
  let tied = Set(rows.filter { $0.unixtime == newest }.map(\.host))
  let writable = Set(reachable.filter(\.isWritable).map(\.node))
  let preferred =
    previous.flatMap { tied.contains($0.name) ? $0.name : nil }
    ?? nodes.first { tied.contains($0) && writable.contains($0) }
    ?? nodes.first { tied.contains($0) }
  return preferred.map { FailoverRow(unixtime: newest, host: $0) }
}

private func unknownHostWarnings(_ evidence: [NodeEvidence], nodes: [String]) -> [String] {
  var seen: Set<FailoverRow> = []
  var warnings: [String] = []
  for item in evidence {
    guard let row = item.observation?.newestUnknownRow, !nodes.contains(row.host) else { continue }
    if seen.insert(row).inserted {
      warnings.append(
        "row (\(row.unixtime), \(quotedForLog(row.host))) seen on \(item.node) names a host "
          + "that is not a configured node; ignored")
    }
  }
  return warnings
}

/// A watcher that logs in as a superuser escapes its role's CONNECTION LIMIT and takes the slots
/// reserved for administrators: a fleet of them can lock the administrators out.
package func superuserWarnings(_ evidence: [NodeEvidence]) -> [String] {
  let nodes = evidence.filter { $0.observation?.superuser == true }.map(\.node)
  guard !nodes.isEmpty else { return [] }
  return [
    "pgfollow logs in to \(nodes.joined(separator: ", ")) as a superuser, which escapes any "
      + "CONNECTION LIMIT and takes the slots reserved for administrators; log in as the "
      + "watchers' role (pgfollow init --grant pgfollow --connection-limit N)"
  ]
}

/// A value from the database, made safe for a one-line message.
package func quotedForLog(_ text: String, limit: Int = 64) -> String {
  var out = "\""
  for scalar in text.unicodeScalars.prefix(limit) {
    switch scalar {
    case "\"", "\\": out += "\\\(scalar)"
    case " "..."~": out.unicodeScalars.append(scalar)
    default: out += "\\u{\(String(scalar.value, radix: 16))}"
    }
  }
  return out + (text.unicodeScalars.count > limit ? "…\"" : "\"")
}

/// "db01 and db02 are both writable", "db01, db02 and db03 are all writable".
package func allWritable(_ names: [String]) -> String {
  guard names.count > 2, let last = names.last else {
    return names.joined(separator: " and ") + " are both writable"
  }
  return names.dropLast().joined(separator: ", ") + " and \(last) are all writable"
}
