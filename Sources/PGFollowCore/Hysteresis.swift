/// Confirms a change of leader over consecutive cycles before it is applied. The first follow
/// decision after start is applied at once (reconciling from scratch); a change away from the
/// leader in effect needs `required` consecutive cycles naming the same new leader.
public struct Hysteresis: Sendable, Equatable {
  public let required: Int
  public private(set) var candidate: String?
  public private(set) var sightings = 0
  private var started = false

  public init(required: Int) {
    self.required = max(1, required)
  }

  public enum Verdict: Sendable, Equatable {
    case apply
    /// Seen `sightings` of `required` times in a row.
    case confirming(leader: String, sightings: Int, required: Int)
  }

  /// Judges a decision to follow `leader` while `current` is in effect.
  public mutating func judge(leader: String, current: String?) -> Verdict {
    defer { started = true }
    if !started || leader == current || required == 1 {
      reset()
      return .apply
    }
    sightings = candidate == leader ? sightings + 1 : 1
    candidate = leader
    if sightings >= required {
      reset()
      return .apply
    }
    return .confirming(leader: leader, sightings: sightings, required: required)
  }

  /// A cycle that did not name a leader breaks the run of sightings.
  public mutating func reset() {
    candidate = nil
    sightings = 0
  }
}

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
  public func denial(at now: ContinuousClock.Instant) -> Denial? {
    let recent = attempts.filter { $0.duration(to: now) < .seconds(3600) }
    if let last = recent.last, last.duration(to: now) < minimumInterval {
      return .tooSoon(wait: minimumInterval - last.duration(to: now))
    }
    if recent.count >= maximumPerHour, let oldest = recent.first {
      return .hourlyCap(maximumPerHour, wait: .seconds(3600) - oldest.duration(to: now))
    }
    return nil
  }

  public mutating func record(at now: ContinuousClock.Instant) {
    attempts = attempts.filter { $0.duration(to: now) < .seconds(3600) } + [now]
  }
}
