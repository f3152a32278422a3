/// One database node.
package struct NodeConfig: Sendable, Hashable {
  /// The name written in the state table's host column.
  package var name: String
  /// A libpq conninfo string or URI. A secret: never print it.
  package var conninfo: String
  /// What the application should use to reach the node, `host:port`.
  package var address: String
  package var host: String
  package var port: String?

  package init(name: String, conninfo: String, address: String) {
    self.name = name
    self.conninfo = conninfo
    self.address = address
    (host, port) = splitAddress(address)
  }
}

/// Where failover rows live. The original schema is `failover_log (unixtime int, host varchar(10))`.
package struct FailoverTable: Sendable, Hashable {
  /// Optionally schema-qualified, as `schema.table`.
  package var table: String = "failover_log"
  package var timestampColumn: String = "unixtime"
  package var hostColumn: String = "host"

  package init() {}
}

package enum RestartAction: String, Sendable, Hashable, CaseIterable {
  case restart
  case reloadOrRestart = "reload-or-restart"
  case tryRestart = "try-restart"
}

package struct RestartConfig: Sendable, Hashable {
  package var units: [String] = []
  package var action: RestartAction = .restart
  /// The systemctl program: a path, or a name looked up in PATH.
  package var systemctl: String = "systemctl"
  package var timeout: Duration = .seconds(30)

  package init() {}
}

package struct Timeouts: Sendable, Hashable {
  /// Per node, for establishing the connection.
  package var connect: Duration = .seconds(2)
  /// Per node, for the one query once connected.
  package var query: Duration = .seconds(2)
  /// How long `once` waits for another run to release the lock.
  package var lockWait: Duration = .seconds(10)

  package init() {}
}

/// A command run when the leader changes, as an argv, with the leaders in its environment.
package struct HookConfig: Sendable, Hashable {
  package enum Timing: String, Sendable, Hashable, CaseIterable {
    case beforeRestart = "before-restart"
    case afterRestart = "after-restart"
  }

  package var command: [String]
  package var when: Timing = .afterRestart
  package var timeout: Duration = .seconds(30)
  /// Tries in all before pgfollow gives up on this change.
  package var attempts = 3
  /// The wait after the first failure; it doubles after each next one, up to 5 minutes.
  package var retryAfter: Duration = .seconds(5)

  package init(command: [String]) {
    self.command = command
  }
}

/// A program the new file must pass before it replaces the old one: its argv, where `{file}`
/// stands for the new file's path, and how long it may take.
package struct FileCheck: Sendable, Hashable {
  package var command: [String]
  /// Under half the shipped unit's `WatchdogSec` (10 s): the sidecar's loop waits for the check.
  package var timeout: Duration = .seconds(3)

  package init(command: [String]) {
    self.command = command
  }

  /// The argv for the new file at `path`.
  package func argv(for path: String) -> [String] {
    command.map { $0.replacing("{file}", with: path) }
  }
}

/// Where metrics go: an HTTP listener for the sidecar, a node_exporter textfile for `once`.
package struct MetricsConfig: Sendable, Hashable {
  /// `host:port` for `/metrics` (loopback by default); nil turns the listener off.
  package var listen: String? = "127.0.0.1:9187"
  package var textfile: String?

  package init() {}
}

/// How `pgfollow run` paces itself.
package struct RunConfig: Sendable, Hashable {
  /// Time between cycles (a little jitter is added).
  package var interval: Duration = .seconds(1)
  /// Cycles that must name a new leader (none other in between) before pgfollow switches to it.
  package var confirmations = 2
  /// Time between cycles while no leader is confirmed (a failover may be under way).
  package var holdInterval: Duration = .milliseconds(200)
  /// How soon the confirming cycles follow the first sighting of a new leader.
  package var confirmAfter: Duration = .milliseconds(50)
  package var restartMinimumInterval: Duration = .seconds(2)
  package var restartMaximumPerHour = 20
  /// How long a change that keeps the leader (a standby gone or back) must last before the file
  /// follows it, so that a flapping standby cannot keep restarting the application.
  package var standbySettle: Duration = .seconds(10)

  package init() {}
}

/// A place in the configuration file, for messages about what it names.
package struct ConfigPlace: Sendable, Hashable, CustomStringConvertible {
  package var file: String
  package var line: Int
  package var column: Int

  package init(file: String, line: Int, column: Int) {
    self.file = file
    self.line = line
    self.column = column
  }

  package var description: String { "\(file):\(line):\(column)" }
}

