/// Who an application is on the database (`verify:` of an app), so that pgfollow can see where
/// its sessions from this host are: on the new leader after a switch, and nowhere else.
package struct VerifyConfig: Sendable, Hashable {
  package enum StaleSessions: String, Sendable, Hashable, CaseIterable {
    case leave, terminate
  }

  /// The role the application logs in as.
  package var role: String?
  package var applicationName: String?
  /// This host's address as the nodes see it; nil: the address of pgfollow's own session.
  package var address: String?
  /// How long after its restart the application may take to reconnect.
  package var within: Duration = .seconds(30)
  /// How often the sidecar looks at the sessions at steady state.
  package var every: Duration = .seconds(15)
  package var staleSessions = StaleSessions.leave

  package init(role: String? = nil, applicationName: String? = nil) {
    self.role = role
    self.applicationName = applicationName
  }
}

/// The application's sessions from this host on one node, or why they could not be counted.
package enum SessionCount: Sendable, Equatable {
  /// Each session's age in seconds by the node's own clock, which is compared with nothing but
  /// itself; how many were terminated by this count; and, for an app that asks for stale
  /// sessions to be terminated, why this node would refuse.
  case counted(ages: [Double], terminated: Int, cannotTerminate: String? = nil)
  /// The node answered, but the watchers' role may not see other roles' sessions.
  case hidden(String)
  /// No connection to the node: it has no sessions to count.
  case unreachable(String)
  /// Connected, but the count failed or timed out: the node may still hold sessions.
  case failed(String)

  package var sessions: Int? {
    if case .counted(let ages, let terminated, _) = self { ages.count - terminated } else { nil }
  }

  /// Sessions that began less than `seconds` ago.
  package func newer(than seconds: Double) -> Int? {
    if case .counted(let ages, _, _) = self { ages.filter { $0 < seconds }.count } else { nil }
  }

  /// Sessions that began at least `seconds` ago and were not terminated.
  package func older(than seconds: Double) -> Int? {
    guard case .counted(let ages, let terminated, _) = self else { return nil }
    return max(0, ages.filter { $0 >= seconds }.count - terminated)
  }
}

/// A switch whose outcome in the application is still to be seen, or was seen.
package struct PendingVerification: Sendable, Equatable {
  package var leader: String
  package var previous: String?
  /// When the restart that applied the new file started (this host's wall clock); nil while the
  /// restart is owed.
  package var since: WallSeconds?
  /// Seconds after `since` when the application was first seen on the leader, nothing left on
  /// the previous one; nil until then.
  package var verifiedAfter: Double?
  /// Sessions on the leader when it was verified.
  package var sessions: Int?

  package init(leader: String, previous: String?, since: WallSeconds? = nil) {
    self.leader = leader
    self.previous = previous
    self.since = since
  }
}

/// What the application's sessions say of a switch.
package enum SwitchVerdict: Sendable, Equatable {
  case verified(leader: String, sessions: Int, after: Double)
  /// Not yet, and `within` has not passed.
  case waiting(leader: String, newSessions: Int, left: Int)
  /// `within` passed with no session on the leader since the restart, or some left on the
  /// previous leader.
  case unverified(leader: String, newSessions: Int, previous: String?, left: Int, after: Double)
  case cannotVerify(node: String, reason: String)

  package var isVerified: Bool { if case .verified = self { true } else { false } }
}

/// Sessions on a node that is not the leader, older than `within`.
package struct MisplacedSessions: Sendable, Equatable {
  package var node: String
  package var sessions: Int

  package init(node: String, sessions: Int) {
    self.node = node
    self.sessions = sessions
  }
}

/// Judges a switch by the counts taken `now`: verified once the leader has a session that began
/// after the restart and the previous leader, while it answers, has none; unverified once
/// `within` has passed otherwise. A session that began up to `slack` before the restart counts
/// as new, for the time the count itself took.
package func judgeSwitch(
  _ pending: PendingVerification, counts: [String: SessionCount], within: Duration,
  now: WallSeconds, slack: Double = 0.25
) -> SwitchVerdict? {
  guard let recorded = pending.since else { return nil }
  if let after = pending.verifiedAfter {
    return .verified(leader: pending.leader, sessions: pending.sessions ?? 0, after: after)
  }
  // A clock stepped back: the restart counts as having just happened.
  let since = min(recorded, now)
  let elapsed = now - since
  let late = elapsed >= within.inSeconds
  let onLeader = counts[pending.leader] ?? .failed("not counted")
  // A grant does not come by waiting; a node that does not answer may.
  if case .hidden(let reason) = onLeader {
    return .cannotVerify(node: pending.leader, reason: reason)
  }
  guard let newSessions = onLeader.newer(than: elapsed + slack) else {
    return late
      ? .cannotVerify(node: pending.leader, reason: onLeader.reason)
      : .waiting(leader: pending.leader, newSessions: 0, left: 0)
  }
  var left = 0
  if let previous = pending.previous, previous != pending.leader, let count = counts[previous] {
    switch count {
    case .counted: left = count.sessions ?? 0
    case .unreachable: left = 0
    case .hidden(let reason): return .cannotVerify(node: previous, reason: reason)
    case .failed(let reason):
      // A node that answers may still hold the application's sessions.
      return late
        ? .cannotVerify(node: previous, reason: reason)
        : .waiting(leader: pending.leader, newSessions: newSessions, left: 0)
    }
  }
  if newSessions > 0 && left == 0 {
    return .verified(leader: pending.leader, sessions: onLeader.sessions ?? 0, after: elapsed)
  }
  guard late else { return .waiting(leader: pending.leader, newSessions: newSessions, left: left) }
  return .unverified(
    leader: pending.leader, newSessions: newSessions, previous: pending.previous, left: left,
    after: elapsed)
}

/// Nodes other than the leader where the application has sessions older than `within`: it has
/// been connected there for longer than any switch may take.
package func misplacedSessions(
  leader: String?, counts: [String: SessionCount], nodes: [String], within: Duration
) -> [MisplacedSessions] {
  nodes.compactMap { node in
    guard node != leader, let older = counts[node]?.older(than: within.inSeconds), older > 0
    else { return nil }
    return MisplacedSessions(node: node, sessions: older)
  }
}

extension SessionCount {
  /// Why the sessions were not counted; empty when they were.
  package var reason: String {
    switch self {
    case .counted: ""
    case .hidden(let reason), .unreachable(let reason), .failed(let reason): reason
    }
  }
}
