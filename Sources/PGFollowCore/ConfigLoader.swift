public import PGFollowYAML

/// Every problem found in a configuration file, each with file:line:column.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
  public var problems: [YAMLError]

  public init(problems: [YAMLError]) {
    self.problems = problems
  }

  public var description: String {
    let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
    return "invalid configuration (\(count)):\n"
      + problems.map { "  \($0)" }.joined(separator: "\n")
  }
}

/// Reads a configuration file's text. `checkConninfo` returns what is wrong with a conninfo, if
/// anything, without repeating its secrets.
public func loadConfig(
  bytes: [UInt8], file: String, baseDirectory: String? = nil,
  checkConninfo: @escaping (String) -> String? = { _ in nil }
) throws(ConfigError) -> Config {
  var reader = ConfigReader(
    file: file, baseDirectory: baseDirectory ?? directoryOf(file), checkConninfo: checkConninfo)
  let config = reader.read(bytes)
  if let config, reader.problems.isEmpty { return config }
  throw ConfigError(problems: reader.problems)
}

private let topLevelKeys = [
  "nodes", "state_table", "policy", "app", "restart", "timeouts", "run", "hooks", "metrics",
  "state_directory",
]

struct ConfigReader {
  let file: String
  let baseDirectory: String
  let checkConninfo: (String) -> String?
  var problems: [YAMLError] = []

  mutating func read(_ bytes: [UInt8]) -> Config? {
    let root: YAMLNode
    do {
      let events = try parseYAMLEvents(bytes, file: file)
      try checkAliases(events, file: file)
      guard let document = parseYAMLDocuments(events).first else {
        problems.append(YAMLError(file: file, mark: nil, message: "the file is empty"))
        return nil
      }
      root = document.resolvingAliases()
    } catch {
      problems.append(error)
      return nil
    }
    guard let top = fields(root, in: "the configuration", allowed: topLevelKeys) else { return nil }
    var nodes: [NodeConfig]?
    var app: AppConfig?
    if let node = require(top, "nodes", in: "the configuration") { nodes = readNodes(node) }
    if let node = require(top, "app", in: "the configuration") { app = readApp(node) }
    var config = Config(nodes: nodes ?? [], app: app ?? AppConfig(file: "", values: []))
    if let node = top["state_table"] { readStateTable(node, into: &config.stateTable) }
    if let node = top["policy"] { readPolicy(node, into: &config.policy) }
    if let node = top["restart"] { readRestart(node, into: &config.restart) }
    if let node = top["timeouts"] { readTimeouts(node, into: &config.timeouts) }
    if let node = top["run"] { readRun(node, into: &config.run) }
    if let node = top["hooks"] { config.hooks = readHooks(node) }
    if let node = top["metrics"] { readMetrics(node, into: &config.metrics) }
    if let path = string(top["state_directory"], "state_directory") {
      config.stateDirectory = resolvePath(path)
    }
    checkPorts(config, appNode: top["app"])
    return nodes == nil || app == nil ? nil : config
  }

  // MARK: sections

  mutating func readNodes(_ node: YAMLNode) -> [NodeConfig]? {
    guard case .sequence(let items, _) = node, !items.isEmpty else {
      fail(node, "nodes must be a non-empty list of nodes")
      return nil
    }
    var result: [NodeConfig] = []
    var seen: [String: YAMLMark] = [:]
    for (index, item) in items.enumerated() {
      let context = "nodes[\(index)]"
      guard let map = fields(item, in: context, allowed: ["name", "conninfo", "address"]) else {
        continue
      }
      let name = string(require(map, "name", in: context), "\(context).name")
      let conninfo = readConninfo(require(map, "conninfo", in: context), context)
      let address = string(require(map, "address", in: context), "\(context).address")
      if let name, let nameNode = map["name"] {
        if let first = seen[name] {
          fail(nameNode, "node name \"\(name)\" is used twice (first at \(first))")
        }
        seen[name] = nameNode.start
      }
      if let name, let conninfo, let address {
        result.append(NodeConfig(name: name, conninfo: conninfo, address: address))
      }
    }
    return result
  }

  mutating func readConninfo(_ node: YAMLNode?, _ context: String) -> String? {
    guard let node else { return nil }
    guard case .scalar(let scalar) = node, !scalar.value.isEmpty else {
      fail(node, "\(context).conninfo must be a non-empty string")
      return nil
    }
    if let problem = checkConninfo(scalar.value) {
      fail(node, "\(context).conninfo is invalid: \(problem)")
      return nil
    }
    return scalar.value
  }

