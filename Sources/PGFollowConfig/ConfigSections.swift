import PGFollowCore
import PGFollowYAML

/// The sections after `nodes` and the apps, each read into its part of the model.
extension ConfigReader {
  mutating func readStateTable(_ node: YAMLNode, into table: inout FailoverTable) {
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
    let keys = ["require_writable_leader", "split_brain", "follow_unrecorded_promotion"]
    guard let map = fields(node, in: "policy", allowed: keys) else { return }
    if let value = map["follow_unrecorded_promotion"] {
      // `off` (the default), or the grace period: one second to one day.
      if case .scalar(let scalar) = value, scalar.style == .plain,
        ["off", "false", "no"].contains(scalar.value.lowercased())
      {
        policy.followUnrecordedPromotion = nil
      } else {
        policy.followUnrecordedPromotion = duration(
          value, "policy.follow_unrecorded_promotion (off, or a grace period)",
          within: .seconds(1) ... .seconds(86400))
      }
    }
    if let value = bool(map["require_writable_leader"], "policy.require_writable_leader") {
      policy.requireWritableLeader = value
    }
    if let value = choice(map["split_brain"], "policy.split_brain", SplitBrainPolicy.self) {
      policy.splitBrain = value
    }
  }

  mutating func readRestart(_ node: YAMLNode, context: String, into restart: inout RestartConfig) {
    let keys = ["units", "action", "systemctl", "timeout"]
    guard let map = fields(node, in: context, allowed: keys) else { return }
    if let unitsNode = map["units"], let units = stringList(unitsNode, "\(context).units") {
      for unit in units where !isValidUnitName(unit) {
        fail(unitsNode, "\(context).units: \"\(unit)\" is not a valid systemd unit name")
      }
      restart.units = units
    }
    if let value = choice(map["action"], "\(context).action", RestartAction.self) {
      restart.action = value
    }
    if let value = string(map["systemctl"], "\(context).systemctl") {
      restart.systemctl = value.contains("/") ? resolvePath(value) : value
    }
    if let value = duration(
      map["timeout"], "\(context).timeout", within: .milliseconds(100) ... .seconds(600))
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
    let confirmAfter = duration(
      map["confirm_after"], "run.confirm_after", within: .zero ... .seconds(3600))
    if let deadline = map["cycle_deadline"] {
      warn(
        deadline,
        "run.cycle_deadline is no longer used (each node has its own watcher and deadline) and "
          + "is ignored; remove it")
    }
    run.confirmAfter = confirmAfter ?? min(run.confirmAfter, run.interval)
    let hold = duration(map["hold_interval"], "run.hold_interval", within: short)
    run.holdInterval = hold ?? min(run.holdInterval, run.interval)
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

  mutating func readHooks(_ node: YAMLNode, context list: String) -> [HookConfig] {
    guard case .sequence(let items, _) = node else {
      fail(node, "\(list) must be a list of hooks")
      return []
    }
    var hooks: [HookConfig] = []
    for (index, item) in items.enumerated() {
      let context = "\(list)[\(index)]"
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
}
