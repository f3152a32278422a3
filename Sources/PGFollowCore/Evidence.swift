/// A row of the state table: when a node became primary, and its name.
package struct FailoverRow: Sendable, Hashable, CustomStringConvertible {
  package var unixtime: Int64
  package var host: String

  package init(unixtime: Int64, host: String) {
    self.unixtime = unixtime
    self.host = host
  }

  package var description: String { "(\(unixtime), \(host))" }
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

  package init(
    inRecovery: Bool, walReceiverActive: Bool = false, newestRow: FailoverRow?,
    newestUnknownRow: FailoverRow? = nil, superuser: Bool = false
  ) {
    self.inRecovery = inRecovery
    self.walReceiverActive = walReceiverActive
    self.newestRow = newestRow
    self.newestUnknownRow = newestUnknownRow
    self.superuser = superuser
  }
}

package struct ProbeFailure: Error, Sendable, Hashable, CustomStringConvertible {
  package enum Stage: String, Sendable, Hashable {
    case connect, query, timeout
    /// The node (or its pooler) has no connection slot for pgfollow: never evidence of anything
    /// but load, and retried with a longer, jittered backoff.
    case noSlot = "no-slot"
    /// A pooler answered for the node, and its server is down.
    case pooler
  }

  package var stage: Stage
  package var message: String

  package init(stage: Stage, message: String) {
    self.stage = stage
    self.message = message
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
  package var isWritable: Bool { observation.map { !$0.inRecovery } ?? false }
  package var isHealthyStandby: Bool {
    observation.map { $0.inRecovery && $0.walReceiverActive } ?? false
  }
}