  mutating func readApp(_ node: YAMLNode) -> AppConfig? {
    guard let map = fields(node, in: "app", allowed: ["file", "set"]) else { return nil }
    let file = string(require(map, "file", in: "app"), "app.file")
    guard let setNode = require(map, "set", in: "app") else { return nil }
    guard case .mapping(let pairs, _) = setNode, !pairs.isEmpty else {
      fail(setNode, "app.set must map paths in the application's file to values")
      return nil
    }
    var values: [AppConfig.Value] = []
    for pair in pairs {
      guard let pathText = string(pair.key, "a path in app.set"),
        let templateText = string(pair.value, "app.set[\(pathText)]")
      else { continue }
      do {
        let path = try YAMLPath(parsing: pathText)
        do {
          values.append(.init(path: path, template: try ValueTemplate(parsing: templateText)))
        } catch {
          fail(pair.value, error.message)
        }
      } catch {
        fail(pair.key, error.message)
      }
    }
    guard let file else { return nil }
    return AppConfig(file: resolvePath(file), values: values)
  }

  mutating func readStateTable(_ node: YAMLNode, into table: inout StateTable) {
    let keys = ["table", "timestamp_column", "host_column"]
    guard let map = fields(node, in: "state_table", allowed: keys) else { return }
    if let value = identifier(map["table"], "state_table.table", dots: 1) {
      table.table = value
    }
    if let value = identifier(map["timestamp_column"], "state_table.timestamp_column", dots: 0) {
      table.timestampColumn = value
    }
    if let value = identifier(map["host_column"], "state_table.host_column", dots: 0) {
      table.hostColumn = value
    }
  }

  mutating func readPolicy(_ node: YAMLNode, into policy: inout DecisionPolicy) {
    let keys = ["require_writable_leader", "split_brain"]
    guard let map = fields(node, in: "policy", allowed: keys) else { return }
    if let value = bool(map["require_writable_leader"], "policy.require_writable_leader") {
      policy.requireWritableLeader = value
    }
    if let value = choice(map["split_brain"], "policy.split_brain", SplitBrainPolicy.self) {
      policy.splitBrain = value
    }
  }

  mutating func readRestart(_ node: YAMLNode, into restart: inout RestartConfig) {
    let keys = ["units", "action", "systemctl", "timeout"]
    guard let map = fields(node, in: "restart", allowed: keys) else { return }
    if let unitsNode = map["units"], let units = stringList(unitsNode, "restart.units") {
      for unit in units where !isValidUnitName(unit) {
        fail(unitsNode, "restart.units: \"\(unit)\" is not a valid systemd unit name")
      }
      restart.units = units
    }
    if let value = choice(map["action"], "restart.action", RestartAction.self) {
      restart.action = value
    }
    if let value = string(map["systemctl"], "restart.systemctl") {
      restart.systemctl = value.contains("/") ? resolvePath(value) : value
    }
    if let value = duration(
      map["timeout"], "restart.timeout", within: .milliseconds(100) ... .seconds(600))
    {
      restart.timeout = value
    }
  }

  mutating func readTimeouts(_ node: YAMLNode, into timeouts: inout Timeouts) {
    guard let map = fields(node, in: "timeouts", allowed: ["connect", "query", "lock_wait"]) else {
      return
    }
    let probeRange = Duration.milliseconds(50) ... .seconds(60)
    if let value = duration(map["connect"], "timeouts.connect", within: probeRange) {
      timeouts.connect = value
    }
    if let value = duration(map["query"], "timeouts.query", within: probeRange) {
      timeouts.query = value
    }
    if let value = duration(map["lock_wait"], "timeouts.lock_wait", within: .zero ... .seconds(600))
    {
      timeouts.lockWait = value
    }
  }

