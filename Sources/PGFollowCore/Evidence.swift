/// A row of the state table: when a node became primary, and its name.
public struct LogRow: Sendable, Hashable, CustomStringConvertible {
  public var unixtime: Int64
  public var host: String

  public init(unixtime: Int64, host: String) {
    self.unixtime = unixtime
    self.host = host
  }

  public var description: String { "(\(unixtime), \(host))" }
}

/// What one probe of one node saw.
public struct Observation: Sendable, Hashable {
  public var inRecovery: Bool
  /// A WAL receiver process is running (the node is a standby that is following someone).
  public var walReceiverActive: Bool
  /// The newest row naming a configured node.
  public var newestRow: LogRow?
  /// The newest row of all, when it names a host that is not configured.
  public var newestUnknownRow: LogRow?

  public init(
    inRecovery: Bool, walReceiverActive: Bool = false, newestRow: LogRow?,
    newestUnknownRow: LogRow? = nil
  ) {
    self.inRecovery = inRecovery
    self.walReceiverActive = walReceiverActive
    self.newestRow = newestRow
    self.newestUnknownRow = newestUnknownRow
  }
}

public struct ProbeFailure: Error, Sendable, Hashable, CustomStringConvertible {
  public enum Stage: String, Sendable, Hashable {
    case connect, query, timeout
  }

  public var stage: Stage
  public var message: String

  public init(stage: Stage, message: String) {
    self.stage = stage
    self.message = message
  }

  public var description: String { message }
}

/// The evidence about one node in one cycle.
public struct NodeEvidence: Sendable, Hashable {
  public var node: String
  public var result: Result<Observation, ProbeFailure>
  /// Milliseconds the probe took.
  public var latencyMilliseconds: Int

  public init(node: String, result: Result<Observation, ProbeFailure>, latencyMilliseconds: Int) {
    self.node = node
    self.result = result
    self.latencyMilliseconds = latencyMilliseconds
  }

  public var observation: Observation? { try? result.get() }
  public var isWritable: Bool { observation.map { !$0.inRecovery } ?? false }
  public var isHealthyStandby: Bool {
    observation.map { $0.inRecovery && $0.walReceiverActive } ?? false
  }
}
