package import PGFollowCore
import PGFollowSystem

extension Cycle {
  /// Runs the work every app's machine makes due, as the sidecar does (each piece once it is
  /// due, on a thread of its own), and awaits all of it: what `once` and the dry runs do after a
  /// cycle. With `waitingOutSpacing` (`once`), an owed restart held back only by the minimum
  /// spacing, and not yet tried in this call, is waited for once: the sidecar would make it a
  /// moment later. A dry run lists what would run.
  package func performDueWork(
    _ machines: inout FollowMachines, into report: inout CycleReport,
    waitingOutSpacing: Bool = false
  ) async {
    var mayWait = waitingOutSpacing && !dryRun
    while true {
      for index in report.apps.indices {
        if startDueWork(&machines, &report.apps[index]) { mayWait = false }
      }
      if report.apps.allSatisfy({ machines[$0.app.label]?.inFlight.isEmpty ?? true }) {
        guard mayWait, let wait = spacingWait(report) else { return }
        mayWait = false
        await environment.sleep(wait)
        continue
      }
      await runner.awaitFinished()
      let finished = runner.takeFinished(&machines)
      for outcome in finished.outcomes {
        guard let index = report.apps.firstIndex(where: { $0.app.label == outcome.app.label })
        else { continue }
        record(outcome, &report.apps[index])
      }
      for (app, error) in finished.saveErrors {
        report.apps.firstIndex { $0.app.label == app.label }.map {
          report.apps[$0].fail(.lockOrStateFailed, error.description)
        }
      }
    }
  }

  /// Starts the app's due work; returns whether a restart started.
  private func startDueWork(_ machines: inout FollowMachines, _ report: inout AppReport) -> Bool {
    do {
      let due = try runner.start(report.app, config: config, in: &machines)
      report.restartDeferred = due.deferred
      return due.started.contains { $0.unit != nil }
    } catch {
      report.fail(.lockOrStateFailed, error.description)
      return false
    }
  }

  /// How long an owed restart waits for the minimum spacing alone, if one does, and no longer
  /// than that spacing.
  private func spacingWait(_ report: CycleReport) -> Duration? {
    report.apps.lazy.compactMap { app -> Duration? in
      guard case .tooSoon(let wait) = app.restartDeferred,
        wait <= config.run.restartMinimumInterval
      else { return nil }
      return wait
    }.max()
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
        HookOutcome(command: key.description, result: outcome.result, followUp: outcome.followUp))
    }
  }
}

/// "restart of app.service failed: exited with status 1 (Job for app.service failed.)".
func restartFailure(_ unit: String, _ result: ProcessResult) -> String {
  let firstLine = result.output.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
  let detail = firstLine.isEmpty ? "" : " (\(quotedForLog(firstLine, limit: 200)))"
  return "restart of \(unit) failed: \(result.summary)\(detail)"
}
