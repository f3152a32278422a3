import Logging
import PGFollowCore
import PGFollowSystem

/// The loop's own state: the configuration, the machine, what it reports to.
struct SidecarLoop {
  let sidecar: Sidecar
  var config: Config
  let wake: WakeSignal
  /// Each app's machine, by label; an app missing here has its state loaded by the next cycle.
  var machines = FollowMachines()
  var reportLogger: ReportLogger
  let watchers: NodeWatchers
  let prober: BoardProber
  let metrics = Metrics()
  /// Runs restarts and hooks in the background; each finish wakes the loop.
  let runner: DueWorkRunner
  /// When to decide, ping, retry and count: the loop's timing, as a pure value.
  var machine: SidecarMachine
  var listener: HTTPListener?
  /// What the listener's `/status` and `/healthz` answer from.
  let live = LiveStatus()
  /// What a failover will need and this user may not do, as last checked.
  var preflightProblems: [PreflightProblem] = []
  /// Counts the applications' sessions in the background (`verify:`), at its own pace.
  var sessions = SessionWatch()
  var ready = false
  /// The listener could not start last time it was tried.
  var listenerFailed = false
  var stopping = false
  var status = "starting"
  var logger: Logger { sidecar.logger }

  init(sidecar: Sidecar, config: Config, wake: WakeSignal) {
    self.sidecar = sidecar
    self.config = config
    self.wake = wake
    reportLogger = ReportLogger(logger: sidecar.logger, onlyChanges: true)
    // A dry run's work is taken in by the cycle that made it due: no wake.
    let dryRun = sidecar.dryRun
    runner = DueWorkRunner(
      environment: CycleEnvironment(stateDirectory: config.stateDirectory, dryRun: dryRun),
      onFinish: { if !dryRun { wake.post(.workDone) } }, onCheck: { wake.post(.checkDone) })
    watchers = NodeWatchers(config, pace: watchPace(nil, config)) {
      wake.post(.evidence)
    }
    prober = BoardProber(board: watchers.board)
    machine = SidecarMachine(
      now: .now, watchdogPeriod: SystemdNotifier.watchdogInterval.map { $0 / 2 },
      listenerRetry: Sidecar.listenerRetry,
      countsSessions: !SessionCheck(config: config).apps.isEmpty)
  }

  var cycle: Cycle {
    var cycle = Cycle(config: config, prober: prober, runner: runner)
    cycle.checksInBackground = true
    return cycle
  }

  var lateNodes: [String] { watchers.board.lateNodes }

  mutating func run() async {
    var event = startListener()
    let mode = sidecar.dryRun ? " (dry run: nothing will be changed)" : ""
    logger.notice(
      "watching \(config.nodes.count) nodes every \(formatDuration(config.run.interval))\(mode)")
    reportPreflight()
    await awaitFirstAnswers()
    _ = machine.handle(event, now: .now)
    event = .started
    while await perform(event) {
      let timeout = machine.wakeAt.map { ContinuousClock.now.duration(to: $0) } ?? .seconds(3600)
      event = takeIn(await wake.wait(timeout: max(.zero, timeout)))
    }
  }

  /// What a wake means to the machine; what came in (finished work, session counts) is taken in
  /// first.
  private mutating func takeIn(_ woken: Wake) -> SidecarMachine.Event {
    switch woken {
    case .timer: return .timer
    case .evidence:
      let leader = machine.confirming.map { watchers.board.sequence(of: $0.leader) }
      return .evidence(version: watchers.board.version, leaderSequence: leader)
    case .cycleNow: return .probeNow
    case .workDone: return .workDone(restarted: handleFinishedWork())
    case .sessionsCounted: return .sessionsCounted(next: takeSessionCounts())
    case .reload: return .reload
    case .stop: return .stop
    case .checkDone: return .checkDone
    }
  }

  /// Carries out what the machine says to `event`; a cycle's end, a reload or the listener's
  /// fate is told back to it. False once stopped.
  private mutating func perform(_ event: SidecarMachine.Event) async -> Bool {
    var events = [event]
    while !events.isEmpty {
      for action in machine.handle(events.removeFirst(), now: .now) {
        switch action {
        case .runCycle: events.append(await runCycle())
        case .ping: ping()
        case .retryListener: events.append(startListener())
        case .startSessionCount: startSessionCount()
        case .reload: events += reloadConfig()
        case .probeNow: watchers.probeNow()
        case .stop:
          await finishWorkInFlight()
          watchers.stopAll()
          listener?.stop()
          sessions.counter.closeAll()
          return false
        }
      }
    }
    return true
  }

