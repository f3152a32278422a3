package import PGFollowCore
import PGFollowSystem

/// Every configured node's watcher and the board they publish to. A watcher is kept across
/// reloads while its node's settings, the node list and the state table stay the same.
package final class NodeWatchers: Sendable {
  package let board: EvidenceBoard
  private let watchers = Locked<[String: NodeWatcher]>([:])
  /// Second watchers of the nodes whose answers are often late (see `hedgeLateNodes`).
  private let hedges = Locked<[String: NodeWatcher]>([:])
  private let pace: Locked<Pace>

  /// `published` is called after every result a watcher publishes.
  package init(_ config: Config, pace: Pace, published: @escaping @Sendable () -> Void) {
    board = EvidenceBoard(freshFor: config.freshness, published: published)
    self.pace = Locked(pace)
    update(config)
  }

  /// Starts the watchers `config` needs and stops the others.
  package func update(_ config: Config) {
    board.freshness = config.freshness
    let query = ProbeQuery(table: config.failoverTable, nodes: config.nodeNames)
    let pace = self.pace.withLock { $0 }
    let stopped = watchers.withLock { watchers -> [NodeWatcher] in
      var kept: [String: NodeWatcher] = [:]
      for node in config.nodes {
        if let watcher = watchers[node.name],
          watcher.watches(node, query: query, timeouts: config.timeouts)
        {
          kept[node.name] = watcher
        } else {
          kept[node.name] = NodeWatcher(
            node: node, query: query, timeouts: config.timeouts, pace: pace, board: board)
        }
      }
      let gone = watchers.filter { kept[$0.key] !== $0.value }.map(\.value)
      watchers = kept
      return gone
    }
    for watcher in stopped {
      watcher.stop()
      if !config.nodeNames.contains(watcher.node.name) { board.forget(watcher.node.name) }
    }
    let kept = watchers.withLock { $0 }
    // A second watcher goes with its node's settings (a new one starts when still needed).
    let staleHedges = hedges.withLock { hedges -> [NodeWatcher] in
      let stale = { (name: String, hedge: NodeWatcher) -> Bool in
        guard let primary = kept[name] else { return true }
        return !hedge.watches(primary.node, query: primary.query, timeouts: primary.timeouts)
      }
      let gone = hedges.filter(stale).map(\.value)
      hedges = hedges.filter { !stale($0.key, $0.value) }
      return gone
    }
    staleHedges.forEach { $0.stop() }
  }

  /// Sets every watcher's pace; returns the nodes whose second watcher started or ended.
  @discardableResult
  package func setPace(_ pace: Pace) -> (hedged: [String], unhedged: [String]) {
    self.pace.withLock { $0 = pace }
    each { $0.setPace(pace) }
    return hedgeLateNodes(pace)
  }

  /// A node whose probes were late three times within a minute (a lossy link: one lost packet
  /// delays an answer by TCP's retransmissions, seconds at worst) gets a second watcher on a
  /// connection of its own, whose answers come in between; it goes once the node has not been
  /// late for five minutes. Each costs one more connection while it lasts; none starts during a
  /// failover.
  private func hedgeLateNodes(_ pace: Pace) -> (hedged: [String], unhedged: [String]) {
    let primaries = watchers.withLock { $0 }
    let board = self.board
    let (started, ended) = hedges.withLock { hedges -> ([String], [NodeWatcher]) in
      let change = hedgeChanges(
        nodes: primaries.keys.sorted(), hedged: Set(hedges.keys), failover: pace.failover,
        lateCount: { board.lateCount($0, within: $1) })
      for name in change.start {
        guard let watcher = primaries[name] else { continue }
        hedges[name] = NodeWatcher(
          node: watcher.node, query: watcher.query, timeouts: watcher.timeouts, pace: pace,
          board: board, isHedge: true)
      }
      let ended = change.end.compactMap { hedges.removeValue(forKey: $0) }
      return (change.start, ended)
    }
    ended.forEach { $0.stop() }
    return (started, ended.map(\.node.name))
  }

  /// Every watcher probes now, whatever its pace.
  package func probeNow() { each { $0.probeNow() } }

  package func stopAll() { each { $0.stop() } }

  private func each(_ body: (NodeWatcher) -> Void) {
    (watchers.withLock { Array($0.values) } + hedges.withLock { Array($0.values) }).forEach(body)
  }
}

/// Which nodes get a second watcher and which lose theirs: a node late three times within a
/// minute gets one, unless a failover is under way (late answers then are the new primary's
/// load, which a second connection per host would only add to); one not late for
/// `EvidenceBoard.lateMemory` loses it. `lateCount` is the board's count of a node's late probes
/// within a window.
func hedgeChanges(
  nodes: [String], hedged: Set<String>, failover: Bool,
  lateCount: (String, Duration) -> Int
) -> (start: [String], end: [String]) {
  var start: [String] = []
  var end: [String] = []
  for name in nodes {
    if !hedged.contains(name), !failover, lateCount(name, .seconds(60)) >= 3 {
      start.append(name)
    } else if hedged.contains(name), lateCount(name, EvidenceBoard.lateMemory) == 0 {
      end.append(name)
    }
  }
  return (start, end)
}
