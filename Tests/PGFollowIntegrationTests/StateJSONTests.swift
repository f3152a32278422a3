import PGFollowCore
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

  @Test func unreadableStateIsAClearError() {
    #expect(throws: Error.self) { try FollowState(json: Array("[1, 2]".utf8), file: "s") }
    #expect(throws: Error.self) { try FollowState(json: Array("{\"x\": 1}".utf8), file: "s") }
  }
}

@Suite struct HookStateJSONTests {
  @Test func owedHooksRoundTrip() throws {
    var state = FollowState()
    state.hooks = HookRun(
      leader: "node2", previous: nil, reason: "the newest row (1, node2) names \"node2\"",
      pending: [0, 2], failures: [0, 1])
    #expect(try FollowState(json: Array(state.json.utf8), file: "s") == state)
    state.hooks?.previous = "null"
    #expect(try FollowState(json: Array(state.json.utf8), file: "s") == state)
  }
}
