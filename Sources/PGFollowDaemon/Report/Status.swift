package import PGFollowCore
package import PGFollowSystem
import PGFollowYAML

/// What `pgfollow status` shows: one probe and decision (changing nothing), and for each app what
/// its file holds now and what its state file says.
package struct StatusReport: Sendable {
  package var report: CycleReport
  package var apps: [AppStatus]
  /// What a failover will need and the user running `status` may not do.
  package var preflight: [PreflightProblem] = []
  /// The unit's supplementary groups counted in the preflight, when run outside the unit.
  package var checkedWithGroups: [String] = []

  /// Monitoring-plugin exit codes: 0 OK, 1 WARNING, 2 CRITICAL.
  package var health: (code: Int32, word: String, reason: String) {
    let decision = report.decision
    if !decision.splitBrain.isEmpty {
      return (2, "CRITICAL", "split brain: " + decision.splitBrain.joined(separator: ", "))
    }
    if case .hold = decision.outcome { return (2, "CRITICAL", "holding: \(decision.reason)") }
    if let app = apps.first(where: { $0.fileError != nil }), let error = app.fileError {
      return (2, "CRITICAL", app.app.logPrefix + error)
    }
    if let problem = preflight.first {
      return (2, "CRITICAL", "a failover would fail: \(problem.problem)")
    }
    if let app = apps.first(where: { $0.values.contains { $0.current != $0.wanted } }) {
      return (
        1, "WARNING", "\(app.app.logPrefix)the application's file does not point at the leader yet"
      )
    }
    if let app = apps.first(where: { !$0.state.pendingRestart.isEmpty }) {
      return (
        1, "WARNING",
        "\(app.app.logPrefix)restart owed: " + app.state.pendingRestart.joined(separator: " ")
      )
    }
    let down = decision.evidence.filter { $0.observation == nil }.map(\.node)
    if !down.isEmpty { return (1, "WARNING", "unreachable: " + down.joined(separator: ", ")) }
    return (0, "OK", "following \(decision.leader ?? "?")")
  }
}

/// One app in `pgfollow status`.
package struct AppStatus: Sendable {
  package var app: AppConfig
  /// Each configured path with its current value and the value the decision wants there.
  package var values: [(path: String, current: String?, wanted: String?)]
  package var fileError: String?
  package var state: FollowState
  package var stateError: String?
}

/// Builds the status from a dry-run cycle: nothing is written, locked or restarted.
package func collectStatus(config: Config, prober: any Prober = LibPQProber()) async -> StatusReport
{
  let cycle = Cycle(config: config, prober: prober, dryRun: true)
  var machines = FollowMachines()
  var apps: [AppStatus] = []
  for app in config.apps {
    var status = AppStatus(app: app, values: [], state: FollowState())
    do { status.state = try cycle.runner.store(app).load() } catch {
      status.stateError = error.description
    }
    // Status reports what the nodes say now: no confirming cycles.
    var settings = FollowSettings(app, run: config.run)
    settings.confirmations = 1
    machines[app.label] = FollowMachine(state: status.state, settings: settings)
    apps.append(status)
  }
  let report = await cycle.run(&machines)
  for index in apps.indices {
    readValues(&apps[index], config: config, decision: report.decision)
  }
  // Outside the unit (a monitoring check run as the service's user), the unit's own groups count.
  let unitGroups = unitGroupsOfThisUser()
  var status = StatusReport(
    report: report, apps: apps, preflight: preflight(config, unitGroups: unitGroups.ids))
  status.checkedWithGroups = unitGroups.names
  return status
}

/// The app's values as its file holds them, and as the decision wants them.
private func readValues(_ status: inout AppStatus, config: Config, decision: Decision) {
  let app = status.app
  let wanted = decision.leader.map {
    config.edits(app, leader: $0, standbys: decision.standbys).map(\.value)
  }
  do {
    let snapshot = try readSnapshot(app.file)
    let current = try readYAMLValues(snapshot.bytes, paths: app.values.map(\.path), file: app.file)
    status.values = app.values.enumerated().map { index, value in
      ("\(value.path)", current[index], wanted?[index])
    }
  } catch {
    status.fileError = "\(error)"
    status.values = app.values.enumerated().map { ("\($1.path)", nil, wanted?[$0]) }
  }
}

