import Foundation
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
    #expect(try curl(port, "/nowhere").output.hasSuffix("404"))
    #expect(sidecar.stop() == 0)
  }
}
