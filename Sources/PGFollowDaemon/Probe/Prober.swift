import Dispatch
package import PGFollowCore
import PGFollowPostgres

/// Looks at every node once and says what it saw.
package protocol Prober: Sendable {
  func probe(_ config: Config) async -> [NodeEvidence]
}

/// Probes every node at once over libpq, one query each, each on a thread of its own, so that a
/// node that never answers costs at most its deadline and does not delay the others.
package struct LibPQProber: Prober {
  package init() {}

  package func probe(_ config: Config) async -> [NodeEvidence] {
    let query = ProbeQuery(table: config.failoverTable, nodes: config.nodeNames)
    return await concurrentlyInOrder(config.nodes) { node in
      await probeNode(node, query: query, timeouts: config.timeouts)
    }
  }
}

/// Runs `work` on every item at once and returns the results in the items' order.
func concurrentlyInOrder<Item: Sendable, Result: Sendable>(
  _ items: [Item], _ work: @escaping @Sendable (Item) async -> Result
) async -> [Result] {
  await withTaskGroup(of: (Int, Result).self) { group in
    for (index, item) in items.enumerated() {
      group.addTask { (index, await work(item)) }
    }
    var results: [(Int, Result)] = []
    for await result in group { results.append(result) }
    return results.sorted { $0.0 < $1.0 }.map(\.1)
  }
}

func probeNode(_ node: NodeConfig, query: ProbeQuery, timeouts: Timeouts) async -> NodeEvidence {
  let start = ContinuousClock.now
  let connectDeadline = start + timeouts.connect
  let queryBudget = timeouts.query
  let budget = timeouts.connect + timeouts.query
  let result = await onOwnThread(deadline: start + budget) {
    () -> Result<Observation, ProbeFailure> in
    do throws(PostgresError) {
      let connection = try PostgresConnection.connect(
        conninfo: node.conninfo, deadline: connectDeadline)
      return .success(try query.run(on: connection, deadline: .now + queryBudget))
    } catch {
      return .failure(ProbeFailure(error))
    }
  }
  return NodeEvidence(
    node: node.name,
    result: result
      ?? .failure(
        ProbeFailure(stage: .timeout, message: "no answer within \(formatDuration(budget))")),
    latencyMilliseconds: milliseconds(start.duration(to: .now)))
}

extension ProbeFailure {
  init(_ error: PostgresError) {
    switch (error.refusal, error.kind) {
    case (.noSlot?, _):
      self.init(
        stage: .noSlot,
        message: error.message + " (no connection slot for pgfollow: raise the watchers' role's "
          + "CONNECTION LIMIT or the server's max_connections, or watch through a PgBouncer; see "
          + "\"Running a fleet\" in the README)")
    case (.poolerCannotReachServer?, _):
      self.init(
        stage: .pooler, message: "the pooler answers, its server does not: " + error.message)
    case (nil, .connect): self.init(stage: .connect, message: error.message)
    case (nil, .query): self.init(stage: .query, message: error.message)
    case (nil, .timeout): self.init(stage: .timeout, message: error.message)
    }
  }
}

/// Runs blocking work on a thread outside the cooperative pool; returns nil if it is not done by
/// `deadline` (the work then finishes on its own and its result is dropped).
func onOwnThread<T: Sendable>(
  deadline: ContinuousClock.Instant, queue: DispatchQueue = .global(),
  _ work: @escaping @Sendable () -> T
) async -> T? {
  await withCheckedContinuation { continuation in
    let once = ResumeOnce(continuation)
    queue.async { once.resume(work()) }
    let remaining = ContinuousClock.now.duration(to: deadline) + .milliseconds(50)
    let wait = max(0, milliseconds(remaining))
    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(wait)) {
      once.resume(nil)
    }
  }
}

private final class ResumeOnce<T: Sendable>: Sendable {
  private let continuation: Locked<CheckedContinuation<T?, Never>?>

  init(_ continuation: CheckedContinuation<T?, Never>) {
    self.continuation = Locked(continuation)
  }

  func resume(_ value: T?) {
    let taken = continuation.withLock { stored -> CheckedContinuation<T?, Never>? in
      defer { stored = nil }
      return stored
    }
    taken?.resume(returning: value)
  }
}