  /// At start, every node's first answer (or failure) is waited for, at most one connect and
  /// query timeout and never more than 5 s (systemd waits for READY), so the first decision is
  /// not made blind.
  private func awaitFirstAnswers() async {
    let wait = min(config.timeouts.connect + config.timeouts.query, .seconds(5))
    let deadline = ContinuousClock.now + wait
    while !watchers.board.hasHeard(from: config.nodeNames), ContinuousClock.now < deadline {
      let woken = await wake.wait(timeout: ContinuousClock.now.duration(to: deadline))
      if woken != .evidence && woken != .timer {
        wake.post(woken)
        return
      }
    }
  }

  /// One cycle, then the work it makes due started in the background; what the machine needs
  /// to know of it.
  private mutating func runCycle() async -> SidecarMachine.Event {
    let started = ContinuousClock.now
    let cycle = self.cycle
    var report = await cycle.step(&machines)
    let confirming = report.confirmingLeader.map { leader in
      SidecarMachine.Confirming(leader: leader, sequence: prober.last?.sequences[leader] ?? 0)
    }
    let hedging = watchers.setPace(watchPace(report, config, late: lateNodes))
    for node in hedging.hedged {
      logger.notice(
        "node \(node) answers late often (a lossy link?): probing it over a second connection too"
      )
    }
    for node in hedging.unhedged {
      logger.notice("node \(node) answers in time again: back to one connection")
    }
    if sidecar.dryRun {
      await cycle.performDueWork(&machines, into: &report)
      reportLogger.log(report, config: config)
    } else {
      // What the cycle did is logged before the work it makes due starts.
      reportLogger.log(report, config: config)
      for index in report.apps.indices {
        let app = report.apps[index].app
        report.apps[index].restartDeferred = startDueWork(app)
        reportLogger.logDeferral(report.apps[index].restartDeferred, app: app)
      }
    }
    logger.debug("cycle took \(started.duration(to: .now).wholeMilliseconds)ms")
    metrics.observe(report, duration: started.duration(to: .now), config: config)
    live.update(config: config, report: report, machines: machines, preflight: preflightProblems)
    metrics.observe(owed: machines)
    status = statusLine(report)
    sessions.lastDecision = report.decision
    return .cycleDone(
      pace: decisionPace(report, config, late: lateNodes),
      evidenceExpires: watchers.board.nextExpiry(), confirming: confirming,
      version: prober.last?.version ?? -1, wroteFile: report.apps.contains(where: \.wroteFile))
  }

  /// Starts what the app's machine says is due; returns why an owed restart must wait, if it
  /// must.
  private mutating func startDueWork(_ app: AppConfig) -> RestartLimiter.Denial? {
    do {
      let due = try runner.start(app, config: config, in: &machines)
      for item in due.started {
        logger.notice(
          "\(app.logPrefix)\(describeStart(item)) (in the background; the sidecar keeps watching)"
        )
      }
      return due.deferred
    } catch {
      logger.error("\(app.logPrefix)\(error)")
      return nil
    }
  }

  /// Hands finished work to its app's machine (the runner saves the state), logs it, and starts
  /// what is due next.
  /// Returns whether an application was restarted.
  @discardableResult
  private mutating func handleFinishedWork() -> Bool {
    let finished = runner.takeFinished(&machines)
    var touched: [String] = []
    for outcome in finished.outcomes {
      reportLogger.log(outcome)
      metrics.observe(outcome)
      if !touched.contains(outcome.app.label) { touched.append(outcome.app.label) }
    }
    for (app, error) in finished.saveErrors { logger.error("\(app.logPrefix)\(error)") }
    defer {
      live.update(machines: machines)
      metrics.observe(owed: machines)
    }
    for app in config.apps where touched.contains(app.label) && !stopping {
      reportLogger.logDeferral(startDueWork(app), app: app)
    }
    forgetDroppedApps()
    return finished.outcomes.contains { $0.work.unit != nil }
  }

  /// An app no longer configured is forgotten once its work in flight has finished.
  private mutating func forgetDroppedApps() {
    let labels = Set(config.apps.map(\.label))
    machines = machines.filter { labels.contains($0.key) || !$0.value.inFlight.isEmpty }
  }

  private var inFlight: [String] {
    machines.values.flatMap(\.inFlight).map(describeStart).sorted()
  }

  /// At shutdown: a restart or hook in flight is waited for (each is bounded by its timeout),
  /// so the state says truly whether it was done.
  private mutating func finishWorkInFlight() async {
    stopping = true
    guard !inFlight.isEmpty else { return }
    let names = inFlight.joined(separator: ", ")
    logger.notice("stopping once this has finished: \(names)")
    sidecar.notifier.notify(["STATUS=stopping once this has finished: \(names)"])
    while !inFlight.isEmpty {
      if await wake.wait(timeout: .seconds(60)) == .workDone { handleFinishedWork() }
    }
  }

