package import PGFollowCore

/// A restart or hook that finished (or, in a dry run, would run), and what follows from it.
package struct WorkOutcome: Sendable {
  package var work: FollowMachine.Work
  package var result: ProcessResult?
  package var note: String
}

extension Cycle {
  /// Carries out, app after app, the work each machine makes due.
  package func performDueWork(
    _ machines: inout FollowMachines, into report: inout CycleReport,
    waitingOutSpacing: Bool = false
  ) async {
    for index in report.apps.indices {
      let label = report.apps[index].app.label
      guard var machine = machines[label] else { continue }
      await performDueWork(
        &machine, into: &report.apps[index], waitingOutSpacing: waitingOutSpacing)
      machines[label] = machine
    }
  }

  /// Carries out, one after another, the work an app's machine makes due (before-restart hooks,
  /// restarts, after-restart hooks), saving the state after each; stops when nothing more is
  /// due now. With `waitingOutSpacing` (`once`), an owed restart held back only by the minimum
  /// spacing, and not yet tried in this call, is waited for once: the sidecar would make it a
  /// moment later.
  /// A dry run lists what would run.
  func performDueWork(
    _ machine: inout FollowMachine, into report: inout AppReport, waitingOutSpacing: Bool
  ) async {
    var mayWait = waitingOutSpacing && !dryRun
    while true {
      let due = machine.dueWork(now: clock())
      report.restartDeferred = due.deferred
      if case .tooSoon(let wait) = due.deferred, due.start.isEmpty, mayWait,
        wait <= config.run.restartMinimumInterval
      {
        await sleep(wait)
        mayWait = false
        continue
      }
      if due.start.contains(where: { $0.unit != nil }) { mayWait = false }
      guard !due.start.isEmpty else { return }
      let before = machine.state
      for work in due.start {
        let result = dryRun ? nil : await execute(work, app: report.app, state: machine.state)
        let note = machine.finished(
          work, succeeded: result?.succeeded ?? true, error: result?.summary, now: clock())
        record(WorkOutcome(work: work, result: result, note: dryRun ? "would run" : note), &report)
      }
      save(machine.state, changedFrom: before, &report)
    }
  }

  /// Runs one piece of an app's work on a thread of its own (never the cooperative pool),
  /// bounded by its timeout.
  package func execute(_ work: FollowMachine.Work, app: AppConfig, state: FollowState) async
    -> ProcessResult
  {
    let restart = app.restart
    let restarter = self.restarter
    switch work {
    case .restart(let unit, _):
      return await onOwnThread { restarter.restart(unit, with: restart) }
    case .hook(let key, _):
      let timeout = app.hooks.hook(key)?.timeout ?? .seconds(30)
      let environment = hookEnvironment(state.hooks, app: app)
      return await onOwnThread {
        runProcess(key.command, timeout: timeout, environment: environment)
      }
    }
  }

  /// Adds a finished piece of work to an app's part of a cycle's report.
  package func record(_ outcome: WorkOutcome, _ report: inout AppReport) {
    switch outcome.work {
    case .restart(let unit, _):
      report.restarts.append((unit, outcome.result))
      report.status = max(report.status, .changed)
      if let result = outcome.result, !result.succeeded {
        report.fail(.restartFailed, restartFailure(unit, result))
      }
    case .hook(let key, _):
      report.hooks.append(
        HookOutcome(command: key.description, result: outcome.result, note: outcome.note))
    }
  }

  private func hookEnvironment(_ debt: HookDebt?, app: AppConfig) -> [String: String] {
    guard let debt else { return [:] }
    let leader = config.node(named: debt.leader)
    let previous = debt.previous.flatMap(config.node(named:))
    return [
      "PGFOLLOW_LEADER": debt.leader,
      "PGFOLLOW_LEADER_ADDRESS": leader?.address ?? "",
      "PGFOLLOW_LEADER_HOST": leader?.host ?? "",
      "PGFOLLOW_LEADER_PORT": leader?.port ?? "",
      "PGFOLLOW_PREVIOUS_LEADER": debt.previous ?? "",
      "PGFOLLOW_PREVIOUS_ADDRESS": previous?.address ?? "",
      "PGFOLLOW_PREVIOUS_HOST": previous?.host ?? "",
      "PGFOLLOW_REASON": debt.reason,
      "PGFOLLOW_APP": app.label,
      "PGFOLLOW_APP_FILE": app.file,
    ]
  }
}

/// "restart of app.service failed: exited with status 1 (Job for app.service failed.)".
func restartFailure(_ unit: String, _ result: ProcessResult) -> String {
  let firstLine = result.output.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
  let detail = firstLine.isEmpty ? "" : " (\(quotedForLog(firstLine, limit: 200)))"
  return "restart of \(unit) failed: \(result.summary)\(detail)"
}
