package import PGFollowCore
package import PGFollowSystem
package import PGFollowYAML

#if canImport(Glibc)
  import Glibc
#endif

/// How a cycle ended, declared from best to worst (that order is `<`); `once` exits with
/// `exitCode`, the raw value.
package enum CycleStatus: Int32, Sendable, Comparable, CaseIterable {
  case inSync = 0
  case changed = 2
  case held = 3
  case splitBrain = 4
  /// Switched, but the application did not reach the new leader within `verify.within`.
  case unverified = 9
  case restartFailed = 7
  case writeFailed = 6
  case lockOrStateFailed = 8
  case configError = 5

  package var exitCode: Int32 { rawValue }

  package static func < (lhs: Self, rhs: Self) -> Bool {
    allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
  }
}

/// Everything one cycle saw, decided and did: one probe and decision, and each app's part.
package struct CycleReport: Sendable {
  package var decision: Decision
  /// Whether this cycle only planned (a dry run): what it lists was not done.
  package var dryRun = false
  /// Each app's part, in configuration order.
  package var apps: [AppReport] = []
  /// Held or split brain: what the decision itself says, whatever the apps did.
  package var decisionStatus: CycleStatus = .inSync

  /// The worst of the decision's and every app's status; `once` exits with it.
  package var status: CycleStatus { apps.map(\.status).reduce(decisionStatus, max) }

  /// Set while a new leader waits for more confirming cycles; nothing was applied.
  package var confirming: Hysteresis.Verdict? { apps.lazy.compactMap(\.confirming).first }

  /// The new leader being confirmed, if one is.
  package var confirmingLeader: String? {
    guard case .confirming(let leader, _, _)? = confirming else { return nil }
    return leader
  }

  /// Every app's errors, each named by its app when there are several.
  package var errors: [String] {
    apps.flatMap { app in app.errors.map { app.app.logPrefix + $0 } }
  }
}

/// One app's part of a cycle.
package struct AppReport: Sendable {
  package var app: AppConfig
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
  /// What `check` said of the new file (or, in a dry run, would say).
  package var check: CheckOutcome?
  /// The new file's check runs in the background (the sidecar); the file waits for its word.
  package var checking = false
  /// Where the app's sessions are, and what they say of the last switch (`verify:`).
  package var sessions: SessionReport?
  package var errors: [String] = []
  package var status: CycleStatus = .inSync

  package init(app: AppConfig) {
    self.app = app
  }

  mutating func fail(_ status: CycleStatus, _ message: String) {
    errors.append(message)
    self.status = max(self.status, status)
  }
}

package struct HookOutcome: Sendable {
  package var command: String
  /// Nil in a dry run: the hook was not run.
  package var result: ProcessResult?
  package var followUp: FollowMachine.FollowUp?
}

/// Every app's follow machine, by the app's label; an app whose state could not be read has none
/// yet (each cycle tries again).
package typealias FollowMachines = [String: FollowMachine]