extension StatusReport {
  package func text(config: Config) -> String {
    let health = self.health
    var lines = ["\(health.word): \(health.reason)"]
    switch report.decision.outcome {
    case .follow(let leader, let standby):
      lines.append("leader:   \(leader) (\(config.node(named: leader)?.address ?? "?"))")
      lines.append("standby:  \(standby ?? "none healthy")")
    case .hold:
      lines.append("leader:   none confirmed")
    }
    lines.append("decision: \(report.decision.reason)")
    lines += report.decision.warnings.map { "warning:  \($0)" }
    lines.append("")
    lines += report.evidenceTable(config: config)
    for app in apps {
      lines.append("")
      lines += app.text(now: wallClockNow())
    }
    let groups = checkedWithGroups.joined(separator: " ")
    let checked =
      "checked as \(currentUserName())"
      + (groups.isEmpty ? "" : " with the unit's SupplementaryGroups=\(groups)")
    lines += preflight.map { "preflight: \($0) (\(checked))" }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The same as JSON, for machines.
  package func json(config: Config) -> String {
    let health = self.health
    let nodes = report.decision.evidence.map { item -> String in
      var fields = [
        "\"name\": \(jsonString(item.node))",
        "\"address\": \(jsonString(config.node(named: item.node)?.address ?? ""))",
        "\"reachable\": \(item.observation != nil)",
        "\"latency_ms\": \(item.latencyMilliseconds)",
      ]
      switch item.result {
      case .success(let observation):
        fields.append("\"role\": \(jsonString(observation.inRecovery ? "standby" : "primary"))")
        fields.append("\"receiving_wal\": \(observation.walReceiverActive)")
        if let row = observation.newestRow {
          fields.append(
            "\"newest_row\": {\"unixtime\": \(row.unixtime), \"host\": \(jsonString(row.host))}")
        }
      case .failure(let failure):
        fields.append("\"error\": \(jsonString("\(failure.stage.rawValue): \(failure.message)"))")
      }
      return "{" + fields.joined(separator: ", ") + "}"
    }
    var fields = [
      "\"health\": \(jsonString(health.word))",
      "\"reason\": \(jsonString(health.reason))",
      "\"leader\": \(report.decision.leader.map(jsonString) ?? "null")",
      "\"decision\": \(jsonString(report.decision.reason))",
      "\"split_brain\": [\(report.decision.splitBrain.map(jsonString).joined(separator: ", "))]",
      "\"warnings\": [\(report.decision.warnings.map(jsonString).joined(separator: ", "))]",
      "\"nodes\": [\(nodes.joined(separator: ", "))]",
      "\"preflight\": [\(preflight.map { jsonString($0.description) }.joined(separator: ", "))]",
      "\"apps\": [\(apps.map { "{" + $0.jsonFields.joined(separator: ", ") + "}" }.joined(separator: ", "))]",
    ]
    // The short form's one app is also given at the top level, as before `apps:` existed.
    if config.apps.count == 1, config.apps[0].name == nil, let app = apps.first {
      fields += app.jsonFields.dropFirst()
    }
    return "{" + fields.joined(separator: ", ") + "}\n"
  }
}

extension AppStatus {
  /// The file and its values, what was applied, and what is owed.
  func text(now: WallSeconds) -> [String] {
    var lines = app.name.map { ["app \($0):"] } ?? []
    lines.append("file:     \(app.file)" + (fileError.map { " (\($0))" } ?? ""))
    for value in values {
      let current = value.current.map { quotedForLog($0) } ?? "?"
      let want = value.wanted.map {
        $0 == value.current ? "" : " (the leader wants \(quotedForLog($0)))"
      }
      lines.append("  \(value.path) = \(current)\(want ?? "")")
    }
    let applied = state.applied.map { "\($0.name) (row of \($0.unixtime))" } ?? "none yet"
    lines.append("applied:  \(applied)")
    let owed = state.pendingRestart.isEmpty ? "none" : state.pendingRestart.joined(separator: " ")
    lines.append(
      "restart owed: \(owed)" + (state.lastRestartError.map { "; last error: \($0)" } ?? ""))
    lines += hookLines(now: now)
    if let unsettled = state.unsettled {
      let since = max(0, Int64(now - unsettled.since))
      lines.append("settling: a standby change seen \(since)s ago waits for run.standby_settle")
    }
    if let stateError { lines.append("state:    \(stateError)") }
    return lines
  }

  /// "hook owed: ./hook failing (failure 1 of 2; next try in 4s)".
  private func hookLines(now: WallSeconds) -> [String] {
    guard let debt = state.hooks else { return [] }
    return debt.owed.map { owed in
      let attempts = app.hooks.hook(owed.key)?.attempts ?? 1
      var detail = owed.failures == 0 ? "not tried yet" : "failure \(owed.failures) of \(attempts)"
      if let next = owed.nextAttempt {
        let wait = max(0, next - now)
        detail +=
          wait > 0 ? "; next try in \(formatDuration(.seconds(wait.rounded(.up))))" : "; due now"
      }
      return "hook owed: \(owed.key) (\(detail)) for the change to \(debt.leader)"
    }
  }

  /// The app as JSON fields, its name first.
  var jsonFields: [String] {
    let values = self.values.map { value in
      "{\"path\": \(jsonString(value.path)), \"current\": \(value.current.map(jsonString) ?? "null"), "
        + "\"wanted\": \(value.wanted.map(jsonString) ?? "null")}"
    }
    var fields = [
      "\"name\": \(jsonString(app.label))",
      "\"file\": \(jsonString(app.file))",
      "\"values\": [\(values.joined(separator: ", "))]",
      "\"applied\": \(state.applied.map { jsonString($0.name) } ?? "null")",
      "\"restart_owed\": [\(state.pendingRestart.map(jsonString).joined(separator: ", "))]",
      "\"hooks_owed\": \(hooksJSON)",
    ]
    if let fileError { fields.append("\"file_error\": \(jsonString(fileError))") }
    if let stateError { fields.append("\"state_error\": \(jsonString(stateError))") }
    return fields
  }

  private var hooksJSON: String {
    let owed = state.hooks?.owed ?? []
    let items = owed.map { hook in
      "{\"command\": [\(hook.key.command.map(jsonString).joined(separator: ", "))], "
        + "\"when\": \(jsonString(hook.key.when.rawValue)), \"failures\": \(hook.failures), "
        + "\"next_attempt_unixtime\": \(hook.nextAttempt.map { String(Int64($0.rounded(.up))) } ?? "null")}"
    }
    return "[" + items.joined(separator: ", ") + "]"
  }
}
