/// The follow logic as a value, with no I/O and no clock: it takes what a cycle saw and what
/// finished, and says what to do. Hysteresis, settling, the restart limiter, owed restarts and
/// owed hooks with their backoff all live here; the daemon carries the steps out (save the
/// state, replace the file, run a restart or a hook) and reports back.
package struct FollowMachine: Sendable {
  package private(set) var state: FollowState
  package private(set) var settings: FollowSettings
  package private(set) var hysteresis: Hysteresis
  /// Work started and not finished yet.
  package private(set) var inFlight: Set<Work> = []
  /// Files replaced so far by this machine: a restart started before the latest replacement does
  /// not pay for it.
  private var replacements = 0
  /// A hook debt is replaced at each change of leader; work of an older one no longer counts.
  private var changes = 0
  private var beforeReplace: FollowState?

  package enum Work: Sendable, Hashable {
    /// Restart a unit; `replacement` is the number of file replacements it covers.
    case restart(unit: String, replacement: Int)
    case hook(HookKey, change: Int)

    package var unit: String? { if case .restart(let unit, _) = self { unit } else { nil } }
  }

  package enum Step: Sendable, Equatable {
    /// Nothing to write (the state may still have changed: save it).
    case inSync
    case confirming(Hysteresis.Verdict)
    /// A change that keeps the leader waits this much longer to prove it lasts.
    case settling(wait: Duration)
    /// Save the state (it already owes the restart), then replace the file, and call
    /// `fileNotReplaced()` if that fails.
    case replaceFile
  }

  package init(state: FollowState, settings: FollowSettings) {
    self.state = state
    self.settings = settings
    hysteresis = Hysteresis(required: settings.confirmations, current: state.applied?.name)
  }

  /// Takes a new configuration: hysteresis carries over when its requirement is unchanged, and
  /// owed work that is no longer configured is dropped.
  package mutating func reconfigure(_ settings: FollowSettings) {
    if settings.confirmations != self.settings.confirmations {
      hysteresis = Hysteresis(required: settings.confirmations, current: hysteresis.current)
    }
    self.settings = settings
    prune()
  }

  /// A cycle decided to follow `leader` (named by the row of `unixtime`), and the file would
  /// change as `change` says.
  package mutating func follow(
    leader: String, unixtime: Int64?, recorded: HistoryPosition? = nil,
    leaderPosition: HistoryPosition? = nil, overTimeline: Int64? = nil, reason: String,
    change: PlannedChange, now: WallSeconds
  ) -> Step {
    let verdict = hysteresis.judge(leader: leader)
    guard verdict == .apply else { return .confirming(verdict) }
    let leaderChanges = state.applied?.name != leader
    if change.changesFile && !leaderChanges && !change.changesLeaderValues,
      let wait = timeToSettle(change.target, now: now)
    {
      return .settling(wait: wait)
    }
    state.unsettled = nil
    beforeReplace = state
    if let unixtime {
      let earlier = state.applied.flatMap { $0.name == leader ? $0 : nil }
      state.applied = AppliedLeader(
        name: leader, unixtime: unixtime, recorded: recorded,
        position: AppliedLeader.keptPosition(earlier?.position, seen: leaderPosition),
        overTimeline: overTimeline ?? (earlier?.unixtime == unixtime ? earlier?.overTimeline : nil))
    }
    if leaderChanges && !settings.hooks.isEmpty {
      changes += 1
      state.hooks = HookDebt(
        leader: leader, previous: beforeReplace?.applied?.name, reason: reason,
        owed: uniqueKeys(settings.hooks).map { OwedHook(key: $0) })
    }
    guard change.changesFile else { return .inSync }
    if leaderChanges && settings.verifies {
      // A switch whose restart never came: the application is still where that one found it.
      let earlier = state.verification.flatMap { $0.since == nil ? $0 : nil }
      state.verification = PendingVerification(
        leader: leader, previous: earlier?.previous ?? beforeReplace?.applied?.name,
        since: settings.units.isEmpty ? now : nil)
    }
    replacements += 1
    state.pendingRestart = settings.units
    return .replaceFile
  }

  /// Takes in the cycle's unrecorded promotion, if any; returns since when the same one (node and
  /// timeline) has been seen.
  package mutating func see(_ promotion: UnrecordedPromotion?, now: WallSeconds) -> WallSeconds? {
    guard let promotion else {
      state.unrecordedPromotion = nil
      return nil
    }
    if let seen = state.unrecordedPromotion, seen.node == promotion.node,
      seen.timeline == promotion.timeline, seen.since <= now
    {
      return seen.since
    }
    state.unrecordedPromotion = SeenPromotion(
      node: promotion.node, timeline: promotion.timeline, since: now)
    return now
  }

  /// Takes in what the sessions said of the switch: once verified, it stays verified.
  package mutating func takeVerdict(_ verdict: SwitchVerdict) {
    guard case .verified(_, let sessions, let after) = verdict,
      state.verification?.verifiedAfter == nil
    else { return }
    state.verification?.verifiedAfter = after
    state.verification?.sessions = sessions
  }

  /// The file could not be replaced: nothing of that change was applied, so it is tried again.
  package mutating func fileNotReplaced() {
    if let beforeReplace { state = beforeReplace }
    beforeReplace = nil
  }

  /// What may start now: owed before-restart hooks, then owed restarts as the limiter allows,
  /// then, once no restart is owed, after-restart hooks. Hooks run one at a time, in the order
  /// of the configuration; one that failed waits its backoff without holding up the next.
  package mutating func dueWork(now: WallSeconds) -> (
    start: [Work], deferred: RestartLimiter.Denial?
  ) {
    prune()
    let hookRunning = inFlight.contains { if case .hook = $0 { true } else { false } }
    if let hook = nextHook(.beforeRestart, now: now), !hookRunning {
      inFlight.insert(hook)
      return ([hook], nil)
    }
    if inFlight.contains(where: { isHook($0, .beforeRestart) }) { return ([], nil) }
    var (start, deferred) = dueRestarts(now: now)
    let restartsDone =
      state.pendingRestart.isEmpty && !inFlight.contains { $0.unit != nil } && start.isEmpty
    if restartsDone, !hookRunning, let hook = nextHook(.afterRestart, now: now) {
      start.append(hook)
    }
    inFlight.formUnion(start)
    return (start, deferred)
  }

  private mutating func dueRestarts(now: WallSeconds) -> (
    start: [Work], deferred: RestartLimiter.Denial?
  ) {
    var start: [Work] = []
    var limiter = RestartLimiter(
      minimumInterval: settings.restartMinimumInterval,
      maximumPerHour: settings.restartMaximumPerHour, attempts: state.restartAttempts)
    defer { state.restartAttempts = limiter.attempts }
    for unit in settings.units where state.pendingRestart.contains(unit) {
      guard !inFlight.contains(where: { $0.unit == unit }) else { continue }
      if let denial = limiter.denial(at: now) { return (start, denial) }
      limiter.noteAttempt(at: now)
      start.append(.restart(unit: unit, replacement: replacements))
      // Sessions that began after the latest restart are the application's new ones.
      state.verification?.since = now
    }
    return (start, nil)
  }

  private func nextHook(_ timing: HookConfig.Timing, now: WallSeconds) -> Work? {
    let owed = state.hooks?.owed.first { owed in
      owed.key.when == timing && (owed.nextAttempt ?? now) <= now
    }
    return owed.map { .hook($0.key, change: changes) }
  }

  /// What follows from a finished piece of work; `Report` puts it in words.
  package enum FollowUp: Sendable, Equatable {
    case succeeded
    /// A restart succeeded, but a newer replacement of the file owes it again.
    case succeededButOwedAgain
    /// A restart failed: still owed, tried again within the restart limits.
    case failedStillOwed
    /// A hook failed and is tried again after `delay`.
    case willRetry(failure: Int, of: Int, after: Duration)
    case gaveUp(failures: Int)
    /// A hook of a change of leader that a newer one replaced.
    case superseded
    case noLongerOwed
  }

  /// Work finished: the machine takes its result in and says what follows.
  @discardableResult
  package mutating func finished(
    _ work: Work, succeeded: Bool, error: String? = nil, now: WallSeconds
  ) -> FollowUp {
    inFlight.remove(work)
    switch work {
    case .restart(let unit, let replacement):
      return restartFinished(unit, replacement, succeeded, error)
    case .hook(let key, let change):
      guard change == changes else { return .superseded }
      return hookFinished(key, succeeded, now: now)
    }
  }

  private mutating func restartFinished(
    _ unit: String, _ replacement: Int, _ succeeded: Bool, _ error: String?
  ) -> FollowUp {
    if succeeded {
      if replacement == replacements { state.pendingRestart.removeAll { $0 == unit } }
    } else {
      state.restartFailures += 1
      state.lastRestartError = "\(unit): \(error ?? "failed")"
    }
    if state.pendingRestart.isEmpty {
      state.restartFailures = 0
      state.lastRestartError = nil
    }
    if !succeeded { return .failedStillOwed }
    return replacement == replacements ? .succeeded : .succeededButOwedAgain
  }

  private mutating func hookFinished(_ key: HookKey, _ succeeded: Bool, now: WallSeconds)
    -> FollowUp
  {
    guard var debt = state.hooks, let index = debt.owed.firstIndex(where: { $0.key == key }) else {
      return .noLongerOwed
    }
    defer { state.hooks = debt.owed.isEmpty ? nil : debt }
    if succeeded {
      debt.owed.remove(at: index)
      return .succeeded
    }
    let attempts = settings.hooks.hook(key)?.attempts ?? 1
    debt.owed[index].failures += 1
    let failures = debt.owed[index].failures
    if failures >= attempts {
      debt.owed.remove(at: index)
      return .gaveUp(failures: failures)
    }
    let delay = retryDelay(first: settings.hooks.hook(key)?.retryAfter ?? .seconds(5), failures)
    debt.owed[index].nextAttempt = now + delay.inSeconds
    return .willRetry(failure: failures, of: attempts, after: delay)
  }

  /// `first` after the first failure, doubling, at most the cap.
  func retryDelay(first: Duration, _ failures: Int) -> Duration {
    var delay = first
    for _ in 1..<max(1, failures) where delay < settings.hookRetryCap { delay *= 2 }
    return min(delay, settings.hookRetryCap)
  }

  /// Nil when the change has lasted the settle time; otherwise how long to go. A clock that
  /// stepped back restarts the wait from now.
  private mutating func timeToSettle(_ target: String, now: WallSeconds) -> Duration? {
    let settle = settings.settle.inSeconds
    guard settle > 0 else { return nil }
    if state.unsettled?.target != target || (state.unsettled?.since ?? now) > now {
      state.unsettled = UnsettledChange(target: target, since: now)
    }
    let waited = now - (state.unsettled?.since ?? now)
    return waited >= settle ? nil : .seconds(settle - waited)
  }

  private mutating func prune() {
    state.pendingRestart.removeAll { !settings.units.contains($0) }
    guard var debt = state.hooks else { return }
    let configured = Set(settings.hooks.map(HookKey.init))
    debt.owed.removeAll { !configured.contains($0.key) }
    state.hooks = debt.owed.isEmpty ? nil : debt
  }

  private func isHook(_ work: Work, _ timing: HookConfig.Timing) -> Bool {
    if case .hook(let key, _) = work { key.when == timing } else { false }
  }
}

private func uniqueKeys(_ hooks: [HookConfig]) -> [HookKey] {
  var seen = Set<HookKey>()
  return hooks.map(HookKey.init).filter { seen.insert($0).inserted }
}