/// One cycle: probe once, decide, and for each app plan its file edit and let its follow machine
/// say whether to write it; the restarts and hooks they make due are run by `runner`. One app's
/// failure never stops another's work. A dry run stops after planning and reports what would be
/// done. It logs nothing itself: callers log the report (see `ReportLogger`).
package struct Cycle: Sendable {
  package var config: Config
  package var prober: any Prober
  /// Runs the restarts and hooks.
  package let runner: DueWorkRunner
  /// The clock, the dry run and each app's state.
  package var environment: CycleEnvironment { runner.environment }
  /// The sidecar's: an app's check runs under the runner while the loop goes on, instead of
  /// within the cycle.
  package var checksInBackground = false
  package var dryRun: Bool { environment.dryRun }
  package var clock: @Sendable () -> WallSeconds { environment.clock }

  package init(config: Config, prober: any Prober, runner: DueWorkRunner) {
    self.config = config
    self.prober = prober
    self.runner = runner
  }

  package init(
    config: Config, prober: any Prober = LibPQProber(),
    restarter: any Restarter = SystemctlRestarter(), dryRun: Bool,
    clock: @escaping @Sendable () -> WallSeconds = wallClockNow,
    sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
  ) {
    self.init(
      config: config, prober: prober,
      runner: DueWorkRunner(
        environment: CycleEnvironment(
          stateDirectory: config.stateDirectory, dryRun: dryRun, clock: clock, sleep: sleep),
        restarter: restarter))
  }

  /// `once`: runs a cycle, confirms a new leader by probing again (`run.confirm_after` apart)
  /// before switching, and carries out all the work it makes due, app after app.
  package func once() async -> CycleReport {
    var machines = FollowMachines()
    var report = await step(&machines)
    for _ in 0..<config.run.confirmations where report.confirming != nil {
      await environment.sleep(config.run.confirmAfter)
      report = await step(&machines)
    }
    await performDueWork(&machines, into: &report, waitingOutSpacing: true)
    await verifySessions(&machines, into: &report)
    return report
  }

  /// Counts each verified app's sessions; while a switch waits for them (and not in a dry run),
  /// counts again every 200 ms until it is verified, or for 5 s at most (less when `within` is
  /// shorter): the run lock is held meanwhile, and a later run judges the rest.
  package func verifySessions(_ machines: inout FollowMachines, into report: inout CycleReport)
    async
  {
    let check = SessionCheck(config: config)
    guard !check.apps.isEmpty else { return }
    let counter = SessionCounter()
    defer { counter.closeAll() }
    let longest = check.apps.compactMap { $0.verify?.within }.max() ?? .zero
    let giveUp = clock() + min(longest, Self.longestSessionWait).inSeconds
    var sessions: [SessionReport] = []
    var terminatedSome = false
    while true {
      let requests = check.requests(machines, dryRun: dryRun, now: clock())
      let counts = await counter.count(requests, timeouts: config.timeouts)
      let before = machines.mapValues(\.state)
      let now = clock()
      let found = check.judge(counts, &machines, now: now)
      for app in check.apps {
        guard let state = machines[app.label]?.state else { continue }
        try? environment.save(state, changedFrom: before[app.label], app: app)
      }
      sessions = merged(found, into: sessions)
      terminatedSome = terminatedSome || found.contains { !$0.terminated.isEmpty }
      // Sessions just terminated: the application gets the rest of the wait to reconnect.
      let reconnecting = terminatedSome && found.contains { $0.verdict?.isVerified == false }
      let waiting = found.contains(where: \.isWaiting) || reconnecting
      guard !dryRun, waiting, now < giveUp else { break }
      await environment.sleep(.milliseconds(200))
    }
    for index in report.apps.indices {
      let found = sessions.first { $0.app == report.apps[index].app.label }
      report.apps[index].sessions = found
      if case .unverified? = found?.verdict {
        report.apps[index].status = max(report.apps[index].status, .unverified)
      }
    }
  }

  /// How long `once` waits for an application to reconnect after its restart.
  static let longestSessionWait = Duration.seconds(5)

  /// A cycle and then, in order, the work it makes due: the sidecar's logic with no concurrency.
  package func run(_ machines: inout FollowMachines) async -> CycleReport {
    var report = await step(&machines)
    await performDueWork(&machines, into: &report)
    return report
  }

  /// Probe and decide once; then, for each app, load its machine if need be, plan, and replace
  /// its file when the machine says so. Runs no work.
  package func step(_ machines: inout FollowMachines) async -> CycleReport {
    var stateErrors: [String: FileError] = [:]
    for app in config.apps where machines[app.label] == nil {
      do { machines[app.label] = try environment.loadMachine(app, run: config.run) } catch {
        stateErrors[app.label] = error
      }
    }
    var decision = await decideNow(applied: newestApplied(machines))
    if let since = seeUnrecordedPromotion(decision, &machines),
      let promotion = decision.unrecordedPromotion
    {
      let lasted = Duration.seconds(max(0, clock() - since))
      // No figure that moves: the same warning, cycle after cycle, reads the same.
      let delay = Decision.unrecordedPromotionWarningDelay
      if lasted >= delay {
        decision.warnings.append(
          DecisionWarning(
            .unrecordedPromotion, about: "\(promotion.node) \(promotion.timeline)",
            "\(promotion) (for more than \(formatDuration(delay)))"))
      }
      if let grace = config.policy.followUnrecordedPromotion, lasted >= grace {
        decision = decision.followingUnrecordedPromotion(nodes: config.nodeNames)
      }
    }
    var report = CycleReport(decision: decision, dryRun: dryRun)
    if case .hold = decision.outcome { report.decisionStatus = .held }
    if !decision.splitBrain.isEmpty {
      report.decisionStatus = max(report.decisionStatus, .splitBrain)
    }
    for app in config.apps {
      var appReport = AppReport(app: app)
      if let error = stateErrors[app.label] {
        appReport.fail(.lockOrStateFailed, error.description)
      } else if case .follow(let leader, _) = decision.outcome, var machine = machines[app.label] {
        await apply(leader: leader, decision: decision, &machine, &appReport)
        machines[app.label] = machine
      }
      report.apps.append(appReport)
    }
    return report
  }

  /// Each app's machine takes in the decision's unrecorded promotion (its state says since when
  /// it has been seen); returns the earliest such time.
  private func seeUnrecordedPromotion(_ decision: Decision, _ machines: inout FollowMachines)
    -> WallSeconds?
  {
    var earliest: WallSeconds?
    for app in config.apps {
      guard var machine = machines[app.label] else { continue }
      let before = machine.state
      if let since = machine.see(decision.unrecordedPromotion, now: clock()) {
        earliest = min(earliest ?? since, since)
      }
      // Saved again by the cycle's next save if this one fails.
      try? environment.save(machine.state, changedFrom: before, app: app)
      machines[app.label] = machine
    }
    return earliest
  }

  /// The newest row any app has applied: no app is switched back to an older one, and a tie of
  /// rows keeps the leader in effect.
  private func newestApplied(_ machines: FollowMachines) -> AppliedLeader? {
    config.apps.compactMap { machines[$0.label]?.state.applied }.max { $0.unixtime < $1.unixtime }
  }

  private func decideNow(applied: AppliedLeader?) async -> Decision {
    let evidence = await prober.probe(config)
    return decide(
      evidence: evidence, nodes: config.nodeNames, previous: applied, policy: config.policy)
  }

  private func apply(
    leader: String, decision: Decision, _ machine: inout FollowMachine, _ report: inout AppReport
  ) async {
    let app = report.app
    let snapshot: FileSnapshot
    let plan: YAMLEditPlan
    do {
      snapshot = try readSnapshot(app.file)
      plan = try planYAMLEdits(
        snapshot.bytes, edits: config.edits(app, leader: leader, standbys: decision.standbys),
        file: app.file)
    } catch {
      // A path that does not resolve is named at the configuration's line that holds it.
      let located = applicationFileProblems(app)
      return report.fail(
        .writeFailed, located.isEmpty ? "\(error)" : located.joined(separator: "; "))
    }
    report.plan = plan
    let before = machine.state
    // An unrecorded promotion is applied with the newest row, which names another node: the
    // order of later rows stays that row's.
    let row = decision.newestRow
    let step = machine.follow(
      leader: leader, unixtime: row?.unixtime, recorded: row?.recorded,
      leaderPosition: decision.evidence.first { $0.node == leader }?.observation?.position,
      overTimeline: decision.followsUnrecordedPromotion
        ? decision.unrecordedPromotion?.rowLeaderTimeline : nil,
      reason: decision.reason,
      change: plannedChange(plan, app: app), now: clock())
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
      guard !dryRun else {
        // A dry run shows what the check says of the new file, and writes nothing else.
        if let check = app.check {
          report.check = await checkNewFile(check, snapshot, plan.updated)
        }
        return
      }
      await replace(snapshot, with: plan, &machine, &report)
    }
  }

  /// The newest reports, each keeping the sessions an earlier look terminated.
  private func merged(_ newest: [SessionReport], into earlier: [SessionReport]) -> [SessionReport] {
    newest.map { report in
      guard let before = earlier.first(where: { $0.app == report.app }) else { return report }
      var kept = report
      kept.terminatedEarlier = before.terminated
      return kept
    }
  }

  private func save(
    _ state: FollowState, changedFrom before: FollowState, _ report: inout AppReport
  ) {
    do { try environment.save(state, changedFrom: before, app: report.app) } catch {
      report.fail(.lockOrStateFailed, error.description)
    }
  }

  private func plannedChange(_ plan: YAMLEditPlan, app: AppConfig) -> PlannedChange {
    let leaderPaths = Set(app.values.filter { $0.template.usesLeader }.map(\.path))
    return PlannedChange(
      changesFile: plan.changesFile,
      changesLeaderValues: plan.changes.contains { leaderPaths.contains($0.path) },
      target: plan.changes.map { "\($0.path)=\($0.newValue)" }.joined(separator: "\n"))
  }
}
