import PGFollowCore
import PGFollowTestSupport
import Testing

@testable import PGFollowDaemon

@Suite struct StateJSONTests {
  @Test func roundTripsThroughTheFileFormat() throws {
    var state = FollowState()
    state.applied = AppliedLeader(name: "db\"02\n", unixtime: 1_795_315_869)
    state.pendingRestart = ["a.service", "b@1.service"]
    state.restartFailures = 3
    state.lastRestartError = "a.service: exited with status 1 \u{1}\\ é"
    let text = state.json
    #expect(text.contains("\"name\": \"db\\\"02\\n\""))
    #expect(text.contains("\\u0001"))
    #expect(try FollowState(json: Array(text.utf8), file: "state.json") == state)
    #expect(try FollowState(json: Array(FollowState().json.utf8), file: "s") == FollowState())
  }

  /// Where the cluster's history stood: the applied row's and leader's, and a promotion seen.
  @Test func historyRoundTrips() throws {
    var state = FollowState()
    state.applied = AppliedLeader(
      name: "node2", unixtime: 1_795_315_869,
      recorded: HistoryPosition(
        systemIdentifier: "7714710222592293049", timeline: 2, lsn: 0x3_0000_0028),
      position: HistoryPosition(systemIdentifier: "7714710222592293049", timeline: 3, lsn: 1),
      overTimeline: 2)
    state.unrecordedPromotion = SeenPromotion(node: "node3", timeline: 4, since: 1_795_315_900.25)
    let text = state.json
    #expect(text.contains("\"lsn\": \"3/28\""), "\(text)")
    #expect(try FollowState(json: Array(text.utf8), file: "state.json") == state)
  }

  /// A switch to verify, owed and then verified.
  @Test func verificationRoundTrips() throws {
    var state = FollowState()
    state.verification = PendingVerification(leader: "node2", previous: nil)
    #expect(try FollowState(json: Array(state.json.utf8), file: "state.json") == state)
    state.verification = PendingVerification(
      leader: "node2", previous: "node1", since: 1_795_315_900.5)
    state.verification?.verifiedAfter = 1.25
    state.verification?.sessions = 12
    #expect(try FollowState(json: Array(state.json.utf8), file: "state.json") == state)
  }

  @Test func unreadableStateIsAClearError() throws {
    #expect(throws: Error.self) { try FollowState(json: Array("[1, 2]".utf8), file: "s") }
    // A field this version does not know (a newer pgfollow's) is ignored.
    let newer = "{\"pendingRestart\": [\"a.service\"], \"x\": {\"y\": 1}}"
    #expect(try FollowState(json: Array(newer.utf8), file: "s").pendingRestart == ["a.service"])
  }
}

@Suite struct HookStateJSONTests {
  @Test func owedHooksRoundTrip() throws {
    var state = FollowState()
    state.hooks = HookDebt(
      leader: "node2", previous: nil, reason: "the newest row (1, node2) names \"node2\"",
      owed: [
        OwedHook(key: HookKey(when: .beforeRestart, command: ["/bin/x", "a b", "\"c\""])),
        OwedHook(
          key: HookKey(when: .afterRestart, command: ["/bin/y"]), failures: 2,
          nextAttempt: 1_800_000_012.5),
      ])
    #expect(try FollowState(json: Array(state.json.utf8), file: "s") == state)
    state.hooks?.previous = "null"
    #expect(try FollowState(json: Array(state.json.utf8), file: "s") == state)
  }

  /// The limiter's attempts and a settling change outlive the process.
  @Test func persistedControlsRoundTrip() throws {
    var state = FollowState()
    state.restartAttempts = [1_800_000_000, 1_800_000_002.25, 1_800_000_004.125]
    state.unsettled = UnsettledChange(target: "db_slave[0].address=node1:5432", since: 17.5)
    #expect(try FollowState(json: Array(state.json.utf8), file: "s") == state)
  }

  /// Hooks an older pgfollow owed by their place in the list are dropped, not misread.
  @Test func hooksOwedByPositionAreDropped() throws {
    let old =
      #"{"hooks": {"leader": "n2", "previous": null, "reason": "r", "pending": [0], "failures": [1]}}"#
    let state = try FollowState(json: Array(old.utf8), file: "s")
    #expect(state.hooks == nil)
  }
}
