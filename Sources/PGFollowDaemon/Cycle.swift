public import PGFollowCore
public import PGFollowYAML

/// How a cycle ended, from best to worst; `once` exits with `exitCode`.
public enum CycleStatus: Int32, Sendable, Comparable {
  case inSync = 0
  case changed = 2
  case held = 3
  case splitBrain = 4
  case configError = 5
  case writeFailed = 6
  case restartFailed = 7
  case lockOrStateFailed = 8

  public var exitCode: Int32 { rawValue }

  var severity: Int { [0: 0, 2: 1, 3: 2, 4: 3, 7: 4, 6: 5, 8: 6, 5: 7][rawValue] ?? 7 }

  public static func < (lhs: Self, rhs: Self) -> Bool { lhs.severity < rhs.severity }
}

/// Everything one cycle saw, decided and did.
public struct CycleReport: Sendable {
  public var decision: Decision
  /// Set while a new leader waits for more confirming cycles; nothing was applied.
  public var confirming: Hysteresis.Verdict?
  public var plan: YAMLEditPlan?
  public var wroteFile = false
  /// Units restarted (or, in a dry run, that would be) with their results.
  public var restarts: [(unit: String, result: ProcessResult?)] = []
  /// Why owed restarts were not attempted in this cycle.
  public var restartDeferred: RestartLimiter.Denial?
  /// A change that keeps the leader, waiting this much longer to prove it lasts.
  public var settling: Duration?
  /// Hooks run (or, in a dry run, that would be), with their results and what follows.
  public var hooks: [HookOutcome] = []
  public var errors: [String] = []
  public var status: CycleStatus = .inSync
}

public struct HookOutcome: Sendable {
  public var command: String
  public var result: ProcessResult?
  /// "succeeded", "will retry (failure 1 of 3)", "gave up after 3 failures", or "would run".
  public var note: String
}

/// What persists across the cycles of one process: hysteresis and the restart limiter (both off
/// for `once`), and the clock they read.
public struct CycleControls: Sendable {
  public var hysteresis: Hysteresis?
  public var limiter: RestartLimiter?
  /// How long a change that keeps the leader must last; nil applies it at once (`once`).
  public var settle: Duration?
  /// Such a change (the file it would write) and when it was first seen.
  var unsettled: (target: [UInt8], since: ContinuousClock.Instant)?
  public var clock: @Sendable () -> ContinuousClock.Instant

  public init(
    hysteresis: Hysteresis? = nil, limiter: RestartLimiter? = nil,
    clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
  ) {
    self.hysteresis = hysteresis
    self.limiter = limiter
    self.clock = clock
  }

  /// The sidecar's controls: hysteresis and limiter as `run` configures them.
  public init(
    run: RunConfig, clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
  ) {
    self.init(
      hysteresis: Hysteresis(required: run.confirmations),
      limiter: RestartLimiter(
        minimumInterval: run.restartMinimumInterval, maximumPerHour: run.restartMaximumPerHour),
      clock: clock)
    settle = run.standbySettle
  }

  /// Whether a change that keeps the leader has lasted long enough; if not, how long to go.
  mutating func timeToSettle(_ target: [UInt8]) -> Duration? {
    guard let settle else { return nil }
    let now = clock()
    if unsettled?.target != target { unsettled = (target, now) }
    let waited = unsettled.map { $0.since.duration(to: now) } ?? .zero
    return waited >= settle ? nil : settle - waited
  }
}

/// One cycle: probe, decide, plan the file edit, write it atomically, restart, remember.
/// The same code serves `once`, `run` and `--dry-run`; a dry run stops after planning.
/// It logs nothing itself: callers log the report (see `ReportLogger`).
public struct Cycle: Sendable {
  public var config: Config
  public var prober: any Prober
  public var restarter: any Restarter
  public var store: StateStore
  public var dryRun: Bool

  public init(
    config: Config, prober: any Prober = LibPQProber(),
    restarter: any Restarter = SystemctlRestarter(), dryRun: Bool
  ) {
    self.config = config
    self.prober = prober
    self.restarter = restarter
    self.store = StateStore(directory: config.stateDirectory)
    self.dryRun = dryRun
  }

  public func run(_ controls: inout CycleControls) async -> CycleReport {
    var state = FollowState()
    var loadError: String?
    do { state = try store.load() } catch { loadError = error.description }
    let evidence = await prober.probe(config)
    let decision = decide(
      evidence: evidence, nodes: config.nodeNames, previous: state.applied, policy: config.policy)
    var report = CycleReport(decision: decision)
    if let loadError { fail(&report, .lockOrStateFailed, loadError) }
    switch decision.outcome {
    case .follow(let leader, let standby) where loadError == nil:
      let verdict = controls.hysteresis?.judge(leader: leader)
      if let verdict, verdict != .apply {
        report.confirming = verdict
      } else {
        apply(leader: leader, standby: standby, decision: decision, &state, &report, &controls)
      }
    case .follow:
      break
    case .hold:
      report.status = max(report.status, .held)
    }
    if !decision.splitBrain.isEmpty { report.status = max(report.status, .splitBrain) }
    if loadError == nil {
      runHooks(.beforeRestart, &state, &report)
      restartPending(&state, &report, &controls)
      if state.pendingRestart.isEmpty { runHooks(.afterRestart, &state, &report) }
    }
    return report
  }