  mutating func readRun(_ node: YAMLNode, into run: inout RunConfig) {
    let keys = [
      "interval", "cycle_deadline", "hold_interval", "confirmations", "confirm_after",
      "restart_min_interval", "restart_max_per_hour", "standby_settle",
    ]
    guard let map = fields(node, in: "run", allowed: keys) else { return }
    let short = Duration.milliseconds(1) ... .seconds(3600)
    run.interval = duration(map["interval"], "run.interval", within: short) ?? run.interval
    let deadline = duration(map["cycle_deadline"], "run.cycle_deadline", within: short)
    let confirmAfter = duration(
      map["confirm_after"], "run.confirm_after", within: .zero ... .seconds(3600))
    run.cycleDeadline = deadline ?? min(run.cycleDeadline, run.interval * 0.8)
    run.confirmAfter = confirmAfter ?? min(run.confirmAfter, run.interval)
    let hold = duration(map["hold_interval"], "run.hold_interval", within: short)
    run.holdInterval = hold ?? min(run.holdInterval, run.interval)
    if run.cycleDeadline >= run.interval {
      fail(map["cycle_deadline"] ?? node, "run.cycle_deadline must be shorter than run.interval")
    }
    run.confirmations =
      integer(map["confirmations"], "run.confirmations", within: 1...100) ?? run.confirmations
    run.restartMinimumInterval =
      duration(
        map["restart_min_interval"], "run.restart_min_interval", within: .zero ... .seconds(3600))
      ?? run.restartMinimumInterval
    run.restartMaximumPerHour =
      integer(map["restart_max_per_hour"], "run.restart_max_per_hour", within: 1...3600)
      ?? run.restartMaximumPerHour
    run.standbySettle =
      duration(map["standby_settle"], "run.standby_settle", within: .zero ... .seconds(3600))
      ?? run.standbySettle
  }

  mutating func readHooks(_ node: YAMLNode) -> [HookConfig] {
    guard case .sequence(let items, _) = node else {
      fail(node, "hooks must be a list of hooks")
      return []
    }
    var hooks: [HookConfig] = []
    for (index, item) in items.enumerated() {
      let context = "hooks[\(index)]"
      let keys = ["command", "when", "timeout", "attempts", "retry_after"]
      guard let map = fields(item, in: context, allowed: keys),
        let commandNode = require(map, "command", in: context)
      else { continue }
      guard case .sequence = commandNode,
        let command = stringList(commandNode, "\(context).command"),
        !command.isEmpty
      else {
        fail(commandNode, "\(context).command must be a list: the program, then its arguments")
        continue
      }
      var hook = HookConfig(
        command: [command[0].contains("/") ? resolvePath(command[0]) : command[0]]
          + command.dropFirst())
      hook.when = choice(map["when"], "\(context).when", HookConfig.Timing.self) ?? hook.when
      hook.timeout =
        duration(
          map["timeout"], "\(context).timeout", within: .milliseconds(100) ... .seconds(3600))
        ?? hook.timeout
      hook.attempts =
        integer(map["attempts"], "\(context).attempts", within: 1...100) ?? hook.attempts
      hook.retryAfter =
        duration(map["retry_after"], "\(context).retry_after", within: .zero ... .seconds(3600))
        ?? hook.retryAfter
      hooks.append(hook)
    }
    return hooks
  }

  mutating func readMetrics(_ node: YAMLNode, into metrics: inout MetricsConfig) {
    guard let map = fields(node, in: "metrics", allowed: ["listen", "textfile"]) else { return }
    if case .scalar(let scalar)? = map["listen"], scalar.value == "off" || scalar.value == "false" {
      metrics.listen = nil
    } else if let listen = string(map["listen"], "metrics.listen") {
      let (host, port) = splitAddress(listen)
      if host.isEmpty || port.flatMap({ UInt16($0) }) == nil {
        fail(map["listen"], "metrics.listen must be host:port, such as 127.0.0.1:9187, or off")
      }
      metrics.listen = listen
    }
    if let path = string(map["textfile"], "metrics.textfile") {
      metrics.textfile = resolvePath(path)
    }
  }

  mutating func checkPorts(_ config: Config, appNode: YAMLNode?) {
    guard config.app.values.contains(where: \.template.usesPort) else { return }
    for node in config.nodes where node.port == nil {
      fail(
        appNode, "a value uses {…port} but node \"\(node.name)\" has no port in its address")
    }
  }

  /// Relative paths are taken from the configuration file's directory.
  func resolvePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    return baseDirectory + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
  }
}

private func directoryOf(_ file: String) -> String {
  guard let slash = file.lastIndex(of: "/") else { return "." }
  return String(file[..<slash])
}

func isValidUnitName(_ unit: String) -> Bool {
  guard let first = unit.first, first != "-", unit.count <= 255 else { return false }
  return unit.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ":_.\\@-".contains($0)) }
}
