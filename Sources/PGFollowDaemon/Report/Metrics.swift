package import PGFollowCore
package import PGFollowSystem

/// pgfollow's metrics in the Prometheus text exposition format (version 0.0.4), written by hand:
/// a few dozen lines, where a client library would add two dependencies to a small daemon.
package final class Metrics: Sendable {
  static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

  private struct State {
    var cycles = 0
    var switches = 0
    var holds = 0
    var splitBrains = 0
    /// By app label, then by result.
    var restarts: [String: [String: Int]] = [:]
    var hooks: [String: [String: Int]] = [:]
    /// By app label: new files its check refused.
    var checkRefusals: [String: Int] = [:]
    /// By app label: restarts and hooks owed now.
    var owed: [String: (restarts: Int, hooks: Int)] = [:]
    var lastReloadSucceeded = true
    /// By app label: whether its part of the last cycle went without error.
    var appHealthy: [String: Bool] = [:]
    var leader: (name: String, address: String)?
    var appliedLeader: String?
    var decision = "none"
    var nodes: [(name: String, up: Bool, latency: Double, timeline: Int64?)] = []
    /// The node promoted with no row naming it, seen by the last cycle.
    var unrecordedPromotion: String?
    var lastConfirmed: ContinuousClock.Instant?
    /// By app label: what its sessions said last (`verify:`).
    var sessions: [String: AppSessions] = [:]
    var bucketCounts = Array(repeating: 0, count: Metrics.buckets.count)
    var durationSum = 0.0
  }

  private let state = Locked(State())

  package init() {}

  /// Takes in a restart or hook that finished in the background.
  package func observe(_ outcome: WorkOutcome) {
    let app = outcome.app
    state.withLock { state in
      switch outcome.work {
      case .restart: count(outcome.result, in: &state.restarts[app.label, default: [:]])
      case .hook: count(outcome.result, in: &state.hooks[app.label, default: [:]])
      }
    }
  }

  /// Takes in what each app's machine owes now.
  package func observe(owed machines: FollowMachines) {
    let owed = machines.mapValues {
      ($0.state.pendingRestart.count, $0.state.hooks?.owed.count ?? 0)
    }
    state.withLock { $0.owed = owed }
  }

  /// Takes in a count of the applications' sessions.
  package func observe(sessions reports: [SessionReport]) {
    let now = wallClockNow()
    state.withLock { state in
      for report in reports { state.sessions[report.app] = AppSessions(report, now: now) }
    }
  }

  /// Takes in whether the last reload's configuration was taken.
  package func observeReload(succeeded: Bool) {
    state.withLock { $0.lastReloadSucceeded = succeeded }
  }

  /// Takes in one cycle's report and how long the cycle took.
  package func observe(_ report: CycleReport, duration: Duration, config: Config) {
    let seconds = duration.inSeconds
    state.withLock { state in
      state.cycles += 1
      state.durationSum += seconds
      for (index, bound) in Self.buckets.enumerated() where seconds <= bound {
        state.bucketCounts[index] += 1
      }
      let decision = report.decision
      state.nodes = decision.evidence.map {
        (
          $0.node, $0.observation != nil, Double($0.latencyMilliseconds) / 1000,
          $0.observation?.position?.timeline
        )
      }
      state.unrecordedPromotion = decision.unrecordedPromotion?.node
      if !decision.splitBrain.isEmpty { state.splitBrains += 1 }
      for app in report.apps {
        let label = app.app.label
        if let sessions = app.sessions {
          state.sessions[label] = AppSessions(sessions, now: wallClockNow())
        }
        state.appHealthy[label] = app.errors.isEmpty
        // Both results are shown from the first cycle, at zero.
        if state.restarts[label] == nil { state.restarts[label] = ["success": 0, "failure": 0] }
        if state.hooks[label] == nil { state.hooks[label] = ["success": 0, "failure": 0] }
        for (_, result) in app.restarts { count(result, in: &state.restarts[label, default: [:]]) }
        for hook in app.hooks { count(hook.result, in: &state.hooks[label, default: [:]]) }
        if app.app.check != nil, state.checkRefusals[label] == nil {
          state.checkRefusals[label] = 0
        }
        if let check = app.check, !check.passed, !report.dryRun {
          state.checkRefusals[label, default: 0] += 1
        }
      }
      switch decision.outcome {
      case .follow(let leader, _) where report.confirming == nil:
        state.decision = decision.splitBrain.isEmpty ? "follow" : "split_brain"
        state.leader = (leader, config.node(named: leader)?.address ?? "")
        state.lastConfirmed = .now
        if let applied = state.appliedLeader, applied != leader { state.switches += 1 }
        state.appliedLeader = leader
      case .follow:
        state.decision = "confirming"
      case .hold:
        state.decision = decision.splitBrain.isEmpty ? "hold" : "split_brain"
        state.holds += 1
      }
    }
  }

  /// The exposition text.
  package func render() -> String {
    state.withLock { state in
      var out = MetricsText()
      out.family("pgfollow_cycles_total", "counter", "Cycles run.")
      out.sample("pgfollow_cycles_total", [], Double(state.cycles))
      out.family("pgfollow_leader_info", "gauge", "The leader in effect (1), by name and address.")
      if let leader = state.leader {
        out.sample(
          "pgfollow_leader_info", [("leader", leader.name), ("address", leader.address)], 1)
      }
      out.family("pgfollow_decision", "gauge", "The last decision: 1 for the state it is in.")
      for name in ["follow", "confirming", "hold", "split_brain", "none"] {
        out.sample("pgfollow_decision", [("state", name)], state.decision == name ? 1 : 0)
      }
      out.family("pgfollow_switches_total", "counter", "Changes of the leader in effect.")
      out.sample("pgfollow_switches_total", [], Double(state.switches))
      out.family("pgfollow_holds_total", "counter", "Cycles that held (no confirmed leader).")
      out.sample("pgfollow_holds_total", [], Double(state.holds))
      out.family(
        "pgfollow_split_brain_observations_total", "counter", "Cycles that saw 2+ writable nodes.")
      out.sample("pgfollow_split_brain_observations_total", [], Double(state.splitBrains))
      out.family("pgfollow_restarts_total", "counter", "Restart attempts by app and result.")
      out.samples("pgfollow_restarts_total", state.restarts)
      out.family("pgfollow_hook_runs_total", "counter", "Hook runs by app and result.")
      out.samples("pgfollow_hook_runs_total", state.hooks)
      out.family(
        "pgfollow_check_refusals_total", "counter", "New files the app's check refused.")
      for (app, count) in state.checkRefusals.sorted(by: { $0.key < $1.key }) {
        out.sample("pgfollow_check_refusals_total", [("app", app)], Double(count))
      }
      out.family("pgfollow_restarts_owed", "gauge", "Units whose restart the app owes now.")
      out.family("pgfollow_hooks_owed", "gauge", "Hooks the app owes now.")
      for (app, owed) in state.owed.sorted(by: { $0.key < $1.key }) {
        out.sample("pgfollow_restarts_owed", [("app", app)], Double(owed.restarts))
        out.sample("pgfollow_hooks_owed", [("app", app)], Double(owed.hooks))
      }
      out.family(
        "pgfollow_config_last_reload_successful", "gauge",
        "The last reload's configuration was taken (1), or refused and the old one kept (0).")
      out.sample("pgfollow_config_last_reload_successful", [], state.lastReloadSucceeded ? 1 : 0)
      out.family(
        "pgfollow_app_healthy", "gauge", "The app's part of the last cycle went without error.")
      for (app, healthy) in state.appHealthy.sorted(by: { $0.key < $1.key }) {
        out.sample("pgfollow_app_healthy", [("app", app)], healthy ? 1 : 0)
      }
      renderSessions(state.sessions, into: &out)
      out.family("pgfollow_node_up", "gauge", "The node answered the last probe.")
      out.family("pgfollow_probe_latency_seconds", "gauge", "Duration of the last probe.")
      out.family(
        "pgfollow_node_timeline", "gauge",
        "The node's timeline (a standby's: the newest it is known to be on).")
      for node in state.nodes {
        out.sample("pgfollow_node_up", [("node", node.name)], node.up ? 1 : 0)
        out.sample("pgfollow_probe_latency_seconds", [("node", node.name)], node.latency)
        if let timeline = node.timeline {
          out.sample("pgfollow_node_timeline", [("node", node.name)], Double(timeline))
        }
      }
      out.family(
        "pgfollow_unrecorded_promotion", "gauge",
        "1 while a node is writable on a later timeline than the newest row's leader and no row "
          + "names it.")
      out.sample(
        "pgfollow_unrecorded_promotion", [("node", state.unrecordedPromotion ?? "")],
        state.unrecordedPromotion == nil ? 0 : 1)
      if let confirmed = state.lastConfirmed {
        out.family(
          "pgfollow_seconds_since_leader_confirmed", "gauge",
          "Seconds since a cycle last confirmed the leader.")
        let age = confirmed.duration(to: .now).inSeconds
        out.sample("pgfollow_seconds_since_leader_confirmed", [], age)
      }
      out.family("pgfollow_cycle_duration_seconds", "histogram", "Duration of a cycle.")
      for (index, bound) in Self.buckets.enumerated() {
        out.sample(
          "pgfollow_cycle_duration_seconds_bucket", [("le", "\(bound)")],
          Double(state.bucketCounts[index]))
      }
      out.sample("pgfollow_cycle_duration_seconds_bucket", [("le", "+Inf")], Double(state.cycles))
      out.sample("pgfollow_cycle_duration_seconds_sum", [], state.durationSum)
      out.sample("pgfollow_cycle_duration_seconds_count", [], Double(state.cycles))
      return out.text
    }
  }
}

