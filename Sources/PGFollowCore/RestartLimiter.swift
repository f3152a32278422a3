/// Spaces restart attempts out and caps them per hour, so that a flapping cluster or a failing
/// unit cannot turn into a restart storm. Time comes from the caller.
public struct RestartLimiter: Sendable, Equatable {
  public var minimumInterval: Duration
  public var maximumPerHour: Int
  private var attempts: [ContinuousClock.Instant] = []

  public init(minimumInterval: Duration, maximumPerHour: Int) {
    self.minimumInterval = minimumInterval
    self.maximumPerHour = maximumPerHour
  }

  public enum Denial: Sendable, Equatable, CustomStringConvertible {
    case tooSoon(wait: Duration)
    case hourlyCap(Int, wait: Duration)

    /// Which limit bit, without the time left.
    public var kind: String {
      switch self {
      case .tooSoon: "minimum interval"
      case .hourlyCap: "hourly cap"
      }
    }

    public var description: String {
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
  public mutating func denial(at now: ContinuousClock.Instant) -> Denial? {
    attempts = recentAttempts(at: now)
    if let last = attempts.last, last.duration(to: now) < minimumInterval {
      return .tooSoon(wait: minimumInterval - last.duration(to: now))
    }
    if attempts.count >= maximumPerHour, let oldest = attempts.first {
      return .hourlyCap(maximumPerHour, wait: .seconds(3600) - oldest.duration(to: now))
    }
    return nil
  }

  public mutating func record(at now: ContinuousClock.Instant) {
    attempts = recentAttempts(at: now) + [now]
  }

  /// Attempts of the last hour. One that seems to lie ahead (a clock stepped back) is taken as
  /// made at the first moment the step was seen, so a step back delays the next attempt by at
  /// most the minimum interval.
  private func recentAttempts(at now: ContinuousClock.Instant) -> [ContinuousClock.Instant] {
    attempts.map { min($0, now) }.filter { $0.duration(to: now) < .seconds(3600) }
  }
}
