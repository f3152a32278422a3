import Foundation
import PGFollowTestSupport
import Testing

/// pgfollow behind real links (scripts/faulty-network): a node far away, a blackholed primary
/// and lossy links. The figures printed here are for reading; bench/network measures them.
@Suite(.serialized, Needs.network) struct NetworkFaultTests {
  /// A cluster whose nodes pgfollow reaches through links, the sidecar started and settled
  /// (node1 the leader, node2 its healthy standby in the file).
  /// The network must outlive the sidecar, which runs inside it.
  private func settledSidecar(
    timeouts: String = "connect: 1s\n  query: 1s", settle: String = "0s", faults: String...
  ) throws -> (Fixture, FaultyNetwork, Sidecar) {
    let fixture = try Fixture()
    try fixture.writeConfig(nodes: 2, timeouts: timeouts)
    try fixture.editConfig(
      "state_directory:", "run: {standby_settle: \(settle)}\nstate_directory:")
    let network = try FaultyNetwork(fixture, nodes: ["node1", "node2"])
    if !faults.isEmpty { try network.set("node2", faults) }
    let sidecar = try Sidecar(fixture: fixture, launcher: network.launcher)
    // The file names node2 as the standby, and the start's restart (in the background) is done.
    let settled = try waitUntil(40) {
      try fixture.appValues().contains("{address: node2:5432") && fixture.restarts().count == 1
    }
    guard settled else {
      throw FixtureError(message: "node2 never seen as the standby:\n\(sidecar.log)")
    }
    return (fixture, network, sidecar)
  }

  @Test func aStandbyFarAwayIsConnectedProbedAndFollowed() throws {
    // 400 ms each way: a connection takes about 3.2 s (four round trips), a probe 0.8 s.
    let (fixture, network, sidecar) = try settledSidecar(
      timeouts: "connect: 5s\n  query: 1500ms", faults: "delay_ms=400")
    let started = Date()
    try fixture.failOver()
    let followed = try waitUntil(30) { try fixture.masterAddress() == "node2:5432" }
    #expect(followed, "the failover to node2 was not followed:\n\(sidecar.log)")
    print(
      "followed a failover to a node 400 ms away in \(Int(Date().timeIntervalSince(started) * 1000)) ms"
    )
    // One connection, kept: a probe slower than the loopback never costs it.
    #expect(try fixture.pgfollowBackends("node2").count == 1)
    #expect(sidecar.stop() == 0)
    withExtendedLifetime(network) {}
  }

  @Test func aBlackholedPrimaryIsLeftBehindAndOncePaysForItOnce() throws {
    let (fixture, network, sidecar) = try settledSidecar()
    try network.set("node1", "blackhole=1")
    let started = Date()
    try fixture.clusterCommand("promote", "node2")
    let followed = try waitUntil(30) { try fixture.masterAddress() == "node2:5432" }
    #expect(followed, "the promotion of node2 was not followed:\n\(sidecar.log)")
    print(
      "followed node2 past a blackholed node1 in \(Int(Date().timeIntervalSince(started) * 1000)) ms"
    )
    #expect(waitUntil(10) { sidecar.log.contains("node node1 unreachable") }, "\(sidecar.log)")
    // The restart the switch owes, held back by the 2 s spacing, before the sidecar stops.
    #expect(waitUntil(10) { fixture.restarts().count == 2 }, "\(sidecar.log)")
    #expect(sidecar.stop() == 0)
    let onceStarted = Date()
    let once = try network.pgfollow(fixture, "once")
    #expect(once.status == 0, "\(once.output)")
    #expect(once.output.contains("node node1 unreachable"), "\(once.output)")
    print("once with node1 blackholed: \(Int(Date().timeIntervalSince(onceStarted) * 1000)) ms")
  }

  @Test func lossyLinksRestartNothingAndLeaveTheNodesSeen() throws {
    // A standby settle longer than the test: what is tested is that the leader never moves.
    let (fixture, network, sidecar) = try settledSidecar(settle: "60s")
    let restarts = fixture.restarts().count
    let file = try fixture.appValues()
    let logBefore = sidecar.log.count
    try network.set("node1", "loss=0.3", "delay_ms=100")
    try network.set("node2", "loss=0.3", "delay_ms=100")
    let seconds = 10.0
    let started = Date()
    usleep(UInt32(seconds * 1_000_000))
    let log = String(sidecar.log.dropFirst(logBefore))
    #expect(fixture.restarts().count == restarts, "\(log)")
    #expect(try fixture.appValues() == file)
    for node in ["node1", "node2"] {
      let blind = blindSeconds(node, log: log, from: started, to: Date())
      print(
        "30 % loss, 100 ms each way, \(Int(seconds)) s: \(node) had fresh evidence "
          + "\(Int((1 - blind / seconds) * 100)) % of the time")
      // The old sidecar lost its connection at the first lost packet and never got it back
      // (blind 96 % of the time); bench/network measures the share, this only that it is seen.
      #expect(blind < seconds * 0.9, "\(node) blind for \(blind) s of \(seconds):\n\(log)")
    }
    #expect(sidecar.stop() == 0)
  }

  /// Seconds between each "node N unreachable" line and the next "node N reachable again".
  private func blindSeconds(_ node: String, log: String, from: Date, to: Date) -> Double {
    let format = ISO8601DateFormatter()
    format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    var blind = 0.0
    var downSince: Date?
    for line in log.split(separator: "\n") {
      guard let stamp = line.split(separator: " ").first.flatMap({ format.date(from: String($0)) })
      else { continue }
      if line.contains("node \(node) unreachable"), downSince == nil { downSince = stamp }
      if line.contains("node \(node) reachable again"), let since = downSince {
        blind += stamp.timeIntervalSince(since)
        downSince = nil
      }
    }
    if let since = downSince { blind += to.timeIntervalSince(max(since, from)) }
    return blind
  }
}
