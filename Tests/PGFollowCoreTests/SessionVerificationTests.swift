import PGFollowCore
import Testing

/// The verdict on a switch and the sessions misplaced at steady state, from counts alone.
@Suite struct SessionVerificationTests {
  let since: WallSeconds = 1_800_000_000
  let within = Duration.seconds(30)

  func pending(previous: String? = "n1") -> PendingVerification {
    PendingVerification(leader: "n2", previous: previous, since: since)
  }

  /// Each session's age, seconds, on a node's own clock.
  func sessions(_ ages: Double..., terminated: Int = 0) -> SessionCount {
    .counted(ages: ages, terminated: terminated)
  }

  @Test func aSessionBegunSinceTheRestartWithNoneLeftIsVerified() {
    let counts = ["n2": sessions(1.5, 0.5, 400), "n1": .unreachable("refused")]
    #expect(
      judgeSwitch(pending(), counts: counts, within: within, now: since + 2)
        == .verified(leader: "n2", sessions: 3, after: 2))
  }

  @Test func onlyOldSessionsOnTheLeaderAreNotTheRestartedApplication() {
    let counts = ["n2": sessions(400, 12), "n1": sessions()]
    #expect(
      judgeSwitch(pending(), counts: counts, within: within, now: since + 5)
        == .waiting(leader: "n2", newSessions: 0, left: 0))
    // Ages are read at the count: at since + 31, a session 12 s old began after the restart.
    let later = ["n2": sessions(431, 40), "n1": sessions()]
    #expect(
      judgeSwitch(pending(), counts: later, within: within, now: since + 31)
        == .unverified(leader: "n2", newSessions: 0, previous: "n1", left: 0, after: 31))
  }

  @Test func sessionsLeftOnThePreviousLeaderKeepItUnverified() {
    let counts = ["n2": sessions(1), "n1": sessions(600, 600, 600)]
    #expect(
      judgeSwitch(pending(), counts: counts, within: within, now: since + 3)
        == .waiting(leader: "n2", newSessions: 1, left: 3))
    #expect(
      judgeSwitch(pending(), counts: counts, within: within, now: since + 40)
        == .unverified(leader: "n2", newSessions: 1, previous: "n1", left: 3, after: 40))
    // Terminated as they were counted: none left.
    let ended = ["n2": sessions(1), "n1": sessions(600, 600, 600, terminated: 3)]
    #expect(
      judgeSwitch(pending(), counts: ended, within: within, now: since + 40)?.isVerified == true)
  }

  /// A previous leader that answers but whose count failed may still hold sessions: never
  /// taken for empty.
  @Test func aFailedCountOnThePreviousLeaderIsNotNoneLeft() {
    let counts = ["n2": sessions(1), "n1": SessionCount.failed("canceling statement")]
    #expect(
      judgeSwitch(pending(), counts: counts, within: within, now: since + 2)
        == .waiting(leader: "n2", newSessions: 1, left: 0))
    #expect(
      judgeSwitch(pending(), counts: counts, within: within, now: since + 30)
        == .cannotVerify(node: "n1", reason: "canceling statement"))
  }

  @Test func aHiddenCountCannotVerifyAtOnceAnUnreachableLeaderOnlyLate() {
    let hidden = ["n2": SessionCount.hidden("grant it"), "n1": sessions()]
    #expect(
      judgeSwitch(pending(), counts: hidden, within: within, now: since + 1)
        == .cannotVerify(node: "n2", reason: "grant it"))
    let down = ["n2": SessionCount.failed("refused")]
    #expect(
      judgeSwitch(pending(), counts: down, within: within, now: since + 1)
        == .waiting(leader: "n2", newSessions: 0, left: 0))
    #expect(
      judgeSwitch(pending(), counts: down, within: within, now: since + 30)
        == .cannotVerify(node: "n2", reason: "refused"))
  }

  @Test func nothingToJudgeWhileTheRestartIsOwedAndAVerifiedSwitchStaysVerified() {
    var owed = pending()
    owed.since = nil
    #expect(judgeSwitch(owed, counts: [:], within: within, now: since) == nil)
    var done = pending()
    done.verifiedAfter = 1.5
    done.sessions = 4
    #expect(
      judgeSwitch(done, counts: ["n2": .failed("x")], within: within, now: since + 999)
        == .verified(leader: "n2", sessions: 4, after: 1.5))
  }

  @Test func aClockThatSteppedBackCountsAsNoTimePassed() {
    let counts = ["n2": sessions(0.1)]
    #expect(
      judgeSwitch(pending(), counts: counts, within: within, now: since - 50)
        == .verified(leader: "n2", sessions: 1, after: 0))
  }

  @Test func sessionsOlderThanWithinOnAnotherNodeAreMisplaced() {
    let counts = ["n1": sessions(100, 100, 5), "n2": sessions(100), "n3": .hidden("x")]
    #expect(
      misplacedSessions(leader: "n2", counts: counts, nodes: ["n1", "n2", "n3"], within: within)
        == [MisplacedSessions(node: "n1", sessions: 2)])
    #expect(
      misplacedSessions(leader: "n1", counts: counts, nodes: ["n1", "n2", "n3"], within: within)
        == [MisplacedSessions(node: "n2", sessions: 1)])
  }

  /// Two switches before the restart: the application is still on the first one's previous
  /// leader.
  @Test func aSecondSwitchBeforeTheRestartKeepsThePreviousLeader() {
    var settings = FollowSettings(units: ["app.service"], confirmations: 1)
    settings.verifies = true
    var state = FollowState()
    state.applied = AppliedLeader(name: "n1", unixtime: 1)
    var machine = FollowMachine(state: state, settings: settings)
    let change = PlannedChange(changesFile: true, changesLeaderValues: true, target: "x")
    _ = machine.follow(leader: "n2", unixtime: 2, reason: "r", change: change, now: since)
    _ = machine.follow(leader: "n3", unixtime: 3, reason: "r", change: change, now: since + 1)
    #expect(machine.state.verification == PendingVerification(leader: "n3", previous: "n1"))
  }

  /// The machine opens a verification for a change of leader and dates it by the restart that
  /// applies it; a verdict of verified is kept.
  @Test func theMachineDatesAVerificationByItsRestart() {
    var settings = FollowSettings(units: ["app.service"], confirmations: 1)
    settings.verifies = true
    var machine = FollowMachine(state: FollowState(), settings: settings)
    let change = PlannedChange(changesFile: true, changesLeaderValues: true, target: "x")
    _ = machine.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: since)
    #expect(machine.state.verification == PendingVerification(leader: "n1", previous: nil))
    let due = machine.dueWork(now: since + 3)
    #expect(machine.state.verification?.since == since + 3)
    machine.finished(due.start[0], succeeded: true, now: since + 4)
    machine.takeVerdict(.verified(leader: "n1", sessions: 2, after: 1.25))
    #expect(machine.state.verification?.verifiedAfter == 1.25)
    machine.takeVerdict(
      .unverified(leader: "n1", newSessions: 0, previous: nil, left: 0, after: 40))
    #expect(machine.state.verification?.verifiedAfter == 1.25)
    _ = machine.follow(leader: "n2", unixtime: 2, reason: "r", change: change, now: since + 60)
    #expect(machine.state.verification == PendingVerification(leader: "n2", previous: "n1"))
  }

  @Test func withoutVerifyOrUnitsTheMachineOpensNoneOrDatesItByTheFile() {
    var machine = FollowMachine(state: FollowState(), settings: FollowSettings(units: ["a"]))
    let change = PlannedChange(changesFile: true, changesLeaderValues: true, target: "x")
    _ = machine.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: since)
    #expect(machine.state.verification == nil)
    var settings = FollowSettings(units: [])
    settings.verifies = true
    var rereads = FollowMachine(state: FollowState(), settings: settings)
    _ = rereads.follow(leader: "n1", unixtime: 1, reason: "r", change: change, now: since)
    #expect(rereads.state.verification?.since == since)
  }
}
