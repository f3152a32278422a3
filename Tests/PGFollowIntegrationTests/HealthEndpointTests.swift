import Foundation
import PGFollowCore
import PGFollowTestSupport
import Testing

@testable import PGFollowDaemon

#if canImport(Glibc)
  import Glibc
#endif

/// The sidecar's HTTP listener: `/healthz` and `/status` beside `/metrics`, answered whatever
/// silent or slow clients hold connections open.
@Suite(.serialized) struct HealthEndpointTests {
  /// Connects to 127.0.0.1:`port` and sends `text` (nothing when empty); the socket stays open.
  private func connectedClient(_ port: Int, sending text: String = "") throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port)).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard descriptor >= 0, connected == 0 else {
      throw FixtureError(message: "cannot connect to \(port): \(String(cString: strerror(errno)))")
    }
    if !text.isEmpty { _ = text.withCString { send(descriptor, $0, strlen($0), 0) } }
    return descriptor
  }

  private func curl(_ port: Int, _ path: String, _ extra: [String] = []) throws -> RunResult {
    try run(
      "/usr/bin/curl",
      ["-s", "-m", "3", "-o", "-", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]
        + extra, timeout: 30)
  }

  /// 200 silent clients (more than the 64 served at once) and 20 that send half a request: every
  /// request from curl is still answered, and the silent ones are dropped after their 2 s.
  @Test func silentAndSlowClientsNeverStallAnAnswer() throws {
    let port = try freePort()
    let listener = try HTTPListener(listen: "127.0.0.1:\(port)") { path in
      HTTPAnswer(contentType: "text/plain", body: "answer for \(path)\n")
    }
    defer { listener.stop() }
    var held: [Int32] = []
    defer { for descriptor in held { close(descriptor) } }
    for index in 0..<220 {
      held.append(try connectedClient(port, sending: index < 20 ? "GET /metr" : ""))
    }
    for path in ["/metrics", "/healthz", "/status"] {
      let answered = try curl(port, path)
      #expect(answered.status == 0, "curl gave up: \(answered.output)")
      #expect(answered.output == "answer for \(path)\n\n200", "\(answered.output)")
    }
    // A silent client is closed by the listener after 2 s: its read then sees the end.
    let silent = held[100]
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(silent, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var byte: UInt8 = 0
    let started = Date()
    #expect(recv(silent, &byte, 1, 0) <= 0)
    #expect(Date().timeIntervalSince(started) < 4.5, "the silent client was never dropped")
    let head = try curl(port, "/healthz", ["-I"])
    #expect(head.output.hasPrefix("HTTP/1.1 200 OK"), "\(head.output)")
    let post = try curl(port, "/healthz", ["-X", "POST"])
    #expect(post.output.hasSuffix("405"), "\(post.output)")
  }

  /// After answering requests, the listener's port holds connections in TIME_WAIT (the listener
  /// closes first); a new listener, as after `systemctl restart`, binds it at once all the same.
  /// A request that arrives with more after its headers is answered too.
  @Test func aNewListenerBindsAtOnceAfterServedRequests() throws {
    let port = try freePort()
    let first = try HTTPListener(listen: "127.0.0.1:\(port)") { _ in
      HTTPAnswer(contentType: "text/plain", body: "first\n")
    }
    for _ in 0..<20 { #expect(try curl(port, "/healthz").output == "first\n\n200") }
    first.stop()
    #expect(waitUntil(5) { (try? curl(port, "/healthz"))?.output.hasSuffix("000") == true })
    let second = try HTTPListener(listen: "127.0.0.1:\(port)") { _ in
      HTTPAnswer(contentType: "text/plain", body: "second\n")
    }
    defer { second.stop() }
    #expect(try curl(port, "/healthz").output == "second\n\n200")
    let client = try connectedClient(port, sending: "GET /healthz HTTP/1.1\r\n\r\nextra")
    defer { close(client) }
    var timeout = timeval(tv_sec: 3, tv_usec: 0)
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = recv(client, &buffer, buffer.count, 0)
    #expect(count > 0 && String(decoding: buffer[..<count], as: UTF8.self).hasSuffix("second\n"))
  }

  /// A sidecar whose address is held by another socket says so once, serves nothing meanwhile,
  /// and binds as soon as the address is free.
  @Test(Needs.cluster) func theSidecarBindsOnceItsAddressIsFree() throws {
    let fixture = try Fixture()
    let port = try freePort()
    try fixture.editConfig("metrics: {listen: off}", "metrics: {listen: \"127.0.0.1:\(port)\"}")
    let squatter = try HTTPListener(listen: "127.0.0.1:\(port)") { _ in
      HTTPAnswer(contentType: "text/plain", body: "squatter\n")
    }
    let sidecar = try Sidecar(fixture: fixture)
    #expect(
      waitUntil(20) { sidecar.log.contains("no metrics or health endpoints") }, "\(sidecar.log)")
    #expect(sidecar.log.contains("trying again every 2s"), "\(sidecar.log)")
    squatter.stop()
    #expect(
      try waitUntil(20) { try curl(port, "/healthz").output == "following node1\n\n200" },
      "\(sidecar.log)")
    let log = sidecar.log
    #expect(log.components(separatedBy: "no metrics or health endpoints").count == 2, "\(log)")
    #expect(log.contains("serving http://127.0.0.1:\(port)/metrics"), "\(log)")
    #expect(sidecar.stop() == 0)
  }

  /// `/healthz` is 200 with the reason while the sidecar follows, 503 with the reason while it
  /// holds; `/status` is `status --json`'s document.
  @Test(Needs.cluster) func healthzSaysWhetherTheHostFollowsAConfirmedLeader() throws {
    let fixture = try Fixture()
    let port = try freePort()
    try fixture.editConfig("metrics: {listen: off}", "metrics: {listen: \"127.0.0.1:\(port)\"}")
    let sidecar = try Sidecar(fixture: fixture)
    #expect(
      try waitUntil(20) { try curl(port, "/healthz").output.hasSuffix("200") }, "\(sidecar.log)")
    let following = try curl(port, "/healthz")
    #expect(following.output == "following node1\n\n200", "\(following.output)")
    #expect(
      try curl(port, "/metrics").output.contains("pgfollow_health{condition=\"following\"} 0"))
    let status = try curl(port, "/status")
    #expect(status.output.hasPrefix("{\"health\": \"OK\""), "\(status.output)")
    #expect(status.output.contains("\"leader\": \"node1\""))
    #expect(status.output.contains("\"timeline\": 1"))

    try fixture.clusterCommand("kill", "node1")
    #expect(
      try waitUntil(20) { try curl(port, "/healthz").output.hasSuffix("503") }, "\(sidecar.log)")
    let holding = try curl(port, "/healthz")
    print("/healthz while holding:\n\(holding.output)")
    #expect(
      holding.output.hasPrefix("holding: the newest row ")
        && holding.output.contains("unreachable"),
      "\(holding.output)")
    // One grade everywhere: the metric and `status` say what /healthz says.
    #expect(
      try curl(port, "/metrics").output.contains("pgfollow_health{condition=\"holding\"} 2"))
    #expect(try fixture.pgfollow("status").status == 2)
    #expect(try curl(port, "/nowhere").output.hasSuffix("404"))
    #expect(sidecar.stop() == 0)
  }
}