  private func apply(
    leader: String, standby: String?, decision: Decision, _ state: inout FollowState,
    _ report: inout CycleReport, _ controls: inout CycleControls
  ) {
    let snapshot: FileSnapshot
    let plan: YAMLEditPlan
    do {
      snapshot = try readSnapshot(config.app.file)
      plan = try planYAMLEdits(
        snapshot.bytes, edits: config.edits(leader: leader, standby: standby),
        file: config.app.file)
    } catch {
      return fail(&report, .writeFailed, "\(error)")
    }
    report.plan = plan
    if !plan.changesFile || state.applied?.name != leader {
      controls.unsettled = nil
    } else if let wait = controls.timeToSettle(plan.updated) {
      report.settling = wait
      return
    }
    var next = state
    if let row = decision.newestRow {
      next.applied = AppliedLeader(name: leader, unixtime: row.unixtime)
    }
    if state.applied?.name != leader && !config.hooks.isEmpty {
      next.hooks = HookRun(
        leader: leader, previous: state.applied?.name, reason: decision.reason,
        pending: Array(config.hooks.indices), failures: config.hooks.map { _ in 0 })
    }
    if plan.changesFile {
      next.pendingRestart = config.restart.units
      report.status = max(report.status, .changed)
    }
    if dryRun {
      state = next
      return
    }
    let owedBefore = state.pendingRestart
    do {
      if next != state { try store.save(next) }
      state = next
      if plan.changesFile {
        try replaceAtomically(snapshot, with: plan.updated)
        report.wroteFile = true
      }
    } catch {
      // The file was not replaced: the restart recorded for it is not owed after all.
      if state.pendingRestart != owedBefore {
        state.pendingRestart = owedBefore
        try? store.save(state)
      }
      fail(&report, .writeFailed, error.description)
    }
  }

  private func restartPending(
    _ state: inout FollowState, _ report: inout CycleReport, _ controls: inout CycleControls
  ) {
    let units = config.restart.units.filter(state.pendingRestart.contains)
    guard !units.isEmpty else { return }
    if dryRun {
      report.restarts = units.map { ($0, nil) }
      return
    }
    for unit in units {
      let now = controls.clock()
      if let denial = controls.limiter?.denial(at: now) {
        report.restartDeferred = denial
        break
      }
      controls.limiter?.record(at: now)
      let result = restarter.restart(unit, with: config.restart)
      report.restarts.append((unit, result))
      if result.succeeded {
        state.pendingRestart.removeAll { $0 == unit }
      } else {
        state.restartFailures += 1
        state.lastRestartError = "\(unit): \(result.summary)"
        fail(
          &report, .restartFailed, "restart of \(unit) failed: \(result.summary)" + detail(result))
      }
    }
    if state.pendingRestart.isEmpty {
      state.restartFailures = 0
      state.lastRestartError = nil
    }
    if !report.restarts.isEmpty { report.status = max(report.status, .changed) }
    do { try store.save(state) } catch { fail(&report, .lockOrStateFailed, error.description) }
  }

  /// Runs the owed hooks of one timing, once each; a failure is retried in later cycles until
  /// the hook's attempts are used up. Failures never change the cycle's status.
  private func runHooks(
    _ timing: HookConfig.Timing, _ state: inout FollowState, _ report: inout CycleReport
  ) {
    guard var run = state.hooks else { return }
    var index = 0
    while index < run.pending.count {
      let hookIndex = run.pending[index]
      guard hookIndex < config.hooks.count else {
        run.pending.remove(at: index)
        run.failures.remove(at: index)
        continue
      }
      let hook = config.hooks[hookIndex]
      let command = hook.command.joined(separator: " ")
      guard hook.when == timing else {
        index += 1
        continue
      }
      if dryRun {
        report.hooks.append(HookOutcome(command: command, result: nil, note: "would run"))
        index += 1
        continue
      }
      let result = runProcess(
        hook.command, timeout: hook.timeout, environment: hookEnvironment(run))
      run.failures[index] += result.succeeded ? 0 : 1
      let failures = run.failures[index]
      let note =
        result.succeeded
        ? "succeeded"
        : failures >= hook.attempts
          ? "gave up after \(failures) failures"
          : "will retry (failure \(failures) of \(hook.attempts))"
      report.hooks.append(HookOutcome(command: command, result: result, note: note))
      if result.succeeded || failures >= hook.attempts {
        run.pending.remove(at: index)
        run.failures.remove(at: index)
      } else {
        index += 1
      }
    }
    guard !dryRun else { return }
    state.hooks = run.pending.isEmpty ? nil : run
    do { try store.save(state) } catch { fail(&report, .lockOrStateFailed, error.description) }
  }

  private func hookEnvironment(_ run: HookRun) -> [String: String] {
    let leader = config.node(named: run.leader)
    let previous = run.previous.flatMap(config.node(named:))
    return [
      "PGFOLLOW_LEADER": run.leader,
      "PGFOLLOW_LEADER_ADDRESS": leader?.address ?? "",
      "PGFOLLOW_LEADER_HOST": leader?.host ?? "",
      "PGFOLLOW_LEADER_PORT": leader?.port ?? "",
      "PGFOLLOW_PREVIOUS_LEADER": run.previous ?? "",
      "PGFOLLOW_PREVIOUS_ADDRESS": previous?.address ?? "",
      "PGFOLLOW_PREVIOUS_HOST": previous?.host ?? "",
      "PGFOLLOW_REASON": run.reason,
    ]
  }

  private func fail(_ report: inout CycleReport, _ status: CycleStatus, _ message: String) {
    report.errors.append(message)
    report.status = max(report.status, status)
  }
}

private func detail(_ result: ProcessResult) -> String {
  let firstLine = result.output.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
  return firstLine.isEmpty ? "" : " (\(quotedForLog(firstLine, limit: 200)))"
}
