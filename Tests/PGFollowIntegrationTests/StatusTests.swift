import Foundation
import PGFollowTestSupport
import Testing

@Suite(.serialized, Needs.cluster) struct StatusTests {
  @Test func statusShowsTheEvidenceAndItsExitCodeReflectsHealth() throws {
    let fixture = try Fixture()
    let before = try fixture.pgfollow("status")
    #expect(before.status == 1, "\(before.output)")
    #expect(
      before.output.contains("WARNING: the application's file does not point at the leader yet"))
    #expect(
      before.output.contains(
        "db_slave[0].address = \"node1:5432\" (the leader wants \"node2:5432\")"))
    #expect(try fixture.appValues() == Fixture.appText)
    #expect(fixture.restarts().isEmpty)

    #expect(try fixture.pgfollow("once").status == 2)
    let healthy = try fixture.pgfollow("status", "--json")
    #expect(healthy.status == 0, "\(healthy.output)")
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(healthy.output.utf8)) as? [String: Any])
    #expect(json["health"] as? String == "OK")
    #expect(json["leader"] as? String == "node1")
    let nodes = try #require(json["nodes"] as? [[String: Any]])
    #expect(nodes.map { $0["role"] as? String } == ["primary", "standby"])
    #expect(!healthy.output.contains("topsecret"))

    try fixture.clusterCommand("kill", "node1")
    let down = try fixture.pgfollow("status")
    #expect(down.status == 2, "\(down.output)")
    let firstLine = down.output.split(separator: "\n").first ?? ""
    #expect(firstLine.hasPrefix("CRITICAL: holding: the newest row ("), "\(down.output)")
    #expect(firstLine.hasSuffix(", node1) names node1, which is unreachable"), "\(down.output)")
  }
}
