package import PGFollowCore
import PGFollowYAML

extension CycleReport {
  /// The human-readable account of a cycle: the decision, a table of the evidence, the diff and
  /// the restarts. Never shows a conninfo.
  package func text(config: Config, dryRun: Bool) -> String {
    var lines: [String] = []
    switch decision.outcome {
    case .follow(let leader, let standby):
      let address = config.node(named: leader)?.address ?? "?"
      lines.append("leader:   \(leader) (\(address))")
      lines.append(
        "standby:  \(standby ?? "none healthy; values naming the standby use the leader")")
      lines.append("decision: follow; \(decision.reason)")
    case .hold:
      lines.append("leader:   none confirmed")
      lines.append("decision: hold; \(decision.reason)")
    }
    if !decision.splitBrain.isEmpty {
      lines.append(
        "SPLIT BRAIN: \(allWritable(decision.splitBrain))")
    }
    lines += decision.warnings.map { "warning: \($0.text)" }
    lines.append("")
    lines += evidenceTable(config: config)
    for app in apps {
      lines.append("")
      lines += app.text(dryRun: dryRun)
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// `1796220888 node2 (timeline 2)`: the row, and its recorded timeline when it has one.
  private func rowCell(_ row: FailoverRow) -> String {
    "\(row.unixtime) \(row.host)" + (row.recorded.map { " (timeline \($0.timeline))" } ?? "")
  }

  func evidenceTable(config: Config) -> [String] {
    var rows = [
      ["NODE", "ADDRESS", "REACHABLE", "ROLE", "TIMELINE", "NEWEST ROW", "LATENCY", "ERROR"]
    ]
    for item in decision.evidence {
      let address = config.node(named: item.node)?.address ?? ""
      let latency = "\(item.latencyMilliseconds)ms"
      switch item.result {
      case .success(let observation):
        let role =
          observation.inRecovery
          ? (observation.walReceiverActive ? "standby" : "standby (no WAL receiver)") : "primary"
        let timeline = observation.position.map { String($0.timeline) } ?? "-"
        let row = observation.newestRow.map(rowCell) ?? "-"
        rows.append([item.node, address, "yes", role, timeline, row, latency, ""])
      case .failure(let failure):
        rows.append([
          item.node, address, "no", "-", "-", "-", latency,
          "\(failure.stage.rawValue): \(failure.message)",
        ])
      }
    }
    let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
      zip(row, widths).map { cell, width in
        cell + String(repeating: " ", count: width - cell.count)
      }.joined(separator: "  ").trimming(leading: false).description
    }
  }
}

extension AppReport {
  /// The file's diff, the restarts and hooks, the errors; headed by the app's name in a list.
  func text(dryRun: Bool) -> [String] {
    var lines = app.name.map { ["app \($0):"] } ?? []
    lines += fileSection(dryRun: dryRun)
    if let check {
      lines.append(
        "check:    \(check.command): \(check.passed ? "passed" : "refused"), \(check.summary)")
    }
    lines += restarts.map { unit, result in
      let command = "\(app.restart.systemctl) \(app.restart.action.rawValue) \(unit)"
      guard let result else { return "would run: \(command)" }
      return "ran: \(command): \(result.summary)"
    }
    if let restartDeferred { lines.append(restartDeferred.description) }
    lines += hooks.map { hook in
      guard let result = hook.result, let followUp = hook.followUp else {
        return "would run hook: \(hook.command)"
      }
      return "ran hook: \(hook.command): \(result.summary); \(followUp.text)"
    }
    lines += errors.map { "error: \($0)" }
    return lines
  }

  private func fileSection(dryRun: Bool) -> [String] {
    guard let plan else { return ["file:     \(app.file) left as it is"] }
    guard plan.changesFile else {
      return ["file:     \(app.file) already holds these values"]
    }
    let verb = dryRun ? "would change" : (wroteFile ? "changed" : "was to change")
    let diff = plan.unifiedDiff(oldLabel: app.file, newLabel: "\(app.file) (pgfollow)")
    return ["file:     \(app.file) \(verb):"]
      + diff.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
  }
}

extension FollowMachine.FollowUp {
  /// "succeeded", "will retry (failure 1 of 3) in 5s", "gave up after 3 failures", ...
  var text: String {
    switch self {
    case .succeeded: "succeeded"
    case .succeededButOwedAgain: "succeeded; owed again for a newer change"
    case .failedStillOwed: "failed; still owed, tried again within the restart limits"
    case .willRetry(let failure, let attempts, let delay):
      "will retry (failure \(failure) of \(attempts)) in \(formatDuration(delay))"
    case .gaveUp(let failures): "gave up after \(failures) failures"
    case .superseded: "superseded by a newer change of leader"
    case .noLongerOwed: "no longer owed"
    }
  }
}
