import Testing

@testable import PGFollowCore

@Suite struct HysteresisTests {
  @Test func firstDecisionIsImmediateThenChangesNeedConfirmations() {
    var hysteresis = Hysteresis(required: 3)
    #expect(hysteresis.judge(leader: "b") == .apply)
    #expect(
      hysteresis.judge(leader: "a")
        == .confirming(leader: "a", sightings: 1, required: 3))
    #expect(
      hysteresis.judge(leader: "a")
        == .confirming(leader: "a", sightings: 2, required: 3))
    #expect(hysteresis.judge(leader: "a") == .apply)
    #expect(hysteresis.candidate == nil && hysteresis.current == "a")
  }

  @Test func aDifferentCandidateStartsOver() {
    var hysteresis = Hysteresis(required: 2)
    _ = hysteresis.judge(leader: "a")
    #expect(
      hysteresis.judge(leader: "b")
        == .confirming(leader: "b", sightings: 1, required: 2))
    #expect(
      hysteresis.judge(leader: "c")
        == .confirming(leader: "c", sightings: 1, required: 2))
    #expect(hysteresis.judge(leader: "a") == .apply)
    #expect(
      hysteresis.judge(leader: "c")
        == .confirming(leader: "c", sightings: 1, required: 2))
    #expect(hysteresis.judge(leader: "c") == .apply)
  }

  @Test func oneConfirmationMeansNoHysteresis() {
    var hysteresis = Hysteresis(required: 1)
    _ = hysteresis.judge(leader: "a")
    #expect(hysteresis.judge(leader: "b") == .apply)
  }

  @Test func limiterSpacesAndCapsAttempts() {
    let start: WallSeconds = 1_800_000_000
    var limiter = RestartLimiter(minimumInterval: .seconds(10), maximumPerHour: 3)
    #expect(limiter.denial(at: start) == nil)
    limiter.noteAttempt(at: start)
    #expect(limiter.denial(at: start + 4) == .tooSoon(wait: .seconds(6)))
    #expect(limiter.denial(at: start + 10) == nil)
    limiter.noteAttempt(at: start + 10)
    limiter.noteAttempt(at: start + 20)
    #expect(limiter.denial(at: start + 30) == .hourlyCap(3, wait: .seconds(3570)))
    #expect(limiter.denial(at: start + 3600) == nil)
  }

  /// The clock it is given steps back an hour, then forward two: the limiter neither stalls
  /// nor lets a burst through.
  @Test func limiterSurvivesClockSteps() {
    let start: WallSeconds = 1_800_007_200
    var limiter = RestartLimiter(minimumInterval: .seconds(10), maximumPerHour: 3)
    limiter.noteAttempt(at: start)
    let back = start - 3600
    #expect(limiter.denial(at: back) == .tooSoon(wait: .seconds(10)))
    #expect(limiter.denial(at: back + 10) == nil)
    limiter.noteAttempt(at: back + 10)
    limiter.noteAttempt(at: back + 20)
    #expect(limiter.denial(at: back + 30) == .hourlyCap(3, wait: .seconds(3570)))
    let forward = back + 7200
    #expect(limiter.denial(at: forward) == nil)
    limiter.noteAttempt(at: forward)
    #expect(limiter.denial(at: forward + 1) == .tooSoon(wait: .seconds(9)))
  }
}
