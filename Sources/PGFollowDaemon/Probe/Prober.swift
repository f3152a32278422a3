package import PGFollowCore
import PGFollowPostgres
package import PGFollowSystem

/// Looks at every node once and says what it saw.
package protocol Prober: Sendable {
  func probe(_ config: Config) async -> [NodeEvidence]
  /// Probes only the nodes named; rows naming the others still count.
  func probe(_ config: Config, only names: Set<String>) async -> [NodeEvidence]
}

extension Prober {
  /// For probers that read no rows: the configuration cut down to those nodes.
  package func probe(_ config: Config, only names: Set<String>) async -> [NodeEvidence] {
    var asked = config
    asked.nodes = config.nodes.filter { names.contains($0.name) }
    return await probe(asked)
  }
}

/// Probes every node at once over libpq, one query each, each on a thread of its own, so that a
/// node that never answers costs at most its deadline and does not delay the others.
/// It remembers how each node's table is read, so that a second probe (a confirmation) asks in
/// the right form at once.
package struct LibPQProber: Prober {
  private let tables = Locked<[String: TableKnowledge]>([:])

  package init() {}

  package func probe(_ config: Config) async -> [NodeEvidence] {
    await probe(config, only: Set(config.nodeNames))
  }

  package func probe(_ config: Config, only names: Set<String>) async -> [NodeEvidence] {
    let query = ProbeQuery(table: config.failoverTable, nodes: config.nodeNames)
    let known = tables.withLock { $0 }
    let results = await concurrentlyInOrder(config.nodes.filter { names.contains($0.name) }) {
      node in
      await probeNode(
        node, query: query, timeouts: config.timeouts, knowing: known[node.name] ?? TableKnowledge()
      )
    }
    tables.withLock { tables in
      for (evidence, table) in results { tables[evidence.node] = table }
    }
    return results.map(\.evidence)
  }
}

/// The sidecar's prober: the board's evidence as it stands, without waiting for any node. It
/// keeps the snapshot it last handed out, so the sidecar knows what its decision saw.
final class BoardProber: Prober {
  let board: EvidenceBoard
  private let lastSnapshot = Locked<EvidenceBoard.Snapshot?>(nil)

  init(board: EvidenceBoard) {
    self.board = board
  }

  var last: EvidenceBoard.Snapshot? { lastSnapshot.withLock { $0 } }

  func probe(_ config: Config) async -> [NodeEvidence] {
    let snapshot = board.snapshot(config.nodeNames)
    lastSnapshot.withLock { $0 = snapshot }
    return snapshot.evidence
  }
}

/// `once`'s prober: the first probe asks every node at once; a confirming probe asks again only
/// the nodes that answered, and keeps the others' failures, so a silent node is waited for once.
package final class ConfirmingProber: Prober {
  private let base: any Prober
  private let previous = Locked<[NodeEvidence]?>(nil)

  package init(_ base: any Prober = LibPQProber()) {
    self.base = base
  }

  package func probe(_ config: Config) async -> [NodeEvidence] {
    let earlier = previous.withLock { $0 } ?? []
    let silent = Dictionary(
      earlier.filter { $0.observation == nil }.map { ($0.node, $0) },
      uniquingKeysWith: { a, _ in a })
    // Rows naming a silent node still count: only the asking is cut down.
    let asked = Set(config.nodeNames.filter { silent[$0] == nil })
    let answers = asked.isEmpty ? [] : await base.probe(config, only: asked)
    let evidence = config.nodes.compactMap { node in
      silent[node.name] ?? answers.first { $0.node == node.name }
    }
    previous.withLock { $0 = evidence }
    return evidence
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

func probeNode(
  _ node: NodeConfig, query: ProbeQuery, timeouts: Timeouts, knowing known: TableKnowledge
) async -> (evidence: NodeEvidence, table: TableKnowledge) {
  let start = ContinuousClock.now
  let connectDeadline = start + timeouts.connect
  let queryBudget = timeouts.query
  let budget = timeouts.connect + timeouts.query
  // The deadline's 50 ms of grace lets libpq's own timeouts speak first.
  let answer = await resultBy(start + budget + .milliseconds(50)) {
    await onOwnThread { () -> (Result<Observation, ProbeFailure>, TableKnowledge) in
      var known = known
      do throws(PostgresError) {
        let connection = try PostgresConnection.connect(
          conninfo: node.conninfo, deadline: connectDeadline)
        do throws(PostgresError) {
          let observation = try query.run(
            on: connection, knowing: &known, deadline: .now + queryBudget)
          return (.success(observation), known)
        } catch  where error.kind == .timeout && connection.isHealthy {
          guard connection.sentIsAcknowledged else {
            let message =
              "connected, but the probe was not acknowledged within "
              + "\(formatDuration(queryBudget)): the network or the node's host"
            return (.failure(ProbeFailure(stage: .timeout, message: message)), known)
          }
          return (.failure(.slow(after: queryBudget)), known)
        }
      } catch {
        return (.failure(ProbeFailure(error)), known)
      }
    }
  }
  let evidence = NodeEvidence(
    node: node.name,
    result: answer?.0
      ?? .failure(
        ProbeFailure(stage: .timeout, message: "no answer within \(formatDuration(budget))")),
    latencyMilliseconds: Int(start.duration(to: .now).wholeMilliseconds))
  return (evidence, answer?.1 ?? known)
}

extension ProbeFailure {
  /// Connected, and the probe's answer took longer than `limit`: not an unreachable node.
  static func slow(after limit: Duration) -> ProbeFailure {
    ProbeFailure(
      stage: .slow,
      message:
        "connected; the probe took longer than \(formatDuration(limit)): the node is frozen or "
        + "overloaded, or the failover table is large and lacks the indexes of `pgfollow init` "
        + "(`pgfollow check-config` says which)")
  }

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
    case (let refusal?, .connect), (let refusal?, .query):
      self.init(
        stage: error.kind == .query ? .query : .connect, message: error.message,
        refusal: Self.refusal(refusal))
    case (nil, .connect): self.init(stage: .connect, message: error.message)
    case (nil, .query): self.init(stage: .query, message: error.message)
    case (_, .timeout), (_, .interrupted): self.init(stage: .timeout, message: error.message)
    }
  }

  private static func refusal(_ refusal: PostgresError.Refusal) -> Refusal? {
    switch refusal {
    case .missing: .missing
    case .denied: .denied
    case .misconfigured: .misconfigured
    case .noSlot, .poolerCannotReachServer: nil
    }
  }
}
