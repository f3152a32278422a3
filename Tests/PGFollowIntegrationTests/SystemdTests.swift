import Foundation
import PGFollowTestSupport
import Testing

/// pgfollow.service under a real systemd, in a throwaway container (scripts/systemd-container),
/// following a failover of the real test cluster.
@Suite(.serialized, Needs.systemd) struct SystemdTests {
  @Test func exampleUnitPassesSystemdAnalyzeVerify() throws {
    let fixture = try Fixture()
    let unit = try serviceUnit(binary: Fixture.binary, config: fixture.configFile)
    let path = fixture.directory + "/pgfollow.service"
    try unit.write(toFile: path, atomically: false, encoding: .utf8)
    let result = try run("/usr/bin/systemd-analyze", ["verify", path], timeout: 60)
    #expect(result.status == 0, "\(result.output)")
  }

  /// The shipped unit with `verify:`: the real application unit (a pool of sessions) is
  /// restarted by systemd and verified on the new primary after a crash failover.
  @Test func theShippedUnitVerifiesThatTheApplicationFollowed() throws {
    let fixture = try Fixture()
    _ = try SessionApp(fixture: fixture)
    try fixture.editConfig("  set:\n", "  verify: {role: shop, within: 10s}\n  set:\n")
    let container = try Container(fixture: fixture)
    defer { container.powerOff() }
    try container.install(
      fixture: fixture, appCommand: "/opt/t/session-app /opt/t/app.yaml 4 shop")
    try container.startApplicationAndSidecar()
    #expect(
      try waitUntil(30) { try container.journal().contains("app reached node1: ") },
      "\((try? container.journal()) ?? "")")
    try fixture.failOver()
    #expect(
      try waitUntil(30) { try container.journal().contains("app reached node2: ") },
      "\((try? container.journal()) ?? "")")
    let line = try container.journal().split(separator: "\n").last {
      $0.contains("app reached node2")
    }
    print("under systemd: \(line ?? "")")
    let warnings = try container.pgfollowWarnings()
    #expect(warnings.isEmpty, "\(warnings)")
    let status = try container.execResult([
      "/opt/t/pgfollow", "status", "-c", "/opt/t/pgfollow.yaml",
    ])
    #expect(status.status == 1, "\(status.output)")
    #expect(status.output.contains("switch:   app reached node2"), "\(status.output)")
  }

  @Test func sidecarUnderSystemdFollowsAFailoverAndIsWatched() throws {
    let fixture = try Fixture()
    let container = try Container(fixture: fixture)
    defer { container.powerOff() }
    try container.install(fixture: fixture)

    try container.systemctl("start", "app.service")
    try container.systemctl("start", "pgfollow.service")
    #expect(try container.property("pgfollow", "ActiveState") == "active")
    #expect(try container.property("pgfollow", "StatusText") == "following node1")
    let startsBefore = container.appStarts()
    let invocationBefore = try container.property("app", "InvocationID")
    let pidBefore = try container.property("app", "MainPID")

    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote", "node2")
    #expect(
      try waitUntil(30) { try container.property("pgfollow", "StatusText") == "following node2" })
    #expect(waitUntil(30) { container.appStarts().count == startsBefore.count + 1 })
    usleep(1_000_000)
    let startsAfter = container.appStarts()
    #expect(startsAfter.count == startsBefore.count + 1, "restarted more than once: \(startsAfter)")
    let invocationAfter = try container.property("app", "InvocationID")
    #expect(invocationAfter != invocationBefore && invocationAfter == startsAfter.last)
    #expect(try container.property("app", "MainPID") != pidBefore)
    #expect(try fixture.appValues().contains("address: node2:5432   # the primary"))

    // A sidecar that stops answering is killed by the watchdog and started again.
    let hungPID = try container.property("pgfollow", "MainPID")
    try container.exec("kill", "-STOP", hungPID)
    #expect(
      try waitUntil(60) {
        try container.property("pgfollow", "NRestarts") == "1"
          && container.property("pgfollow", "ActiveState") == "active"
      })
    #expect(try container.property("pgfollow", "MainPID") != hungPID)
    #expect(try container.journal().contains("Failed with result 'watchdog'"))
    #expect(
      container.appStarts().count == startsAfter.count, "the restarted sidecar restarted the app")

    try container.systemctl("stop", "pgfollow.service")
    #expect(try container.property("pgfollow", "ActiveState") == "inactive")
    #expect(try container.property("pgfollow", "Result") == "success")
    #expect(
      try container.journal().contains("pgfollow[") && container.journal().contains("stopped"))
  }
}
