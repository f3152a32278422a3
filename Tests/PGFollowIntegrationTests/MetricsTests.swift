import Foundation
import PGFollowTestSupport
import Testing

@Suite(.serialized, Needs.cluster) struct MetricsTests {
  /// A reload applies a new `metrics.listen`: the listener moves, and the old address is free.
  @Test func aReloadMovesTheMetricsListener() throws {
    let fixture = try Fixture()
    let (first, second) = (try freePort(), try freePort())
    try fixture.editConfig("metrics: {listen: off}", "metrics: {listen: \"127.0.0.1:\(first)\"}")
    let sidecar = try Sidecar(fixture: fixture)
    func answers(_ port: Int) -> Bool {
      (try? run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(port)/metrics"], timeout: 30))?
        .status == 0
    }
    #expect(waitUntil(20) { answers(first) }, "\(sidecar.log)")
    try fixture.editConfig("127.0.0.1:\(first)", "127.0.0.1:\(second)")
    sidecar.signal(SIGHUP)
    #expect(waitUntil(20) { answers(second) }, "\(sidecar.log)")
    #expect(!answers(first), "\(sidecar.log)")
    #expect(
      sidecar.log.contains("serving http://127.0.0.1:\(second)/metrics, /healthz and /status"))
    // What a reload cannot apply is said, not silently dropped.
    try fixture.editConfig("state_directory: state", "state_directory: state2")
    sidecar.signal(SIGHUP)
    #expect(
      waitUntil(20) { sidecar.log.contains("state_directory changed to ") },
      "\(sidecar.log)")
    #expect(sidecar.log.contains("that needs a restart"))
    #expect(sidecar.stop() == 0)
  }

  @Test func sidecarServesMetricsThatFollowAFailover() throws {
    let fixture = try Fixture()
    let port = try freePort()
    try fixture.editConfig("metrics: {listen: off}", "metrics: {listen: \"127.0.0.1:\(port)\"}")
    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(notify.waitFor("READY=1"), "\(sidecar.log)")
    func scrape() throws -> String {
      try run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(port)/metrics"], timeout: 30).output
    }
    // The start-up restart runs in the background: counted once it has finished.
    #expect(
      waitUntil(20) {
        (try? scrape())?.contains("pgfollow_restarts_total{app=\"app\",result=\"success\"} 1")
          == true
      })
    let before = try scrape()
    #expect(
      before.contains("pgfollow_leader_info{leader=\"node1\",address=\"node1:5432\"} 1"),
      "\(before)")
    #expect(before.contains("pgfollow_decision{state=\"follow\"} 1"))
    #expect(before.contains("pgfollow_node_up{node=\"node2\"} 1"))
    #expect(before.contains("pgfollow_restarts_total{app=\"app\",result=\"success\"} 1"))
    #expect(before.contains("# TYPE pgfollow_cycle_duration_seconds histogram"))
    #expect(before.contains("pgfollow_cycle_duration_seconds_bucket{le=\"+Inf\"}"))

    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote", "node2")
    #expect(try waitUntil(20) { try scrape().contains("leader=\"node2\"") }, "\(sidecar.log)")
    #expect(
      try waitUntil(10) {
        try scrape().contains("pgfollow_restarts_total{app=\"app\",result=\"success\"} 2")
      })
    let after = try scrape()
    #expect(after.contains("pgfollow_switches_total 1"), "\(after)")
    #expect(after.contains("pgfollow_node_up{node=\"node1\"} 0"))
    let notFound = try run(
      "/usr/bin/curl",
      ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"], timeout: 30)
    #expect(notFound.output == "404")
    #expect(sidecar.stop() == 0)
  }

  @Test func onceWritesATextfile() throws {
    let fixture = try Fixture()
    try fixture.editConfig(
      "metrics: {listen: off}", "metrics: {listen: off, textfile: pgfollow.prom}")
    #expect(try fixture.pgfollow("once").status == 2)
    let text = try String(contentsOfFile: fixture.directory + "/pgfollow.prom", encoding: .utf8)
    #expect(text.contains("pgfollow_leader_info{leader=\"node1\",address=\"node1:5432\"} 1"))
    #expect(text.contains("pgfollow_cycles_total 1"))
  }
}
