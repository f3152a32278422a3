/// When the loop must next tell systemd's watchdog it is alive: every half `WatchdogSec`,
/// whatever the cycle interval, so that only a loop that really stalls is killed.
struct WatchdogPacer {
  let interval: Duration?
  private(set) var due: ContinuousClock.Instant = .now

  init(watchdog: Duration?) {
    interval = watchdog.map { $0 / 2 }
  }

  /// How long the loop may wait before it must ping, at most `limit`.
  func wait(atMost limit: Duration) -> Duration {
    guard interval != nil else { return limit }
    return min(limit, ContinuousClock.now.duration(to: due))
  }

  var isDue: Bool { interval != nil && ContinuousClock.now >= due }

  mutating func pinged() {
    if let interval { due = .now + interval }
  }
}
