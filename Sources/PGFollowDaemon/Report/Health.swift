package import PGFollowCore

/// How this host follows, graded as monitoring plugins grade it: the one value that `status`
/// exits with, `/healthz` answers and `/metrics` exports as `pgfollow_health`.
package struct Health: Sendable, Equatable {
  /// What the grade stands on; the first that applies, in the order of the cases, wins.
  package enum Condition: String, Sendable, CaseIterable {
    case starting
    case splitBrain = "split_brain"
    case holding
    case fileError = "file_error"
    case failoverWouldFail = "failover_would_fail"
    case sessionsUnverified = "sessions_unverified"
    case sessionsMisplaced = "sessions_misplaced"
    case confirming
    case fileNotSwitched = "file_not_switched"
    case restartOwed = "restart_owed"
    case hookOwed = "hook_owed"
    case nodesSilent = "nodes_silent"
    case following
  }

  package enum Level: Int32, Sendable {
    case ok = 0
    case warning = 1
    case critical = 2
    /// Only while starting: no cycle yet.
    case unknown = 3
  }

  package var condition: Condition
  /// Why, in words: names the nodes, the app and what to do.
  package var reason: String

  package init(_ condition: Condition, _ reason: String) {
    self.condition = condition
    self.reason = reason
  }

  package var level: Level {
    switch condition {
    case .starting: .unknown
    case .splitBrain, .holding, .fileError, .failoverWouldFail, .sessionsUnverified: .critical
    case .sessionsMisplaced, .confirming, .fileNotSwitched, .restartOwed, .hookOwed,
      .nodesSilent:
      .warning
    case .following: .ok
    }
  }

  /// `status`'s exit status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
  package var exitCode: Int32 { level.rawValue }

  package var word: String {
    switch level {
    case .ok: "OK"
    case .warning: "WARNING"
    case .critical: "CRITICAL"
    case .unknown: "STARTING"
    }
  }

  /// Whether a load balancer may count on this host: it follows a confirmed leader with nothing
  /// owed. A standby that does not answer is named, and does not take the host out.
  package var serves: Bool { condition == .following || condition == .nodesSilent }

  package var httpStatus: String { serves ? "200 OK" : "503 Service Unavailable" }

  /// `pgfollow_health{condition}`: the level (0 OK, 1 WARNING, 2 CRITICAL, 3 starting).
  package var metric: String {
    "# HELP pgfollow_health The host's grade, as pgfollow status exits: 0 OK, 1 WARNING, "
      + "2 CRITICAL, 3 starting.\n# TYPE pgfollow_health gauge\n"
      + "pgfollow_health{condition=\"\(condition.rawValue)\"} \(level.rawValue)\n"
  }
}
