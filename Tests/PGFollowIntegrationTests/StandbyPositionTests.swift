import Foundation
import PGFollowTestSupport
import Testing

/// `{standby[K].FIELD}` against a real three-node cluster (one primary, two streaming standbys):
/// an application with two read replicas gets both, a standby down is replaced by the other one
/// until it is back, and after a failover the standby that still follows the dead primary is
/// no healthy standby.
@Suite(.serialized, Needs.cluster) struct StandbyPositionTests {
  @Test func twoReadReplicasUseEveryHealthyStandby() throws {
    let fixture = try Fixture(nodes: 3)
    try """
    db_master:
      - address: none   # writes
    db_slave:
      - address: none   # reads
      - address: none   # reads

    """.write(toFile: fixture.appFile, atomically: false, encoding: .utf8)
    try fixture.editConfig(
      "db_slave[0].address: \"{standby.address}\"",
      "db_slave[0].address: \"{standby[0].address}\"\n    db_slave[1].address: \"{standby[1].address}\""
    )
    try fixture.editConfig("state_directory:", "run: {standby_settle: 0s}\nstate_directory:")
    func slaves() throws -> [String] {
      try fixture.appValues().split(separator: "\n").filter { $0.contains("# reads") }.map {
        String($0.split(separator: " ")[2])
      }
    }

    #expect(try fixture.pgfollow("once").status == 2)
    #expect(try slaves() == ["node2:5432", "node3:5432"])

    try fixture.clusterCommand("kill", "node3")
    #expect(try fixture.pgfollow("once").status == 2)
    #expect(try slaves() == ["node2:5432", "node2:5432"], "the one standby left serves both")

    try fixture.clusterCommand("restart", "node3")
    #expect(
      try waitUntil(30) {
        _ = try fixture.pgfollow("once")
        return try slaves() == ["node2:5432", "node3:5432"]
      }, "node3 back as a standby")

    try fixture.failOver()
    let switched = try fixture.pgfollow("once")
    #expect(switched.status == 2, "\(switched.output)")
    #expect(try fixture.appValues().contains("- address: node2:5432   # writes"))
    #expect(
      try slaves() == ["node2:5432", "node2:5432"],
      "node3 still follows the dead primary: no healthy standby, so the leader serves reads")
  }
}