/// What an app's sessions said last, as the metrics show it.
private struct AppSessions {
  var byNode: [(node: String, sessions: Int)]
  /// verified, waiting, unverified or cannot_verify; nil with no switch to verify.
  var verdict: String?
  var verifiedAfter: Double?
  /// Whether the sessions are where they should be: 0 for an unverified switch or sessions on a
  /// node that is not the leader; nil when that cannot be told.
  var onLeader: Bool?
  var at: WallSeconds

  init(_ report: SessionReport, now: WallSeconds) {
    byNode = report.counts.sorted { $0.key < $1.key }.compactMap { node, count in
      count.sessions.map { (node, $0) }
    }
    at = now
    // With no session counted anywhere, where the application is cannot be told.
    onLeader = byNode.contains { $0.sessions > 0 } ? report.misplaced.isEmpty : nil
    switch report.verdict {
    case .verified(_, _, let after)?:
      (verdict, verifiedAfter) = ("verified", after)
    case .waiting?: verdict = "waiting"
    case .unverified?: (verdict, onLeader) = ("unverified", false)
    case .cannotVerify?: (verdict, onLeader) = ("cannot_verify", nil)
    case nil: verdict = nil
    }
    if report.counts.values.contains(where: { if case .hidden = $0 { true } else { false } }) {
      onLeader = nil
    }
  }
}

