package import PGFollowCore
package import PGFollowSystem

/// A restart or hook that finished (or, in a dry run, would run), and what follows from it.
package struct WorkOutcome: Sendable {
  package var app: AppConfig
  package var work: FollowMachine.Work
  /// Nil in a dry run: the work was not run.
  package var result: ProcessResult?
  /// Nil in a dry run.
  package var followUp: FollowMachine.FollowUp?
}

/// The one place that runs what the follow machines make due (restarts and hooks) and keeps
/// their state: each piece runs on a thread of its own, bounded by its timeout; an app's state is
/// saved when work starts and after its results are taken in. `once` and the dry run drive it with
/// `runAll`; the sidecar with `start` and `takeFinished`, told of each finish by `onFinish`. A dry
/// run runs nothing, saves nothing, and counts each piece as done at once.
package final class DueWorkRunner: Sendable {
  package let restarter: any Restarter
  /// The clock, the dry run and the state store the work is done in.
  package let environment: CycleEnvironment
  private let onFinish: @Sendable () -> Void
  private let onCheck: @Sendable () -> Void
  private let finished = Locked(Finished())
  /// The sidecar's checks of new files, by app label: the bytes checked and, once the check has
  /// ended, what it said.
  private let checks = Locked<[String: CheckRun]>([:])

  private struct CheckRun {
    var id: Int
    var bytes: [UInt8]
    var outcome: CheckOutcome?
  }

  private struct Finished {
    var outcomes: [(app: AppConfig, work: FollowMachine.Work, result: ProcessResult?)] = []
    var waiter: CheckedContinuation<Void, Never>?
  }

  /// `onFinish` is told of each restart or hook that ends, `onCheck` of each check.
  package init(
    environment: CycleEnvironment, restarter: any Restarter = SystemctlRestarter(),
    onFinish: @escaping @Sendable () -> Void = {}, onCheck: @escaping @Sendable () -> Void = {}
  ) {
    self.environment = environment
    self.restarter = restarter
    self.onFinish = onFinish
    self.onCheck = onCheck
  }

  /// What the app's check said of exactly `bytes`, once a check of them has ended (given once);
  /// until then nil, with the check started on a thread of its own if none of these bytes runs.
  /// A check of older bytes still running is left to end and its word dropped.
  package func checked(
    _ app: AppConfig, _ bytes: [UInt8], running check: @escaping @Sendable () -> CheckOutcome
  ) -> CheckOutcome? {
    let step = checks.withLock { checks -> CheckStep in
      if let run = checks[app.label], run.bytes == bytes {
        guard let outcome = run.outcome else { return .running }
        checks[app.label] = nil
        return .ended(outcome)
      }
      let id = (checks[app.label]?.id ?? 0) + 1
      checks[app.label] = CheckRun(id: id, bytes: bytes)
      return .start(id)
    }
    switch step {
    case .ended(let outcome): return outcome
    case .running: return nil
    case .start(let id):
      startThread { [self] in
        let outcome = check()
        checks.withLock { checks in
          if checks[app.label]?.id == id { checks[app.label]?.outcome = outcome }
        }
        onCheck()
      }
      return nil
    }
  }

  private var dryRun: Bool { environment.dryRun }
  private var clock: @Sendable () -> WallSeconds { environment.clock }

  private func save(_ state: FollowState, changedFrom before: FollowState?, app: AppConfig)
    throws(FileError)
  {
    try environment.save(state, changedFrom: before, app: app)
  }

  /// Starts what the app's machine says is due now and saves the state that says so. Returns
  /// the work started and why an owed restart must wait, if it must.
  package func start(_ app: AppConfig, config: Config, _ machine: inout FollowMachine)
    throws(FileError) -> (started: [FollowMachine.Work], deferred: RestartLimiter.Denial?)
  {
    let before = machine.state
    let due = machine.dueWork(now: clock())
    for work in due.start {
      if dryRun {
        finish(app, work, nil)
      } else {
        let variables = hookEnvironment(machine.state.hooks, app: app, config: config)
        let restarter = self.restarter
        startThread { [self] in
          finish(app, work, Self.execute(work, app: app, restarter, variables))
        }
      }
    }
    try save(machine.state, changedFrom: before, app: app)
    return (due.start, due.deferred)
  }

  /// `start` for the app's machine among `machines` (nothing when it has none yet): the one
  /// wrapper `once`, the dry runs and the sidecar share.
  package func start(_ app: AppConfig, config: Config, in machines: inout FollowMachines)
    throws(FileError) -> (started: [FollowMachine.Work], deferred: RestartLimiter.Denial?)
  {
    guard var machine = machines[app.label] else { return ([], nil) }
    defer { machines[app.label] = machine }
    return try start(app, config: config, &machine)
  }

  /// Hands every result that came in since the last call to its app's machine, and saves the
  /// states it changed. Results of apps no longer configured go to their machines all the same.
  package func takeFinished(_ machines: inout FollowMachines) -> (
    outcomes: [WorkOutcome], saveErrors: [(app: AppConfig, error: FileError)]
  ) {
    let done = finished.withLock { finished in
      defer { finished.outcomes = [] }
      return finished.outcomes
    }
    var outcomes: [WorkOutcome] = []
    var before: [String: (app: AppConfig, state: FollowState)] = [:]
    for (app, work, result) in done {
      guard var machine = machines[app.label] else { continue }
      if before[app.label] == nil { before[app.label] = (app, machine.state) }
      let followUp = machine.finished(
        work, succeeded: result?.succeeded ?? true, error: result?.summary, now: clock())
      machines[app.label] = machine
      outcomes.append(
        WorkOutcome(app: app, work: work, result: result, followUp: dryRun ? nil : followUp))
    }
    var saveErrors: [(app: AppConfig, error: FileError)] = []
    for (label, (app, state)) in before.sorted(by: { $0.key < $1.key }) {
      guard let machine = machines[label] else { continue }
      do { try save(machine.state, changedFrom: state, app: app) } catch {
        saveErrors.append((app, error))
      }
    }
    return (outcomes, saveErrors)
  }

  /// Returns once a result is waiting for `takeFinished`.
  package func awaitFinished() async {
    await withCheckedContinuation { continuation in
      let ready = finished.withLock { finished in
        if finished.outcomes.isEmpty { finished.waiter = continuation }
        return !finished.outcomes.isEmpty
      }
      if ready { continuation.resume() }
    }
  }

  private func finish(_ app: AppConfig, _ work: FollowMachine.Work, _ result: ProcessResult?) {
    let waiter = finished.withLock { finished in
      finished.outcomes.append((app, work, result))
      defer { finished.waiter = nil }
      return finished.waiter
    }
    waiter?.resume()
    onFinish()
  }

  private static func execute(
    _ work: FollowMachine.Work, app: AppConfig, _ restarter: any Restarter,
    _ environment: [String: String]
  ) -> ProcessResult {
    switch work {
    case .restart(let unit, _):
      return restarter.restart(unit, with: app.restart)
    case .hook(let key, _):
      let timeout = app.hooks.hook(key)?.timeout ?? .seconds(30)
      return runProcess(key.command, timeout: timeout, environment: environment)
    }
  }

  private func hookEnvironment(_ debt: HookDebt?, app: AppConfig, config: Config) -> [String:
    String]
  {
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

/// Where a background check of some bytes stands.
private enum CheckStep: Sendable {
  case ended(CheckOutcome)
  case running
  case start(Int)
}
