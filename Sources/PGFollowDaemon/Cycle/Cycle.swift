package import PGFollowCore
package import PGFollowYAML

#if canImport(Glibc)
  import Glibc
#endif

/// How a cycle ended, from best to worst; `once` exits with `exitCode`.
package enum CycleStatus: Int32, Sendable, Comparable {
  case inSync = 0
  case changed = 2
  case held = 3
  case splitBrain = 4
  case configError = 5
  case writeFailed = 6
  case restartFailed = 7
  case lockOrStateFailed = 8

  package var exitCode: Int32 { rawValue }

  var severity: Int { [0: 0, 2: 1, 3: 2, 4: 3, 7: 4, 6: 5, 8: 6, 5: 7][rawValue] ?? 7 }

  package static func < (lhs: Self, rhs: Self) -> Bool { lhs.severity < rhs.severity }
}

/// Everything one cycle saw, decided and did.
package struct CycleReport: Sendable {
  package var decision: Decision
  /// Whether this cycle only planned (a dry run): what it lists was not done.
  package var dryRun = false
  /// Set while a new leader waits for more confirming cycles; nothing was applied.
  package var confirming: Hysteresis.Verdict?
  package var plan: YAMLEditPlan?
  package var wroteFile = false
  /// Units restarted (or, in a dry run, that would be) with their results.
  package var restarts: [(unit: String, result: ProcessResult?)] = []
  /// Why owed restarts were not attempted in this cycle.
  package var restartDeferred: RestartLimiter.Denial?
  /// A change that keeps the leader, waiting this much longer to prove it lasts.
  package var settling: Duration?
  /// Hooks run (or, in a dry run, that would be), with their results and what follows.
  package var hooks: [HookOutcome] = []
  package var errors: [String] = []
  package var status: CycleStatus = .inSync

  mutating func fail(_ status: CycleStatus, _ message: String) {
    errors.append(message)
    self.status = max(self.status, status)
  }
}

package struct HookOutcome: Sendable {
  package var command: String
  package var result: ProcessResult?
  /// "succeeded", "will retry (failure 1 of 3) in 5s", "gave up after 3 failures", or
  /// "would run".
  package var note: String
}