private func renderSessions(_ sessions: [String: AppSessions], into out: inout MetricsText) {
  let apps = sessions.sorted { $0.key < $1.key }
  out.family(
    "pgfollow_app_sessions", "gauge", "The app's sessions from this host on the node (verify:).")
  for (app, seen) in apps {
    for (node, count) in seen.byNode {
      out.sample("pgfollow_app_sessions", [("app", app), ("node", node)], Double(count))
    }
  }
  out.family(
    "pgfollow_app_on_leader", "gauge",
    "1 while the app's sessions are on the leader alone; 0 for a switch it did not follow within "
      + "verify.within, or sessions older than that on another node.")
  out.family(
    "pgfollow_app_verification", "gauge",
    "1 for the state of the last switch's verification: verified, waiting, unverified, "
      + "cannot_verify.")
  out.family(
    "pgfollow_app_verified_after_seconds", "gauge",
    "Seconds from the restart to the app's first session on the new leader.")
  out.family(
    "pgfollow_app_sessions_checked_timestamp_seconds", "gauge",
    "When the app's sessions were last counted.")
  for (app, seen) in apps {
    if let onLeader = seen.onLeader {
      out.sample("pgfollow_app_on_leader", [("app", app)], onLeader ? 1 : 0)
    }
    if let verdict = seen.verdict {
      for state in ["verified", "waiting", "unverified", "cannot_verify"] {
        out.sample(
          "pgfollow_app_verification", [("app", app), ("state", state)], verdict == state ? 1 : 0)
      }
    }
    if let after = seen.verifiedAfter {
      out.sample("pgfollow_app_verified_after_seconds", [("app", app)], after)
    }
    out.sample(
      "pgfollow_app_sessions_checked_timestamp_seconds", [("app", app)], seen.at.rounded())
  }
}

private struct MetricsText {
  var text = ""

  mutating func family(_ name: String, _ type: String, _ help: String) {
    text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
  }

  mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
    let rendered = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
    let number = value == value.rounded() && abs(value) < 1e15 ? "\(Int64(value))" : "\(value)"
    text += name + (labels.isEmpty ? "" : "{\(rendered)}") + " \(number)\n"
  }

  /// Counts by app, then by result.
  mutating func samples(_ name: String, _ counts: [String: [String: Int]]) {
    for (app, results) in counts.sorted(by: { $0.key < $1.key }) {
      for (result, count) in results.sorted(by: { $0.key < $1.key }) {
        sample(name, [("app", app), ("result", result)], Double(count))
      }
    }
  }

  private func escape(_ value: String) -> String {
    var out = ""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out
  }
}

/// `once`'s metrics for node_exporter's textfile collector, written atomically.
package func writeMetricsTextfile(
  _ path: String, report: CycleReport, duration: Duration, config: Config
) throws(FileError) {
  let metrics = Metrics()
  metrics.observe(report, duration: duration, config: config)
  try writeFileAtomically(path, Array(metrics.render().utf8), mode: 0o644)
}

private func count(_ result: ProcessResult?, in counts: inout [String: Int]) {
  guard let result else { return }
  counts[result.succeeded ? "success" : "failure", default: 0] += 1
}
