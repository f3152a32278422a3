public import PGFollowYAML

/// One database node.
public struct NodeConfig: Sendable, Hashable {
  /// The name written in the state table's host column.
  public var name: String
  /// A libpq conninfo string or URI. A secret: never print it.
  public var conninfo: String
  /// What the application should use to reach the node, `host:port`.
  public var address: String
  public var host: String
  public var port: String?

  public init(name: String, conninfo: String, address: String) {
    self.name = name
    self.conninfo = conninfo
    self.address = address
    (host, port) = splitAddress(address)
  }
}

/// Where failover rows live. The original schema is `failover_log (unixtime int, host varchar(10))`.
public struct StateTable: Sendable, Hashable {
  /// Optionally schema-qualified, as `schema.table`.
  public var table: String = "failover_log"
  public var timestampColumn: String = "unixtime"
  public var hostColumn: String = "host"

  public init() {}
}

public enum RestartAction: String, Sendable, Hashable, CaseIterable {
  case restart
  case reloadOrRestart = "reload-or-restart"
  case tryRestart = "try-restart"
}

public struct RestartConfig: Sendable, Hashable {
  public var units: [String] = []
  public var action: RestartAction = .restart
  /// The systemctl program: a path, or a name looked up in PATH.
  public var systemctl: String = "systemctl"
  public var timeout: Duration = .seconds(30)

  public init() {}
}

public struct Timeouts: Sendable, Hashable {
  /// Per node, for establishing the connection.
  public var connect: Duration = .seconds(2)
  /// Per node, for the one query once connected.
  public var query: Duration = .seconds(2)
  /// How long `once` waits for another run to release the lock.
  public var lockWait: Duration = .seconds(10)

  public init() {}
}

/// A command run when the leader changes, as an argv, with the leaders in its environment.
public struct HookConfig: Sendable, Hashable {
  public enum Timing: String, Sendable, Hashable, CaseIterable {
    case beforeRestart = "before-restart"
    case afterRestart = "after-restart"
  }

  public var command: [String]
  public var when: Timing = .afterRestart
  public var timeout: Duration = .seconds(30)
  /// Tries in all before pgfollow gives up on this change.
  public var attempts = 3
  /// The wait after the first failure; it doubles after each next one, up to 5 minutes.
  public var retryAfter: Duration = .seconds(5)

  public init(command: [String]) {
    self.command = command
  }
}

/// Where metrics go: an HTTP listener for the sidecar, a node_exporter textfile for `once`.
public struct MetricsConfig: Sendable, Hashable {
  /// `host:port` for `/metrics` (loopback by default); nil turns the listener off.
  public var listen: String? = "127.0.0.1:9187"
  public var textfile: String?

  public init() {}
}

/// How `pgfollow run` paces itself.
public struct RunConfig: Sendable, Hashable {
  /// Time between cycles (a little jitter is added).
  public var interval: Duration = .seconds(1)
  /// Every probe of a cycle ends by then; shorter than the interval.
  public var cycleDeadline: Duration = .milliseconds(800)
  /// Cycles that must name a new leader (none other in between) before pgfollow switches to it.
  public var confirmations = 2
  /// Time between cycles while no leader is confirmed (a failover may be under way).
  public var holdInterval: Duration = .milliseconds(200)
  /// How soon the confirming cycles follow the first sighting of a new leader.
  public var confirmAfter: Duration = .milliseconds(50)
  public var restartMinimumInterval: Duration = .seconds(2)
  public var restartMaximumPerHour = 20
  /// How long a change that keeps the leader (a standby gone or back) must last before the file
  /// follows it, so that a flapping standby cannot keep restarting the application.
  public var standbySettle: Duration = .seconds(10)

  public init() {}
}

public struct AppConfig: Sendable, Hashable {
  public struct Value: Sendable, Hashable {
    public var path: YAMLPath
    public var template: ValueTemplate
  }

  public var file: String
  public var values: [Value]
}

public struct Config: Sendable, Hashable {
  public var nodes: [NodeConfig]
  public var stateTable = StateTable()
  public var policy = DecisionPolicy()
  public var app: AppConfig
  public var restart = RestartConfig()
  public var timeouts = Timeouts()
  public var run = RunConfig()
  public var hooks: [HookConfig] = []
  public var metrics = MetricsConfig()
  public var stateDirectory = "/var/lib/pgfollow"

  public var nodeNames: [String] { nodes.map(\.name) }

  public func node(named name: String) -> NodeConfig? { nodes.first { $0.name == name } }

  /// The application file's edits for a decision to follow `leader`.
  public func edits(leader: String, standby: String?) -> [YAMLEdit] {
    guard let leaderNode = node(named: leader) else { return [] }
    let standbyNode = standby.flatMap(node(named:)) ?? leaderNode
    return app.values.map {
      YAMLEdit(path: $0.path, value: $0.template.render(leader: leaderNode, standby: standbyNode))
    }
  }
}

func splitAddress(_ address: String) -> (host: String, port: String?) {
  if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
    let host = String(address[address.index(after: address.startIndex)..<close])
    let rest = address[address.index(after: close)...]
    return (host, rest.hasPrefix(":") ? String(rest.dropFirst()) : nil)
  }
  let colons = address.filter { $0 == ":" }.count
  if colons == 1, let colon = address.firstIndex(of: ":") {
    return (String(address[..<colon]), String(address[address.index(after: colon)...]))
  }
  return (address, nil)
}
