import PGFollowCore
import Testing

/// The follow machine driven directly: no files, no processes, no clock but the one given.
@Suite struct FollowMachineTests {
  static let hookA = HookConfig(command: ["/hooks/a"])
  static var hookB: HookConfig {
    var hook = HookConfig(command: ["/hooks/b", "x"])
    hook.when = .beforeRestart
    return hook
  }

  static func settings(hooks: [HookConfig] = [], settle: Duration = .seconds(10)) -> FollowSettings
  {
    FollowSettings(units: ["app.service"], hooks: hooks, settle: settle)
  }

  static let leaderChange = PlannedChange(
    changesFile: true, changesLeaderValues: true, target: "db_master=node2")
  static func standbyChange(_ target: String) -> PlannedChange {
    PlannedChange(changesFile: true, changesLeaderValues: false, target: target)
  }
  static let noChange = PlannedChange(changesFile: false, changesLeaderValues: false, target: "")

  var now: WallSeconds = 1_800_000_000

  @Test func aChangeOfLeaderOwesOneRestartPaidWhenItSucceeds() {
    var machine = FollowMachine(state: FollowState(), settings: Self.settings())
    #expect(
      machine.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.leaderChange, now: now)
        == .replaceFile)
    #expect(machine.state.applied == AppliedLeader(name: "n1", unixtime: 1))
    #expect(machine.state.pendingRestart == ["app.service"])
    let due = machine.dueWork(now: now)
    #expect(due.start == [.restart(unit: "app.service", replacement: 1)])
    // Nothing starts twice while it runs.
    #expect(machine.dueWork(now: now + 1).start.isEmpty)
    #expect(machine.finished(due.start[0], succeeded: true, now: now + 15) == .succeeded)
    #expect(machine.state.pendingRestart.isEmpty && machine.inFlight.isEmpty)
  }

  /// A second failover while the first restart is still running: the running restart may have
  /// read the old file, so one more is owed, started only once the first has finished.
  @Test func aNewLeaderDuringASlowRestartOwesExactlyOneMore() {
    var machine = FollowMachine(state: FollowState(), settings: Self.settings())
    _ = machine.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.leaderChange, now: now)
    let first = machine.dueWork(now: now).start
    #expect(
      machine.follow(
        leader: "n2", unixtime: 2, reason: "r", change: Self.leaderChange, now: now + 3)
        == .confirming(.confirming(leader: "n2", sightings: 1, required: 2)))
    #expect(
      machine.follow(
        leader: "n2", unixtime: 2, reason: "r", change: Self.leaderChange, now: now + 3)
        == .replaceFile)
    #expect(machine.dueWork(now: now + 4).start.isEmpty, "a second restart ran beside the first")
    #expect(
      machine.finished(first[0], succeeded: true, now: now + 15)
        == .succeededButOwedAgain)
    let second = machine.dueWork(now: now + 15).start
    #expect(second == [.restart(unit: "app.service", replacement: 2)])
    machine.finished(second[0], succeeded: true, now: now + 30)
    #expect(machine.state.pendingRestart.isEmpty)
  }

  /// Following the same leader while it takes writes changes nothing to save; a new timeline
  /// (a promotion in place) does.
  @Test func theLeadersMovingWALPositionIsNothingToSave() throws {
    var machine = FollowMachine(state: FollowState(), settings: Self.settings())
    func position(_ timeline: Int64, _ lsn: UInt64) -> HistoryPosition {
      HistoryPosition(systemIdentifier: "7", timeline: timeline, lsn: lsn)
    }
    _ = machine.follow(
      leader: "n1", unixtime: 1, leaderPosition: position(2, 100), reason: "r",
      change: Self.leaderChange, now: now)
    let saved = machine.state
    for lsn in stride(from: UInt64(200), to: 20_000, by: 700) {
      #expect(
        machine.follow(
          leader: "n1", unixtime: 1, leaderPosition: position(2, lsn), reason: "r",
          change: Self.noChange, now: now + 1) == .inSync)
    }
    #expect(machine.state == saved)
    _ = machine.follow(
      leader: "n1", unixtime: 1, leaderPosition: position(3, 50), reason: "r",
      change: Self.noChange, now: now + 2)
    let kept = try #require(machine.state.applied?.position)
    #expect(kept == position(3, 50))
  }

  /// A write that failed leaves nothing claimed: not the leader, not a restart.
  @Test func aFileNotReplacedIsNotApplied() {
    var machine = FollowMachine(state: FollowState(), settings: Self.settings())
    _ = machine.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.leaderChange, now: now)
    machine.fileNotReplaced()
    #expect(machine.state == FollowState())
    #expect(machine.dueWork(now: now).start.isEmpty)
    // The next cycle tries the same change again, as a change of leader (no settling).
    #expect(
      machine.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.leaderChange, now: now)
        == .replaceFile)
  }

  /// A standby change waits the settle time; the wait is in the state, so a fresh machine (the
  /// next `once` of a cron loop) goes on counting from the first sighting.
  @Test func settlingLastsAcrossMachines() {
    var machine = FollowMachine(state: FollowState(), settings: Self.settings())
    _ = machine.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.noChange, now: now)
    let change = Self.standbyChange("db_slave=n1")
    #expect(
      machine.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: now)
        == .settling(wait: .seconds(10)))
    var next = FollowMachine(state: machine.state, settings: Self.settings())
    #expect(
      next.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: now + 4)
        == .settling(wait: .seconds(6)))
    // The standby came back before then: the wait starts over next time.
    #expect(
      next.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.noChange, now: now + 5)
        == .inSync)
    #expect(next.state.unsettled == nil)
    #expect(
      next.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: now + 6)
        == .settling(wait: .seconds(10)))
    #expect(
      next.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: now + 16)
        == .replaceFile)
    // A clock stepped back restarts the wait rather than stalling it.
    var stepped = FollowMachine(state: FollowState(), settings: Self.settings())
    _ = stepped.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.noChange, now: now)
    _ = stepped.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: now)
    #expect(
      stepped.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: now - 3600)
        == .settling(wait: .seconds(10)))
  }

  /// The restart limiter's attempts are in the state: a fresh machine a second later is held
  /// back just as the sidecar's one machine is.
  @Test func theLimiterHoldsAcrossMachines() {
    var machine = FollowMachine(state: FollowState(), settings: Self.settings(settle: .zero))
    _ = machine.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.leaderChange, now: now)
    let first = machine.dueWork(now: now).start
    machine.finished(first[0], succeeded: true, now: now)
    var next = FollowMachine(state: machine.state, settings: Self.settings(settle: .zero))
    _ = next.follow(
      leader: "n1", unixtime: 1, reason: "r", change: Self.standbyChange("s"), now: now + 1)
    let due = next.dueWork(now: now + 1)
    #expect(due.start.isEmpty)
    #expect(due.deferred == .tooSoon(wait: .seconds(1)))
    #expect(next.dueWork(now: now + 2).start.count == 1)
  }

  /// Before-restart hooks run first, restarts wait for them, after-restart hooks wait for the
  /// restarts; a failing hook backs off 5 s, then 10 s, and is given up after its attempts.
  @Test func hooksRunInOrderAndBackOff() {
    var machine = FollowMachine(
      state: FollowState(), settings: Self.settings(hooks: [Self.hookA, Self.hookB]))
    _ = machine.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.leaderChange, now: now)
    let before = machine.dueWork(now: now).start
    #expect(before == [.hook(HookKey(Self.hookB), change: 1)])
    #expect(
      machine.finished(before[0], succeeded: false, now: now)
        == .willRetry(failure: 1, of: 3, after: .seconds(5))
    )
    let restart = machine.dueWork(now: now).start
    #expect(restart == [.restart(unit: "app.service", replacement: 1)])
    #expect(machine.dueWork(now: now + 1).start.isEmpty)
    machine.finished(restart[0], succeeded: true, now: now + 2)
    #expect(machine.dueWork(now: now + 2).start == [.hook(HookKey(Self.hookA), change: 1)])
    // One hook at a time: the retry waits for the running one as well as for its backoff.
    #expect(machine.dueWork(now: now + 5).start.isEmpty)
    machine.finished(.hook(HookKey(Self.hookA), change: 1), succeeded: true, now: now + 3)
    #expect(machine.dueWork(now: now + 4.9).start.isEmpty)
    let retry = machine.dueWork(now: now + 5).start
    #expect(retry == [.hook(HookKey(Self.hookB), change: 1)])
    #expect(
      machine.finished(retry[0], succeeded: false, now: now + 5)
        == .willRetry(failure: 2, of: 3, after: .seconds(10)))
    #expect(
      machine.state.hooks?.owed.first { $0.key == HookKey(Self.hookB) }?.nextAttempt == now + 15)
    #expect(machine.dueWork(now: now + 14).start.isEmpty)
    let last = machine.dueWork(now: now + 15).start
    #expect(
      machine.finished(last[0], succeeded: false, now: now + 15) == .gaveUp(failures: 3))
  }

  /// Hooks are owed by what they run, not where they stand: reordering them keeps the debt,
  /// editing one drops its debt (the old command is never run).
  @Test func owedHooksSurviveAReorderAndAnEditedOneIsDropped() {
    var machine = FollowMachine(
      state: FollowState(), settings: Self.settings(hooks: [Self.hookA, Self.hookB]))
    _ = machine.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.noChange, now: now)
    #expect(machine.state.hooks?.owed.count == 2)
    machine.reconfigure(Self.settings(hooks: [Self.hookB, Self.hookA]))
    #expect(machine.state.hooks?.owed.map(\.key) == [HookKey(Self.hookA), HookKey(Self.hookB)])
    var edited = Self.hookB
    edited.command = ["/hooks/b", "y"]
    machine.reconfigure(Self.settings(hooks: [Self.hookA, edited]))
    #expect(machine.state.hooks?.owed.map(\.key) == [HookKey(Self.hookA)])
    #expect(machine.dueWork(now: now).start == [.hook(HookKey(Self.hookA), change: 1)])
  }

  /// A hook still running when the leader changes again counts for nothing: the new change
  /// owes it afresh.
  @Test func aHookOfAnEarlierChangeIsSuperseded() {
    var machine = FollowMachine(state: FollowState(), settings: Self.settings(hooks: [Self.hookA]))
    _ = machine.follow(leader: "n1", unixtime: 1, reason: "r", change: Self.noChange, now: now)
    let running = machine.dueWork(now: now).start
    _ = machine.follow(leader: "n2", unixtime: 2, reason: "r", change: Self.noChange, now: now)
    _ = machine.follow(leader: "n2", unixtime: 2, reason: "r", change: Self.noChange, now: now)
    #expect(machine.finished(running[0], succeeded: true, now: now) == .superseded)
    #expect(machine.state.hooks?.leader == "n2" && machine.state.hooks?.owed.count == 1)
  }

  /// A cron loop in miniature: a fresh machine on the saved state every 3 s for two hours while
  /// the standby flaps every 6 s: never a restart. The sidecar's one machine: none either.
  @Test func aFlappingStandbyRestartsNothingUnderCronOrSidecar() {
    let settings = Self.settings()
    var kept = FollowMachine(state: FollowState(), settings: settings)
    var saved = FollowState()
    var restarts = (cron: 0, sidecar: 0)
    for run in 0..<2400 {
      let time = now + Double(run * 3)
      let change =
        run == 0 ? Self.leaderChange : (run / 2) % 2 == 0 ? Self.noChange : Self.standbyChange("s")
      var fresh = FollowMachine(state: saved, settings: settings)
      if fresh.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: time)
        == .replaceFile,
        run > 0
      {
        restarts.cron += 1
      }
      for work in fresh.dueWork(now: time).start {
        fresh.finished(work, succeeded: true, now: time)
      }
      saved = fresh.state
      if kept.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: time)
        == .replaceFile,
        run > 0
      {
        restarts.sidecar += 1
      }
      for work in kept.dueWork(now: time).start { kept.finished(work, succeeded: true, now: time) }
    }
    #expect(restarts.cron == 0 && restarts.sidecar == 0)
  }
}
