import Dispatch
package import PGFollowCore
import PGFollowPostgres

/// Probes over one persistent connection per node (the sidecar's prober). Connections are
/// re-established with backoff when lost; at steady state no new connection is opened. Every
/// probe of a cycle ends by the cycle deadline, and a node that stops answering mid-session has
/// its connection dropped.
package final class SessionProber: Prober {
  private let sessions = Locked<[String: NodeSession]>([:])

  package init() {}

  package func probe(_ config: Config) async -> [NodeEvidence] {
    let query = ProbeQuery(table: config.failoverTable, nodes: config.nodeNames)
    let deadline = ContinuousClock.now + config.run.cycleDeadline
    let connectTimeout = min(config.timeouts.connect, config.run.cycleDeadline)
    return await concurrentlyInOrder(sessions(for: config)) { session in
      await session.probe(query, connectTimeout: connectTimeout, deadline: deadline)
    }
  }

  /// Sockets of connections that sit idle between cycles. One becoming readable means the server
  /// said something unasked (it is shutting down, or the connection broke): worth a cycle now.
  package func idleSockets() -> [Int32] {
    sessions.withLock { sessions in sessions.values.compactMap(\.idleSocket) }
  }

  /// The sessions for the configured nodes, kept across cycles while a node's settings stay.
  private func sessions(for config: Config) -> [NodeSession] {
    sessions.withLock { sessions in
      let kept = config.nodes.map { node in
        if let session = sessions[node.name], session.node == node { return session }
        return NodeSession(node: node)
      }
      sessions = Dictionary(uniqueKeysWithValues: kept.map { ($0.node.name, $0) })
      return kept
    }
  }
}

/// One node's persistent connection. Its libpq calls run on its own serial queue, never on the
/// cooperative pool; `connection` and the backoff are touched only there.
final class NodeSession: @unchecked Sendable {
  let node: NodeConfig
  private let queue: DispatchQueue
  private let busy = Locked(false)
  private let watchable = Locked<Int32?>(nil)
  private var connection: PostgresConnection? {
    didSet { watchable.withLock { $0 = connection?.socket } }
  }
  private var nextAttempt = ContinuousClock.now
  private var backoff = Duration.zero

  init(node: NodeConfig) {
    self.node = node
    self.queue = DispatchQueue(label: "pgfollow.node.\(node.name)")
  }

  /// The connection's socket when connected and not probing.
  var idleSocket: Int32? {
    busy.withLock { $0 } ? nil : watchable.withLock { $0 }
  }

  func probe(_ query: ProbeQuery, connectTimeout: Duration, deadline: ContinuousClock.Instant)
    async -> NodeEvidence
  {
    let start = ContinuousClock.now
    let result: Result<Observation, ProbeFailure>
    if busy.withLock({ busy in
      defer { busy = true }; return busy
    }) {
      result = .failure(
        ProbeFailure(stage: .timeout, message: "still waiting for the previous probe to return"))
    } else {
      result =
        await onOwnThread(deadline: deadline, queue: queue) { [self] in
          defer { busy.withLock { $0 = false } }
          return probeOnQueue(query, connectTimeout: connectTimeout, deadline: deadline)
        }
        ?? .failure(ProbeFailure(stage: .timeout, message: "no answer by the cycle deadline"))
    }
    return NodeEvidence(
      node: node.name, result: result, latencyMilliseconds: milliseconds(start.duration(to: .now)))
  }

  private func probeOnQueue(
    _ query: ProbeQuery, connectTimeout: Duration, deadline: ContinuousClock.Instant
  ) -> Result<Observation, ProbeFailure> {
    let now = ContinuousClock.now
    if connection == nil && now < nextAttempt {
      let wait = formatDuration(now.duration(to: nextAttempt))
      return .failure(
        ProbeFailure(stage: .connect, message: "not connected; next attempt in \(wait)"))
    }
    do throws(PostgresError) {
      let connection = try connected(connectTimeout: connectTimeout, deadline: deadline)
      let observation = try query.run(on: connection, deadline: deadline)
      backoff = .zero
      return .success(observation)
    } catch {
      if error.kind != .query || connection?.isHealthy != true {
        dropConnection(noSlot: error.refusal == .noSlot)
      }
      return .failure(ProbeFailure(error))
    }
  }

  private func connected(connectTimeout: Duration, deadline: ContinuousClock.Instant)
    throws(PostgresError) -> PostgresConnection
  {
    if let connection { return connection }
    let now = ContinuousClock.now
    let connection = try PostgresConnection.connect(
      conninfo: node.conninfo, deadline: min(now + connectTimeout, deadline))
    self.connection = connection
    return connection
  }

  /// Waits before the next attempt: 250 ms doubling to 5 s, or, when the node had no slot left,
  /// 2 s doubling to a minute. Each wait is jittered (half to one and a half times), so that a
  /// fleet that lost a node at the same moment does not knock on it at the same moments.
  private func dropConnection(noSlot: Bool) {
    connection = nil
    let (first, cap): (Duration, Duration) =
      noSlot ? (.seconds(2), .seconds(60)) : (.milliseconds(250), .seconds(5))
    backoff = min(max(backoff * 2, first), cap)
    nextAttempt = .now + backoff * Double.random(in: 0.5...1.5)
  }
}

func milliseconds(_ duration: Duration) -> Int {
  Int(duration.wholeMilliseconds)
}
