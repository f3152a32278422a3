package import PGFollowCore

/// The words for what an app's sessions say, for the log, `status` and `/healthz`.
extension SessionReport {
  /// "5 sessions on node2 (the leader), 0 on node1 (a standby)".
  package func placesText(roles: [String: String]) -> String {
    counts.sorted { $0.key < $1.key }.map { node, count in
      let role = node == leader ? "the leader" : roles[node] ?? "?"
      switch count {
      case .counted: return "\(count.sessions ?? 0) on \(node) (\(role))"
      case .hidden: return "? on \(node) (\(role); hidden from the watchers' role)"
      case .unreachable: return "? on \(node) (unreachable)"
      case .failed(let reason): return "? on \(node) (\(reason))"
      }
    }.joined(separator: ", ")
  }

  /// The verdict in words; nil while waiting, or when there is no switch to verify.
  package func verdictText(_ app: AppConfig) -> String? {
    switch verdict {
    case .verified(let leader, let sessions, let after)?:
      return
        "\(app.label) reached \(leader): \(plural(sessions, "session")) there, the first "
        + "within \(seconds(after)) of the restart"
    case .unverified(let leader, let newSessions, let previous, let left, let after)?:
      var parts: [String] = []
      if newSessions == 0 { parts.append("no session on \(leader) since the restart") }
      if left > 0, let previous { parts.append("\(plural(left, "session")) left on \(previous)") }
      return
        "\(app.label) has not reached \(leader) \(seconds(after)) after the restart: "
        + parts.joined(separator: ", ") + " (is \(app.file) the file it reads, and "
        + "\(app.restart.units.joined(separator: " ")) its unit?)"
    case .cannotVerify(let node, let reason)?:
      return "cannot verify that \(app.label) reached the leader: \(node): \(reason)"
    case .waiting?, nil:
      return nil
    }
  }

  /// The nodes where the sessions cannot be seen, and why, in the nodes' order.
  private var hiddenOn: [(node: String, reason: String)] {
    counts.sorted { $0.key < $1.key }.compactMap { node, count in
      if case .hidden(let reason) = count { (node, reason) } else { nil }
    }
  }

  /// The nodes where stale sessions could not be terminated, and why, in the nodes' order.
  private var terminationRefusedOn: [(node: String, reason: String)] {
    counts.sorted { $0.key < $1.key }.compactMap { node, count in
      if case .counted(_, _, let refusal?) = count { (node, refusal) } else { nil }
    }
  }

  /// What `missingGrantText` is about: the nodes hidden, then those where a termination was
  /// refused.
  package var missingGrantNodes: [String] {
    ["hidden"] + hiddenOn.map(\.node) + ["refused"] + terminationRefusedOn.map(\.node)
  }

  /// Why the sessions cannot be seen, or stale ones terminated, on some node, if so: a grant
  /// that is missing.
  package var missingGrantText: String? {
    let hidden = hiddenOn
    if let reason = hidden.first?.reason {
      let names = hidden.map(\.node).joined(separator: ", ")
      return "cannot verify \(app)'s sessions on \(names): \(reason)"
    }
    let refused = terminationRefusedOn
    guard let reason = refused.first?.reason else { return nil }
    let names = refused.map(\.node).joined(separator: ", ")
    return "cannot terminate \(app)'s stale sessions on \(names): \(reason)"
  }

  /// "shop has 12 sessions on node1, a standby, while /etc/shop/env.yaml names node2: …".
  package func misplacedText(_ app: AppConfig, roles: [String: String]) -> String? {
    guard !misplaced.isEmpty, let leader else { return nil }
    let places = misplaced.map {
      "\(plural($0.sessions, "session")) on \($0.node), \(roles[$0.node] ?? "not the leader")"
    }
    return
      "\(app.label) has \(places.joined(separator: " and ")), while \(app.file) names \(leader): "
      + "is that the file \(app.label) reads?"
  }
}

/// Each node's role as the decision saw it: "a standby", "a writable node", "unreachable".
package func nodeRoles(_ decision: Decision) -> [String: String] {
  nodeRoles(decision.evidence)
}

package func nodeRoles(_ evidence: [NodeEvidence]) -> [String: String] {
  Dictionary(
    evidence.map { item in
      let role =
        item.observation.map { $0.inRecovery ? "a standby" : "a writable node" } ?? "unreachable"
      return (item.node, role)
    }, uniquingKeysWith: { first, _ in first })
}

private func plural(_ count: Int, _ word: String) -> String {
  "\(count) \(word)\(count == 1 ? "" : "s")"
}

private func seconds(_ value: Double) -> String {
  value < 10 ? "\((value * 10).rounded() / 10)s" : "\(Int(value.rounded()))s"
}