/// The grade's parts agree: each condition's level, exit status, HTTP status and metric.
@Suite struct HealthTests {
  @Test func eachConditionGradesTheSameEverywhere() {
    for condition in Health.Condition.allCases {
      let health = Health(condition, "why")
      #expect(health.exitCode == health.level.rawValue)
      #expect(health.httpStatus.hasPrefix(health.serves ? "200" : "503"))
      #expect(
        health.metric.hasSuffix(
          "pgfollow_health{condition=\"\(condition.rawValue)\"} \(health.exitCode)\n"))
      // Only a host that follows serves, however its standbys answer.
      #expect(health.serves == (condition == .following || condition == .nodesSilent))
      #expect((health.level == .ok) == (condition == .following))
    }
    #expect(Health(.holding, "").word == "CRITICAL" && Health(.starting, "").word == "STARTING")
  }
}

/// A check's timeout against the unit's watchdog, and systemd's timespans as `systemctl show`
/// prints them.
@Suite struct CheckTimeoutTests {
  @Test func aCheckThatMayOutliveHalfTheWatchdogIsNamed() throws {
    var config = Config(nodes: [], apps: [AppConfig(file: "/etc/shop/env.yaml", values: [])])
    config.apps[0].check = FileCheck(command: ["/usr/bin/shop", "--check", "{file}"])
    #expect(checkTimeoutProblems(config, watchdog: .seconds(10)).isEmpty)
    #expect(checkTimeoutProblems(config, watchdog: nil).isEmpty)
    let problems = checkTimeoutProblems(config, watchdog: .seconds(5))
    #expect(problems.count == 1)
    #expect(problems.first?.contains("check.timeout 3s is more than half") == true, "\(problems)")
    #expect(problems.first?.contains("to 2500ms in all") == true, "\(problems)")
    // Checks run one after another: two apps of 3 s each are 6 s of a cycle.
    config.apps.append(config.apps[0])
    let both = checkTimeoutProblems(config, watchdog: .seconds(10))
    #expect(both.first?.contains("the apps' check timeouts add up to 6s") == true, "\(both)")
  }

  @Test func systemdTimespansAreRead() {
    #expect(parseSystemdTimespan("10s") == .seconds(10))
    #expect(parseSystemdTimespan("1min 30s") == .seconds(90))
    #expect(parseSystemdTimespan("500ms") == .milliseconds(500))
    #expect(parseSystemdTimespan("3000000") == .seconds(3))
    #expect(parseSystemdTimespan("0") == nil && parseSystemdTimespan("infinity") == nil)
  }
}
