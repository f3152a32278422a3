package import PGFollowCore
import PGFollowYAML

/// What `pgfollow status` shows: one probe and decision (changing nothing), what the application's
/// file holds now, and what the state file says.
package struct StatusReport: Sendable {
  package var report: CycleReport
  /// Each configured path with its current value and the value the decision wants there.
  package var values: [(path: String, current: String?, wanted: String?)]
  package var fileError: String?
  package var state: FollowState
  package var stateError: String?
  /// What a failover will need and the user running `status` may not do.
  package var preflight: [PreflightProblem] = []

  /// Monitoring-plugin exit codes: 0 OK, 1 WARNING, 2 CRITICAL.
  package var health: (code: Int32, word: String, reason: String) {
    let decision = report.decision
    if !decision.splitBrain.isEmpty {
      return (2, "CRITICAL", "split brain: " + decision.splitBrain.joined(separator: ", "))
    }
    if case .hold = decision.outcome { return (2, "CRITICAL", "holding: \(decision.reason)") }
    if let fileError { return (2, "CRITICAL", fileError) }
    if let problem = preflight.first {
      return (2, "CRITICAL", "a failover would fail: \(problem.problem)")
    }
    if values.contains(where: { $0.current != $0.wanted }) {
      return (1, "WARNING", "the application's file does not point at the leader yet")
    }
    if !state.pendingRestart.isEmpty {
      return (1, "WARNING", "restart owed: " + state.pendingRestart.joined(separator: " "))
    }
    let down = decision.evidence.filter { $0.observation == nil }.map(\.node)
    if !down.isEmpty { return (1, "WARNING", "unreachable: " + down.joined(separator: ", ")) }
    return (0, "OK", "following \(decision.leader ?? "?")")
  }
}

/// Builds the status from a dry-run cycle: nothing is written, locked or restarted.
package func collectStatus(config: Config, prober: any Prober = LibPQProber()) async -> StatusReport
{
  let cycle = Cycle(config: config, prober: prober, dryRun: true)
  var state = FollowState()
  var stateError: String?
  do { state = try cycle.store.load() } catch { stateError = error.description }
  // Status reports what the nodes say now: no confirming cycles.
  var settings = FollowSettings(config)
  settings.confirmations = 1
  var machine = FollowMachine(state: state, settings: settings)
  let report = await cycle.run(&machine)
  var status = StatusReport(
    report: report, values: [], fileError: nil, state: state, stateError: stateError,
    preflight: preflight(config))
  let wanted = report.decision.leader.map {
    config.edits(leader: $0, standbys: report.decision.standbys).map(\.value)
  }
  do {
    let snapshot = try readSnapshot(config.app.file)
    let current = try readYAMLValues(
      snapshot.bytes, paths: config.app.values.map(\.path), file: config.app.file)
    status.values = config.app.values.enumerated().map { index, value in
      ("\(value.path)", current[index], wanted?[index])
    }
  } catch {
    status.fileError = "\(error)"
    status.values = config.app.values.enumerated().map { ("\($1.path)", nil, wanted?[$0]) }
  }
  return status
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
    lines.append("")
    lines.append("file:     \(config.app.file)" + (fileError.map { " (\($0))" } ?? ""))
    for value in values {
      let now = value.current.map { quotedForLog($0) } ?? "?"
      let want = value.wanted.map {
        $0 == value.current ? "" : " (the leader wants \(quotedForLog($0)))"
      }
      lines.append("  \(value.path) = \(now)\(want ?? "")")
    }
    let applied = state.applied.map { "\($0.name) (row of \($0.unixtime))" } ?? "none yet"
    lines.append("applied:  \(applied)")
    let owed = state.pendingRestart.isEmpty ? "none" : state.pendingRestart.joined(separator: " ")
    lines.append(
      "restart owed: \(owed)" + (state.lastRestartError.map { "; last error: \($0)" } ?? ""))
    lines += hookLines(config: config, now: wallClockNow())
    if let unsettled = state.unsettled {
      let since = max(0, Int64(wallClockNow() - unsettled.since))
      lines.append("settling: a standby change seen \(since)s ago waits for run.standby_settle")
    }
    if let stateError { lines.append("state:    \(stateError)") }
    let checked = "checked as \(currentUserName())"
    lines += preflight.map { "preflight: \($0) (\(checked))" }
    return lines.joined(separator: "\n") + "\n"
  }

  /// "hook owed: ./hook failing (failure 1 of 2; next try in 4s)".
  private func hookLines(config: Config, now: WallSeconds) -> [String] {
    guard let debt = state.hooks else { return [] }
    let settings = FollowSettings(config)
    return debt.owed.map { owed in
      let attempts = settings.hook(owed.key)?.attempts ?? 1
      var detail = owed.failures == 0 ? "not tried yet" : "failure \(owed.failures) of \(attempts)"
      if let next = owed.nextAttempt {
        let wait = max(0, next - now)
        detail +=
          wait > 0 ? "; next try in \(formatDuration(.seconds(wait.rounded(.up))))" : "; due now"
      }
      return "hook owed: \(owed.key) (\(detail)) for the change to \(debt.leader)"
    }
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
    let values = self.values.map { value in
      "{\"path\": \(jsonString(value.path)), \"current\": \(value.current.map(jsonString) ?? "null"), "
        + "\"wanted\": \(value.wanted.map(jsonString) ?? "null")}"
    }
    var fields = [
      "\"health\": \(jsonString(health.word))",
      "\"reason\": \(jsonString(health.reason))",
      "\"leader\": \(report.decision.leader.map(jsonString) ?? "null")",
      "\"decision\": \(jsonString(report.decision.reason))",
      "\"split_brain\": [\(report.decision.splitBrain.map(jsonString).joined(separator: ", "))]",
      "\"warnings\": [\(report.decision.warnings.map(jsonString).joined(separator: ", "))]",
      "\"nodes\": [\(nodes.joined(separator: ", "))]",
      "\"file\": \(jsonString(config.app.file))",
      "\"values\": [\(values.joined(separator: ", "))]",
      "\"restart_owed\": [\(state.pendingRestart.map(jsonString).joined(separator: ", "))]",
      "\"hooks_owed\": \(hooksJSON)",
      "\"preflight\": [\(preflight.map { jsonString($0.description) }.joined(separator: ", "))]",
    ]
    if let fileError { fields.append("\"file_error\": \(jsonString(fileError))") }
    return "{" + fields.joined(separator: ", ") + "}\n"
  }
}