/// One application: the YAML file pgfollow keeps pointed at the leader, the units that read it,
/// and the hooks that run when its leader changes. Each has its own follow state.
package struct AppConfig: Sendable, Hashable {
  package struct Value: Sendable, Hashable {
    package var path: YAMLPath
    package var template: ValueTemplate
    /// Where the configuration names this path.
    package var place: ConfigPlace?

    package init(path: YAMLPath, template: ValueTemplate, place: ConfigPlace? = nil) {
      self.path = path
      self.template = template
      self.place = place
    }
  }

  /// The entry's name in `apps:`; nil for the short form (`app:` with a top-level `restart:`).
  package var name: String?
  package var file: String
  package var values: [Value]
  package var restart = RestartConfig()
  package var hooks: [HookConfig] = []
  /// Run against the new file before it replaces the old one.
  package var check: FileCheck?
  /// Keep the previous file beside the new one, as FILE.pgfollow-previous.
  package var backup = false
  /// Where the configuration names the file.
  package var filePlace: ConfigPlace?
  /// Who the application is on the database, to verify that it follows.
  package var verify: VerifyConfig?

  package init(name: String? = nil, file: String, values: [Value], filePlace: ConfigPlace? = nil) {
    self.name = name
    self.file = file
    self.values = values
    self.filePlace = filePlace
  }

  /// The name in logs, metrics and status: the entry's name, or "app" for the short form.
  package var label: String { name ?? "app" }

  /// "app web: " before a message about an entry of `apps:`; nothing for the short form.
  package var logPrefix: String { name.map { "app \($0): " } ?? "" }

  /// The key that introduces a part of this app in the configuration: `app.set`, or
  /// `apps[web].set`; `restart` and `hooks` of the short form are top-level keys.
  package func key(_ part: String) -> String {
    guard let name else { return ["restart", "hooks"].contains(part) ? part : "app.\(part)" }
    return "apps[\(name)].\(part)"
  }

  /// The file's edits for a decision to follow `leader`, with the healthy `standbys` in
  /// configuration order.
  package func edits(leader: NodeConfig, standbys: [NodeConfig]) -> [YAMLEdit] {
    values.map {
      YAMLEdit(path: $0.path, value: $0.template.render(leader: leader, standbys: standbys))
    }
  }
}

package struct Config: Sendable, Hashable {
  /// What the file holds that is accepted and ignored (`file:line:column: …`), said once loaded.
  package var warnings: [String] = []
  package var nodes: [NodeConfig]
  package var failoverTable = FailoverTable()
  package var policy = DecisionPolicy()
  /// Every application this pgfollow keeps pointed at the leader; one probe serves them all.
  package var apps: [AppConfig]
  package var timeouts = Timeouts()
  package var run = RunConfig()
  package var metrics = MetricsConfig()
  package var stateDirectory = Config.defaultStateDirectory
  package static let defaultStateDirectory = "/var/lib/pgfollow"

  package init(nodes: [NodeConfig], apps: [AppConfig]) {
    self.nodes = nodes
    self.apps = apps
  }

  /// The short form: one application.
  package init(nodes: [NodeConfig], app: AppConfig) {
    self.init(nodes: nodes, apps: [app])
  }

  package var nodeNames: [String] { nodes.map(\.name) }

  /// How long a node's evidence counts once taken: one interval with its jitter, plus the query
  /// timeout, the longest a node that answers can go between two answers. Older evidence counts
  /// as unreachable.
  package var freshness: Duration { run.interval * 1.1 + timeouts.query }

  package func node(named name: String) -> NodeConfig? { nodes.first { $0.name == name } }

  /// Every unit of every app, each once, in configuration order.
  package var allUnits: [String] {
    var seen = Set<String>()
    return apps.flatMap(\.restart.units).filter { seen.insert($0).inserted }
  }

  /// An app's edits for a decision to follow `leader`, with the healthy `standbys` in
  /// configuration order.
  package func edits(_ app: AppConfig, leader: String, standbys: [String]) -> [YAMLEdit] {
    guard let leaderNode = node(named: leader) else { return [] }
    return app.edits(leader: leaderNode, standbys: standbys.compactMap(node(named:)))
  }
}

package func splitAddress(_ address: String) -> (host: String, port: String?) {
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
