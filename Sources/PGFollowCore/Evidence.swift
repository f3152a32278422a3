/// Where a node's history, or a row's, stands: the cluster (its system identifier), the
/// timeline, and the WAL position on it. Within one cluster a promotion always starts a timeline
/// with a higher ID, so these order promotions without any clock.
package struct HistoryPosition: Sendable, Hashable, CustomStringConvertible {
  package var systemIdentifier: String
  package var timeline: Int64
  /// The WAL position, as a number (PostgreSQL writes it `X/Y`).
  package var lsn: UInt64

  package init(systemIdentifier: String, timeline: Int64, lsn: UInt64) {
    self.systemIdentifier = systemIdentifier
    self.timeline = timeline
    self.lsn = lsn
  }

  /// From the text the probe reads; nil unless all three are there and well formed.
  package init?(systemIdentifier: String?, timeline: String?, lsn: String?) {
    guard let systemIdentifier, !systemIdentifier.isEmpty, let timeline,
      let number = Int64(timeline), number > 0, let lsn, let position = Self.lsn(lsn)
    else { return nil }
    self.init(systemIdentifier: systemIdentifier, timeline: number, lsn: position)
  }

  /// `16/B374D848` as a number.
  package static func lsn(_ text: String) -> UInt64? {
    let parts = text.split(separator: "/")
    guard parts.count == 2, let high = UInt64(parts[0], radix: 16),
      let low = UInt64(parts[1], radix: 16), high <= UInt32.max, low <= UInt32.max
    else { return nil }
    return high << 32 | low
  }

  package var lsnText: String {
    String(lsn >> 32, radix: 16, uppercase: true) + "/"
      + String(lsn & 0xFFFF_FFFF, radix: 16, uppercase: true)
  }

  package var description: String { "timeline \(timeline) at \(lsnText)" }
}

/// A row of the state table: when a node became primary, and its name; and, when the table has
/// the columns for it (`pgfollow init`), where the cluster's history stood when it was written.
package struct FailoverRow: Sendable, Hashable, CustomStringConvertible {
  package var unixtime: Int64
  package var host: String
  package var recorded: HistoryPosition?

  package init(unixtime: Int64, host: String, recorded: HistoryPosition? = nil) {
    self.unixtime = unixtime
    self.host = host
    self.recorded = recorded
  }

  package var description: String {
    "(\(unixtime), \(host)" + (recorded.map { ", timeline \($0.timeline)" } ?? "") + ")"
  }
}

/// What one probe of one node saw.
package struct Observation: Sendable, Hashable {
  package var inRecovery: Bool
  /// A WAL receiver process is running (the node is a standby that is following someone).
  package var walReceiverActive: Bool
  /// The newest row naming a configured node.
  package var newestRow: FailoverRow?
  /// The newest row of all, when it names a host that is not configured.
  package var newestUnknownRow: FailoverRow?
  /// pgfollow's session runs as a superuser (through a pooler: the pooler's server login).
  package var superuser: Bool
  /// Where the node's history stands now: on a primary, its timeline and current WAL position;
  /// on a standby, the newest timeline it is known to be on and how far it has received.
  package var position: HistoryPosition?
  /// What the node's catalog says of the failover table.
  package var table: TableFacts?

  package init(
    inRecovery: Bool, walReceiverActive: Bool = false, newestRow: FailoverRow?,
    newestUnknownRow: FailoverRow? = nil, superuser: Bool = false, position: HistoryPosition? = nil,
    table: TableFacts? = nil
  ) {
    self.table = table
    self.inRecovery = inRecovery
    self.walReceiverActive = walReceiverActive
    self.newestRow = newestRow
    self.newestUnknownRow = newestUnknownRow
    self.superuser = superuser
    self.position = position
  }
}

extension Observation {
  /// What decisions read of the answer: all of it but the WAL position within the node's
  /// timeline, which moves at every answer of a primary taking writes.
  package var decisionView: Observation {
    var view = self
    view.position?.lsn = 0
    view.table = nil
    return view
  }
}

/// The failover table as a node's catalog describes it: how large it is, and the indexes that
/// would let a probe read only its newest rows, when they are missing.
package struct TableFacts: Sendable, Hashable {
  package var name: String
  /// The planner's estimate; nil until the table is first vacuumed or analyzed.
  package var estimatedRows: Int64?
  package var bytes: Int64
  /// `CREATE INDEX` statements, one per index missing.
  package var missingIndexes: [String]
  /// The history columns are there, but not with the types `pgfollow init` gives them.
  package var mistypedHistory: Bool

  package init(
    name: String, estimatedRows: Int64?, bytes: Int64, missingIndexes: [String],
    mistypedHistory: Bool = false
  ) {
    self.mistypedHistory = mistypedHistory
    self.name = name
    self.estimatedRows = estimatedRows
    self.bytes = bytes
    self.missingIndexes = missingIndexes
  }

  /// Its size in words: "about 1.0 M rows", or its bytes before an estimate exists.
  package var sizeText: String {
    if let rows = estimatedRows { return "about \(approximate(Double(rows))) rows" }
    return "\(approximate(Double(bytes)))B"
  }

  /// Large enough that a probe reading all of it costs the server more than a millisecond.
  package var isLarge: Bool { (estimatedRows ?? bytes / 40) >= 10_000 }
}

/// 1234567 as "1.2 M", 12345 as "12 k", 512 as "512".
package func approximate(_ value: Double) -> String {
  for (scale, unit) in [(1e9, "G"), (1e6, "M"), (1e3, "k")] where value >= scale {
    let scaled = value / scale
    let digits = scaled < 10 ? 1 : 0
    let rounded = (scaled * (digits == 1 ? 10 : 1)).rounded() / (digits == 1 ? 10 : 1)
    return (digits == 1 ? String(rounded) : String(Int(rounded))) + " " + unit
  }
  return String(Int(value))
}

package struct ProbeFailure: Error, Sendable, Hashable, CustomStringConvertible {
  package enum Stage: String, Sendable, Hashable {
    case connect, query, timeout
    /// The node (or its pooler) has no connection slot for pgfollow: never evidence of anything
    /// but load, and retried with a longer, jittered backoff.
    case noSlot = "no-slot"
    /// A pooler answered for the node, and its server is down.
    case pooler
    /// Connected, but the probe's answer is later than the query timeout: a busy node or a large
    /// table, not a network.
    case slow
  }

  /// Why a node that answered turned pgfollow away, when it did: a setting to fix, not a node
  /// that is down.
  package enum Refusal: String, Sendable, Hashable {
    case missing, denied, misconfigured
  }

  package var stage: Stage
  package var message: String
  package var refusal: Refusal?

  package init(stage: Stage, message: String, refusal: Refusal? = nil) {
    self.stage = stage
    self.message = message
    self.refusal = refusal
  }

  package var description: String { message }
}

/// The evidence about one node in one cycle.
package struct NodeEvidence: Sendable, Hashable {
  package var node: String
  package var result: Result<Observation, ProbeFailure>
  /// Milliseconds the probe took.
  package var latencyMilliseconds: Int

  package init(node: String, result: Result<Observation, ProbeFailure>, latencyMilliseconds: Int) {
    self.node = node
    self.result = result
    self.latencyMilliseconds = latencyMilliseconds
  }

  package var observation: Observation? { try? result.get() }
  package var failure: ProbeFailure? {
    if case .failure(let failure) = result { failure } else { nil }
  }
  package var isWritable: Bool { observation.map { !$0.inRecovery } ?? false }
  package var isHealthyStandby: Bool {
    observation.map { $0.inRecovery && $0.walReceiverActive } ?? false
  }
}
