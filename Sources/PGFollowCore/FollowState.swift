/// Seconds since the Unix epoch, read from the wall clock by the caller: what the state file
/// keeps, so that limits and waits last from one process to the next.
public typealias WallSeconds = Double

extension Duration {
  /// The duration in seconds, with fractions.
  public var inSeconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
}

/// What pgfollow remembers between cycles and between runs (the state file): the leader it last
/// applied, the work still owed for it, and the controls that must outlive a process (the
/// restart limiter's attempts, a change waiting to settle).
public struct FollowState: Sendable, Equatable {
  public var applied: AppliedLeader?
  /// Units whose restart is owed since the file last changed (failed, or not yet run).
  public var pendingRestart: [String] = []
  public var restartFailures: Int = 0
  public var lastRestartError: String?
  /// Hooks still owed for the last change of leader.
  public var hooks: HookDebt?
  /// Restart attempts of the last hour, for the restart limiter.
  public var restartAttempts: [WallSeconds] = []
  /// A change that keeps the leader, waiting to prove it lasts.
  public var unsettled: UnsettledChange?

  public init() {}
}

/// A change that keeps the leader (a standby gone or back): the values it would write, and when
/// it was first seen.
public struct UnsettledChange: Sendable, Equatable {
  public var target: String
  public var since: WallSeconds

  public init(target: String, since: WallSeconds) {
    self.target = target
    self.since = since
  }
}

/// The hooks owed for one change of leader.
public struct HookDebt: Sendable, Equatable {
  public var leader: String
  public var previous: String?
  public var reason: String
  public var owed: [OwedHook]

  public init(leader: String, previous: String?, reason: String, owed: [OwedHook]) {
    self.leader = leader
    self.previous = previous
    self.reason = reason
    self.owed = owed
  }
}

/// One owed hook, known by what it runs and when (never by its place in the list, so that a
/// reload that reorders the hooks runs the right command), with its failures so far and, after
/// a failure, when it may be tried again.
public struct OwedHook: Sendable, Equatable {
  public var key: HookKey
  public var failures = 0
  public var nextAttempt: WallSeconds?

  public init(key: HookKey, failures: Int = 0, nextAttempt: WallSeconds? = nil) {
    self.key = key
    self.failures = failures
    self.nextAttempt = nextAttempt
  }
}

/// A hook's identity: its timing and its argv.
public struct HookKey: Sendable, Hashable, CustomStringConvertible {
  public var when: HookConfig.Timing
  public var command: [String]

  public init(when: HookConfig.Timing, command: [String]) {
    self.when = when
    self.command = command
  }

  public init(_ hook: HookConfig) {
    self.init(when: hook.when, command: hook.command)
  }

  public var description: String { command.joined(separator: " ") }
}