/// The wall clock, in seconds since the epoch.
package func wallClockNow() -> WallSeconds {
  var time = timespec()
  clock_gettime(CLOCK_REALTIME, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// One cycle: probe, decide, plan the file edit, and let the follow machine say whether to write
/// it; the restarts and hooks it makes due are carried out by `performDueWork` (in order, for
/// `once`) or in the background (the sidecar). A dry run stops after planning and reports what
/// would be done. It logs nothing itself: callers log the report (see `ReportLogger`).
package struct Cycle: Sendable {
  package var config: Config
  package var prober: any Prober
  package var restarter: any Restarter
  package var store: StateStore
  package var dryRun: Bool
  package var clock: @Sendable () -> WallSeconds
  package var sleep: @Sendable (Duration) async -> Void

  package init(
    config: Config, prober: any Prober = LibPQProber(),
    restarter: any Restarter = SystemctlRestarter(), dryRun: Bool,
    clock: @escaping @Sendable () -> WallSeconds = wallClockNow,
    sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
  ) {
    self.config = config
    self.prober = prober
    self.restarter = restarter
    self.store = StateStore(directory: config.stateDirectory)
    self.dryRun = dryRun
    self.clock = clock
    self.sleep = sleep
  }

  /// A follow machine on the saved state and this configuration.
  package func loadMachine() throws(FileError) -> FollowMachine {
    FollowMachine(state: try store.load(), settings: FollowSettings(config))
  }

  /// `once`: loads the state, runs a cycle, confirms a new leader by probing again
  /// (`run.confirm_after` apart) before switching, and carries out all the work it makes due.
  package func once() async -> CycleReport {
    var machine: FollowMachine
    do { machine = try loadMachine() } catch { return await stateUnusable(error) }
    var report = await step(&machine)
    for _ in 0..<config.run.confirmations where report.confirming != nil {
      await sleep(config.run.confirmAfter)
      report = await step(&machine)
    }
    await performDueWork(&machine, into: &report, waitingOutSpacing: true)
    return report
  }

  /// What the nodes say, when the state file cannot be read: nothing is applied.
  package func stateUnusable(_ error: FileError) async -> CycleReport {
    var report = CycleReport(decision: await decideNow(applied: nil), dryRun: dryRun)
    report.fail(.lockOrStateFailed, error.description)
    return report
  }

  /// A cycle and then, in order, the work it makes due: the sidecar's logic with no concurrency.
  package func run(_ machine: inout FollowMachine) async -> CycleReport {
    var report = await step(&machine)
    await performDueWork(&machine, into: &report)
    return report
  }

  /// Probe, decide and plan; replaces the file when the machine says so. Runs no work.
  package func step(_ machine: inout FollowMachine) async -> CycleReport {
    let decision = await decideNow(applied: machine.state.applied)
    var report = CycleReport(decision: decision, dryRun: dryRun)
    switch decision.outcome {
    case .follow(let leader, let standby):
      apply(leader: leader, standby: standby, &machine, &report)
    case .hold:
      report.status = max(report.status, .held)
    }
    if !decision.splitBrain.isEmpty { report.status = max(report.status, .splitBrain) }
    return report
  }

  private func decideNow(applied: AppliedLeader?) async -> Decision {
    let evidence = await prober.probe(config)
    return decide(
      evidence: evidence, nodes: config.nodeNames, previous: applied, policy: config.policy)
  }

  private func apply(
    leader: String, standby: String?, _ machine: inout FollowMachine, _ report: inout CycleReport
  ) {
    let snapshot: FileSnapshot
    let plan: YAMLEditPlan
    do {
      snapshot = try readSnapshot(config.app.file)
      plan = try planYAMLEdits(
        snapshot.bytes, edits: config.edits(leader: leader, standbys: report.decision.standbys),
        file: config.app.file)
    } catch {
      // A path that does not resolve is named at the configuration's line that holds it.
      let located = applicationFileProblems(config)
      return report.fail(
        .writeFailed, located.isEmpty ? "\(error)" : located.joined(separator: "; "))
    }
    report.plan = plan
    let before = machine.state
    let step = machine.follow(
      leader: leader, unixtime: report.decision.newestRow?.unixtime,
      reason: report.decision.reason, change: plannedChange(plan), now: clock())
    switch step {
    case .confirming(let verdict):
      report.confirming = verdict
    case .settling(let wait):
      report.settling = wait
      save(machine.state, changedFrom: before, &report)
    case .inSync:
      save(machine.state, changedFrom: before, &report)
    case .replaceFile:
      report.status = max(report.status, .changed)
      guard !dryRun else { return }
      replace(snapshot, with: plan, &machine, &report)
    }
  }

  /// Saves the state that owes the restart, then replaces the file; if either fails, nothing of
  /// the change counts as applied, and the next cycle tries again.
  private func replace(
    _ snapshot: FileSnapshot, with plan: YAMLEditPlan, _ machine: inout FollowMachine,
    _ report: inout CycleReport
  ) {
    do {
      try store.save(machine.state)
      try replaceAtomically(snapshot, with: plan.updated)
      report.wroteFile = true
    } catch {
      machine.fileNotReplaced()
      try? store.save(machine.state)
      report.fail(.writeFailed, "cannot switch \(config.app.file): \(error.description)")
    }
  }

  func save(_ state: FollowState, changedFrom before: FollowState, _ report: inout CycleReport) {
    guard !dryRun, state != before else { return }
    do { try store.save(state) } catch { report.fail(.lockOrStateFailed, error.description) }
  }

  private func plannedChange(_ plan: YAMLEditPlan) -> PlannedChange {
    let leaderPaths = Set(config.app.values.filter { $0.template.usesLeader }.map(\.path))
    return PlannedChange(
      changesFile: plan.changesFile,
      changesLeaderValues: plan.changes.contains { leaderPaths.contains($0.path) },
      target: plan.changes.map { "\($0.path)=\($0.newValue)" }.joined(separator: "\n"))
  }
}
