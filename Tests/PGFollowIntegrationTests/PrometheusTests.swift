import Foundation
import PGFollowTestSupport
import Testing

/// The shipped alert rules (examples/prometheus), checked by promtool and run by a real
/// Prometheus that scrapes a sidecar against the test cluster.
@Suite(.serialized, Needs.prometheus) struct PrometheusTests {
  static let rules = Fixture.packageRoot.path + "/examples/prometheus"
  static let dashboard = Fixture.packageRoot.path + "/examples/grafana/pgfollow-dashboard.json"

  @Test func promtoolChecksAndTestsTheRules() throws {
    let checked = try run(
      "/usr/bin/promtool", ["check", "rules", Self.rules + "/pgfollow-rules.yml"], timeout: 60)
    #expect(checked.status == 0, "\(checked.output)")
    #expect(checked.output.contains("SUCCESS: 10 rules found"), "\(checked.output)")
    let tested = try run(
      "/usr/bin/promtool", ["test", "rules", Self.rules + "/pgfollow-rules.test.yml"],
      timeout: 60)
    #expect(tested.status == 0, "\(tested.output)")
  }

  /// The application reads a copy of its file that names the standby: its sessions sit there,
  /// and Prometheus fires PgfollowApplicationNotOnLeader for that app.
  @Test func theNotOnLeaderAlertFiresForAnApplicationOnTheStandby() throws {
    let fixture = try Fixture()
    let app = try SessionApp.readingACopy(fixture, naming: "node2")
    defer { app.stop() }
    #expect(try fixture.pgfollow("once").status == 2)
    try fixture.editConfig("  set:\n", "  verify: {role: shop, within: 2s, every: 1s}\n  set:\n")
    let (metricsPort, prometheusPort) = (try freePort(), try freePort())
    try fixture.editConfig(
      "metrics: {listen: off}", "metrics: {listen: \"127.0.0.1:\(metricsPort)\"}")
    let sidecar = try Sidecar(fixture: fixture)
    let prometheus = try startPrometheus(fixture, metricsPort, prometheusPort)
    defer { prometheus.stop() }
    let firing = try waitUntil(120) {
      let text = try alerts(prometheusPort)
      return text.contains("\"alertname\":\"PgfollowApplicationNotOnLeader\"")
        && text.contains("\"state\":\"firing\"")
    }
    let text = try alerts(prometheusPort)
    print("Prometheus's alerts with the application on the standby:\n\(text)")
    #expect(firing, "\(text)\n\(sidecar.log)")
    #expect(text.contains("\"app\":\"app\""), "\(text)")
    #expect(sidecar.stop() == 0)
  }

  private func startPrometheus(_ fixture: Fixture, _ metricsPort: Int, _ prometheusPort: Int)
    throws -> BackgroundServer
  {
    let config = fixture.directory + "/prometheus.yml"
    try """
    global: {scrape_interval: 1s, evaluation_interval: 1s}
    rule_files: ["\(Self.rules)/pgfollow-rules.yml"]
    scrape_configs:
      - job_name: pgfollow
        static_configs: [{targets: ["127.0.0.1:\(metricsPort)"]}]
    """.write(toFile: config, atomically: false, encoding: .utf8)
    return try BackgroundServer(
      "/usr/bin/prometheus",
      [
        "--config.file=\(config)", "--storage.tsdb.path=\(fixture.directory)/tsdb",
        "--web.listen-address=127.0.0.1:\(prometheusPort)",
      ], log: fixture.directory + "/prometheus.log")
  }

  private func alerts(_ port: Int) throws -> String {
    try run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(port)/api/v1/alerts"], timeout: 10).output
  }

  /// node1 dies and nobody promotes node2: the sidecar holds, and Prometheus, scraping it every
  /// second, fires PgfollowHolding once the hold has lasted the rule's minute.
  @Test func theHoldingAlertFiresDuringAFailoverThatCannotComplete() throws {
    let fixture = try Fixture()
    let (metricsPort, prometheusPort) = (try freePort(), try freePort())
    try fixture.editConfig(
      "metrics: {listen: off}", "metrics: {listen: \"127.0.0.1:\(metricsPort)\"}")
    let sidecar = try Sidecar(fixture: fixture)
    let prometheus = try startPrometheus(fixture, metricsPort, prometheusPort)
    defer { prometheus.stop() }
    func alerts() throws -> String { try self.alerts(prometheusPort) }
    #expect(
      waitUntil(30) { (try? alerts())?.contains("\"status\":\"success\"") == true },
      "\(prometheus.log)")
    #expect(try waitUntil(20) { try sidecar.log.contains("leader node1") }, "\(sidecar.log)")
    // Every pgfollow metric the rules and the dashboard use is one the sidecar exports.
    let scrape = try run(
      "/usr/bin/curl", ["-s", "http://127.0.0.1:\(metricsPort)/metrics"], timeout: 10
    ).output
    for file in [Self.rules + "/pgfollow-rules.yml", Self.dashboard] {
      let text = try String(contentsOfFile: file, encoding: .utf8)
      let used = Set(text.matches(of: /pgfollow_[a-z_]+/).map { String($0.output) })
        .map { $0.replacing(/_(bucket|sum|count)$/, with: "") }
      #expect(used.count >= 8, "\(file): \(used)")
      for name in used {
        #expect(scrape.contains("# TYPE \(name) "), "\(file) uses \(name), which is not exported")
      }
    }

    try fixture.clusterCommand("kill", "node1")
    #expect(
      try waitUntil(20) { try alerts().contains("\"alertname\":\"PgfollowHolding\"") },
      "the hold is pending: \((try? alerts()) ?? "")")
    let firing = try waitUntil(120) {
      let text = try alerts()
      return text.contains("\"alertname\":\"PgfollowHolding\"")
        && text.contains("\"state\":\"firing\"")
    }
    let text = try alerts()
    print("Prometheus's alerts during a hold:\n\(text)")
    #expect(firing, "\(text)")
    #expect(sidecar.stop() == 0)
  }
}