  /// Takes in the configuration file again; returns the listener's fate if it moved.
  private mutating func reloadConfig() -> [SidecarMachine.Event] {
    let reloaded = sidecar.reloaded()
    metrics.observeReload(succeeded: reloaded != nil)
    guard var fresh = reloaded else { return [] }
    if fresh.stateDirectory != config.stateDirectory {
      // The lock that keeps a second pgfollow off this state is held in the old directory.
      let message =
        "state_directory changed to \(fresh.stateDirectory): that needs a restart; keeping "
        + "\(config.stateDirectory) until then"
      logger.warning("\(message)")
      fresh.stateDirectory = config.stateDirectory
    }
    let moved = fresh.metrics.listen != config.metrics.listen
    // Kept connections follow a node's new conninfo, or go with a node no longer configured.
    if fresh.nodes != config.nodes { sessions.counter.closeAll() }
    config = fresh
    machine.countsSessions = !SessionCheck(config: fresh).apps.isEmpty
    var events: [SidecarMachine.Event] = []
    if moved {
      listener?.stop()
      events.append(startListener(failedBefore: false))
      if fresh.metrics.listen == nil { logger.notice("metrics listener stopped") }
    }
    watchers.update(fresh)
    // An app that is new is loaded by the next cycle.
    forgetDroppedApps()
    for app in fresh.apps {
      machines[app.label]?.reconfigure(FollowSettings(app, run: fresh.run))
    }
    reportPreflight()
    return events
  }

  /// Starts a count of the applications' sessions (the machine says when); its result wakes
  /// the loop.
  private mutating func startSessionCount() {
    let check = SessionCheck(config: config)
    let requests = check.requests(machines, dryRun: sidecar.dryRun, now: runner.environment.clock())
    let (counter, results, timeouts, wake) = (
      sessions.counter, sessions.results, config.timeouts, self.wake
    )
    Task {
      let counts = await counter.count(requests, timeouts: timeouts)
      results.withLock { $0 = counts }
      wake.post(.sessionsCounted)
    }
  }

  /// Judges the counts against each app's state, saves what changed, reports, and sets the
  /// next count: soon while a switch waits for its sessions, else at the slowest `every`.
  /// Returns when the next count is due.
  private mutating func takeSessionCounts() -> Duration {
    let check = SessionCheck(config: config)
    let every = check.apps.compactMap { $0.verify?.every }.min() ?? .seconds(15)
    guard let counts = sessions.results.withLock({ $0 }) else { return every }
    let before = machines.mapValues(\.state)
    let reports = check.judge(counts, &machines, now: runner.environment.clock())
    for app in check.apps {
      guard let state = machines[app.label]?.state else { continue }
      do { try runner.environment.save(state, changedFrom: before[app.label], app: app) } catch {
        logger.error("\(app.logPrefix)\(error)")
      }
    }
    if let decision = sessions.lastDecision {
      for report in reports {
        guard let app = config.apps.first(where: { $0.label == report.app }) else { continue }
        reportLogger.log(report, app: app, decision: decision)
      }
    }
    live.update(sessions: reports, machines: machines)
    metrics.observe(sessions: reports)
    // Soon again while a switch waits, or after sessions were terminated (they reconnect).
    let soon =
      reports.contains(where: \.isWaiting)
      || reports.contains { !$0.terminated.isEmpty && $0.verdict?.isVerified == false }
    return soon ? SessionWatch.waitingPace : every
  }

  /// Starts the configured listener; one that cannot start is tried again when the machine
  /// says (`failedBefore`: quietly, as it was said already).
  private mutating func startListener(failedBefore: Bool? = nil) -> SidecarMachine.Event {
    let quiet = failedBefore ?? listenerFailed
    listener = sidecar.startListener(config, metrics: metrics, live: live, failedBefore: quiet)
    listenerFailed = listener == nil && config.metrics.listen != nil
    return listenerFailed ? .listenerFailed : .listenerStarted
  }

  /// What a failover will need and this user may not do, said at start and at each reload.
  private mutating func reportPreflight() {
    for problem in checkTimeoutProblems(config, watchdog: SystemdNotifier.watchdogInterval) {
      logger.error("\(problem)")
    }
    guard !sidecar.dryRun else { return }
    preflightProblems = preflight(config)
    for problem in preflightProblems {
      logger.error("pgfollow cannot follow a failover: \(problem)")
    }
  }

  private mutating func ping() {
    var message = ["STATUS=\(status)", "WATCHDOG=1"]
    if !ready { message.insert("READY=1", at: 0) }
    ready = true
    sidecar.notifier.notify(message)
  }
}

/// The sidecar's counts of the applications' sessions: the counter, the last count's results,
/// and the decision their reports name nodes by (when to count is the machine's).
struct SessionWatch {
  let counter = SessionCounter()
  let results = Locked<[String: [String: SessionCount]]?>(nil)
  var lastDecision: Decision?
  /// The pace while a switch waits for the application: a count costs a scan of
  /// pg_stat_activity over a connection kept open.
  static let waitingPace = Duration.milliseconds(200)
}
