package import PGFollowCore

/// Every configured node's watcher and the board they publish to. A watcher is kept across
/// reloads while its node's settings, the node list and the state table stay the same.
package final class NodeWatchers: Sendable {
  package let board: EvidenceBoard
  private let watchers = Locked<[String: NodeWatcher]>([:])
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
        if let watcher = watchers[node.name], watcher.node == node, watcher.query == query,
          watcher.timeouts == config.timeouts
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
  }

  package func setPace(_ pace: Pace) {
    self.pace.withLock { $0 = pace }
    each { $0.setPace(pace) }
  }

  /// Every watcher probes now, whatever its pace.
  package func probeNow() { each { $0.probeNow() } }

  package func stopAll() { each { $0.stop() } }

  private func each(_ body: (NodeWatcher) -> Void) {
    watchers.withLock { Array($0.values) }.forEach(body)
  }
}
