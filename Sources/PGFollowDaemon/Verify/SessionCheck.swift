package import PGFollowCore

/// What one look at an app's sessions found: the count on each node, what it says of the last
/// switch, and sessions that sit on a node that is not the leader.
package struct SessionReport: Sendable {
  package var app: String
  package var leader: String?
  package var counts: [String: SessionCount]
  package var verdict: SwitchVerdict?
  package var misplaced: [MisplacedSessions] = []
  /// Sessions an earlier look of the same run terminated (`once` looks until it can tell).
  package var terminatedEarlier: [(node: String, count: Int)] = []

  /// Sessions terminated on each node by this look, or an earlier one of the same run.
  package var terminated: [(node: String, count: Int)] {
    terminatedEarlier
      + counts.sorted { $0.key < $1.key }.compactMap { node, count in
        guard case .counted(_, let terminated, _) = count, terminated > 0 else { return nil }
        return (node, terminated)
      }
  }

  /// Whether its switch still waits for the application, and `within` has not passed.
  package var isWaiting: Bool { if case .waiting? = verdict { true } else { false } }
}

/// Where each app that has `verify:` has its sessions: the requests for every node, and the
/// judgement of the counts against each app's state. Stale sessions are terminated, when the app
/// asks for it, only on the previous leader of a switch not yet verified, never on the leader.
package struct SessionCheck: Sendable {
  package let config: Config

  package init(config: Config) {
    self.config = config
  }

  package var apps: [AppConfig] { config.apps.filter { $0.verify != nil } }

  /// What to ask each node, `now` being the wall clock's time.
  package func requests(_ machines: FollowMachines, dryRun: Bool, now: WallSeconds)
    -> [(node: NodeConfig, requests: [SessionCounter.Request])]
  {
    config.nodes.map { node in
      let requests = apps.compactMap { app -> SessionCounter.Request? in
        guard let verify = app.verify else { return nil }
        var request = SessionCounter.Request(app: app.label, verify: verify)
        let state = machines[app.label]?.state
        if !dryRun, verify.staleSessions == .terminate, let pending = state?.verification,
          let since = pending.since, pending.verifiedAfter == nil, pending.previous == node.name,
          state?.applied?.name != node.name
        {
          // Only sessions begun before the restart are stale; the restart's own are not.
          request.terminateBegunBefore = ContinuousClock.now - .seconds(max(0, now - since))
        }
        return request
      }
      return (node, requests)
    }
  }

  /// Judges the counts, and hands each verdict to its app's machine.
  package func judge(
    _ counts: [String: [String: SessionCount]], _ machines: inout FollowMachines,
    now: WallSeconds
  ) -> [SessionReport] {
    apps.compactMap { app in
      guard let verify = app.verify, let counts = counts[app.label] else { return nil }
      let state = machines[app.label]?.state
      let leader = state?.applied?.name
      var report = SessionReport(app: app.label, leader: leader, counts: counts)
      if let pending = state?.verification {
        report.verdict = judgeSwitch(pending, counts: counts, within: verify.within, now: now)
        if let verdict = report.verdict { machines[app.label]?.takeVerdict(verdict) }
      }
      // Sessions left behind by a switch are named by its verdict until it is verified.
      if report.verdict?.isVerified != false {
        report.misplaced = misplacedSessions(
          leader: leader, counts: counts, nodes: config.nodeNames, within: verify.within)
      }
      return report
    }
  }
}
