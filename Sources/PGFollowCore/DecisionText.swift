/// The decision in words: why it holds, and what it warns about.
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
      "the newest visible row \(row) is older than the applied one \(applied.row); not "
        + "switching back"
    case .staleTimeline(let name, let timeline, let applied, let appliedTimeline):
      "\(newest) names \(name), which is on timeline \(timeline), earlier than the timeline "
        + "\(appliedTimeline) of \(applied.name) that the application follows: a stale old "
        + "primary, whatever its clock says; not switching back"
    case .supersededLeader(let name, let promotion):
      "\(newest) names \(name), which is writable, but \(promotion.node) is writable on a later "
        + "timeline (\(promotion.timeline) against \(promotion.rowLeaderTimeline)) and no row "
        + "names it; not following either"
    }
  }
}

/// A warning beside a decision: what it is about (`kind` and `about`: the nodes, the row) tells
/// a repeat from a new one, whatever figures its text carries (a table's row count).
package struct DecisionWarning: Sendable, Hashable, CustomStringConvertible {
  package enum Kind: String, Sendable {
    case unknownHost, superuser, mistypedHistory, tableLacksIndexes, clustersDiffer, foreignRow
    case unrecordedPromotion
  }

  package var kind: Kind
  package var about: String
  package var text: String

  package init(_ kind: Kind, about: String, _ text: String) {
    self.kind = kind
    self.about = about
    self.text = text
  }

  package var description: String { text }

  /// What must change for the warning to be a new one.
  package var identity: [String] { [kind.rawValue, about] }
}

func unknownHostWarnings(_ evidence: [NodeEvidence], nodes: [String]) -> [DecisionWarning] {
  var seen: Set<FailoverRow> = []
  var warnings: [DecisionWarning] = []
  for item in evidence {
    guard let row = item.observation?.newestUnknownRow, !nodes.contains(row.host) else { continue }
    if seen.insert(row).inserted {
      warnings.append(
        DecisionWarning(
          .unknownHost, about: "\(row.unixtime) \(row.host) \(item.node)",
          "row (\(row.unixtime), \(quotedForLog(row.host))) seen on \(item.node) names a host "
            + "that is not a configured node; ignored"))
    }
  }
  return warnings
}

/// A failover table large enough to be felt, without the indexes that bound the probe: each probe
/// reads all of it on every node. Names the statements that fix it.
package func tableWarnings(_ evidence: [NodeEvidence]) -> [DecisionWarning] {
  let mistyped = evidence.filter { $0.observation?.table?.mistypedHistory == true }.map(\.node)
  let typeWarning =
    mistyped.isEmpty
    ? []
    : [
      DecisionWarning(
        .mistypedHistory, about: mistyped.joined(separator: " "),
        "the failover table on \(mistyped.joined(separator: ", ")) has timeline_id, wal_lsn and "
          + "system_identifier, but not as int8, pg_lsn and int8 (as `pgfollow init` makes "
          + "them): pgfollow does not read them, and orders rows by their timestamps")
    ]
  let found = evidence.compactMap { item in
    item.observation?.table.flatMap {
      $0.isLarge && !$0.missingIndexes.isEmpty ? (item.node, $0) : nil
    }
  }
  guard let largest = found.map(\.1).max(by: { ($0.estimatedRows ?? 0) < ($1.estimatedRows ?? 0) })
  else { return typeWarning }
  let missing = Array(Set(found.flatMap(\.1.missingIndexes))).sorted()
  let nodes = found.map(\.0).joined(separator: ", ")
  return typeWarning + [
    DecisionWarning(
      .tableLacksIndexes, about: "\(nodes) \(missing)",
      "\(largest.name) has \(largest.sizeText) on \(nodes) and lacks an index the probe needs, "
        + "so every probe reads all of it: run `pgfollow init` again, or: "
        + missing.map { $0 + ";" }.joined(separator: " "))
  ]
}

/// A watcher that logs in as a superuser escapes its role's CONNECTION LIMIT and takes the slots
/// reserved for administrators: a fleet of them can lock the administrators out.
package func superuserWarnings(_ evidence: [NodeEvidence]) -> [DecisionWarning] {
  let nodes = evidence.filter { $0.observation?.superuser == true }.map(\.node)
  guard !nodes.isEmpty else { return [] }
  return [
    DecisionWarning(
      .superuser, about: nodes.joined(separator: " "),
      "pgfollow logs in to \(nodes.joined(separator: ", ")) as a superuser, which escapes any "
        + "CONNECTION LIMIT and takes the slots reserved for administrators; log in as the "
        + "watchers' role (pgfollow init --grant pgfollow --connection-limit N)")
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
