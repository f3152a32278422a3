/// Spaces restart attempts out and caps them per hour, so that a flapping cluster or a failing
/// unit cannot turn into a restart storm. The attempts are wall times kept in the state file, so
/// the limits hold across the runs of a cron loop; time comes from the caller.
package struct RestartLimiter: Sendable, Equatable {
  package var minimumInterval: Duration
  package var maximumPerHour: Int
  package private(set) var attempts: [WallSeconds]

  package init(minimumInterval: Duration, maximumPerHour: Int, attempts: [WallSeconds] = []) {
    self.minimumInterval = minimumInterval
    self.maximumPerHour = maximumPerHour
    self.attempts = attempts
  }

  package enum Denial: Sendable, Equatable, CustomStringConvertible {
    case tooSoon(wait: Duration)
    case hourlyCap(Int, wait: Duration)

    /// Which limit bit, without the time left.
    package var kind: String {
      switch self {
      case .tooSoon: "minimum interval"
      case .hourlyCap: "hourly cap"
      }
    }

    package var description: String {
      switch self {
      case .tooSoon(let wait):
        "restart held back: the last one was less than the minimum interval ago "
          + "(next in \(formatDuration(wait)))"
      case .hourlyCap(let cap, let wait):
        "restart held back: \(cap) restarts in the last hour already (next in \(formatDuration(wait)))"
      }
    }
  }

  /// Nil when an attempt may be made now; otherwise why not and for how long.
  package mutating func denial(at now: WallSeconds) -> Denial? {
    attempts = recentAttempts(at: now)
    let minimum = minimumInterval.inSeconds
    if let last = attempts.last, now - last < minimum {
      return .tooSoon(wait: .seconds(minimum - (now - last)))
    }
    if attempts.count >= maximumPerHour, let oldest = attempts.first {
      return .hourlyCap(maximumPerHour, wait: .seconds(3600 - (now - oldest)))
    }
    return nil
  }

  package mutating func noteAttempt(at now: WallSeconds) {
    attempts = recentAttempts(at: now) + [now]
  }

  /// Attempts of the last hour. One that seems to lie ahead (a clock stepped back) is taken as
  /// made now, so a step back delays the next attempt by at most the minimum interval; a step
  /// forward at worst opens a new hour early.
  private func recentAttempts(at now: WallSeconds) -> [WallSeconds] {
    Array(attempts.map { min($0, now) }.filter { now - $0 < 3600 }.suffix(max(1, maximumPerHour)))
  }
}
