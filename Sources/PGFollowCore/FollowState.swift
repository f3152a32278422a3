/// Seconds since the Unix epoch, read from the wall clock by the caller: what the state file
/// keeps, so that limits and waits last from one process to the next.
package typealias WallSeconds = Double

/// What pgfollow remembers between cycles and between runs (the state file): the leader it last
/// applied, the work still owed for it, and the controls that must outlive a process (the
/// restart limiter's attempts, a change waiting to settle).
package struct FollowState: Sendable, Equatable {
  package var applied: AppliedLeader?
  /// Units whose restart is owed since the file last changed (failed, or not yet run).
  package var pendingRestart: [String] = []
  package var restartFailures: Int = 0
  package var lastRestartError: String?
  /// Hooks still owed for the last change of leader.
  package var hooks: HookDebt?
  /// Restart attempts of the last hour, for the restart limiter.
  package var restartAttempts: [WallSeconds] = []
  /// A change that keeps the leader, waiting to prove it lasts.
  package var unsettled: UnsettledChange?
  /// A promotion no row names, and since when it has been seen.
  package var unrecordedPromotion: SeenPromotion?
  /// The last switch of leader, to be verified (or verified) by the application's sessions.
  package var verification: PendingVerification?

  package init() {}
}

/// A node seen writable on a later timeline than the newest row's leader, with no row naming it.
package struct SeenPromotion: Sendable, Equatable {
  package var node: String
  package var timeline: Int64
  package var since: WallSeconds

  package init(node: String, timeline: Int64, since: WallSeconds) {
    self.node = node
    self.timeline = timeline
    self.since = since
  }
}

/// A change that keeps the leader (a standby gone or back): the values it would write, and when
/// it was first seen.
package struct UnsettledChange: Sendable, Equatable {
  package var target: String
  package var since: WallSeconds

  package init(target: String, since: WallSeconds) {
    self.target = target
    self.since = since
  }
}

/// The hooks owed for one change of leader.
package struct HookDebt: Sendable, Equatable {
  package var leader: String
  package var previous: String?
  package var reason: String
  package var owed: [OwedHook]

  package init(leader: String, previous: String?, reason: String, owed: [OwedHook]) {
    self.leader = leader
    self.previous = previous
    self.reason = reason
    self.owed = owed
  }
}

/// One owed hook, known by what it runs and when (never by its place in the list, so that a
/// reload that reorders the hooks runs the right command), with its failures so far and, after
/// a failure, when it may be tried again.
package struct OwedHook: Sendable, Equatable {
  package var key: HookKey
  package var failures = 0
  package var nextAttempt: WallSeconds?

  package init(key: HookKey, failures: Int = 0, nextAttempt: WallSeconds? = nil) {
    self.key = key
    self.failures = failures
    self.nextAttempt = nextAttempt
  }
}

/// A hook's identity: its timing and its argv.
package struct HookKey: Sendable, Hashable, CustomStringConvertible {
  package var when: HookConfig.Timing
  package var command: [String]

  package init(when: HookConfig.Timing, command: [String]) {
    self.when = when
    self.command = command
  }

  package init(_ hook: HookConfig) {
    self.init(when: hook.when, command: hook.command)
  }

  package var description: String { command.joined(separator: " ") }
}

extension [HookConfig] {
  /// The configured hook a key names, if it is still configured.
  package func hook(_ key: HookKey) -> HookConfig? { first { HookKey($0) == key } }
}
