import PGFollowCore

/// Restarts and hooks started by the sidecar, run off its loop: each finishes on a thread of its
/// own, bounded by its timeout, and wakes the loop, which hands the result to the follow machine.
/// The loop keeps cycling and pinging the watchdog meanwhile.
final class BackgroundWork: Sendable {
  struct Finished {
    var app: AppConfig
    var work: FollowMachine.Work
    var result: ProcessResult
  }

  private let finished = Locked<[Finished]>([])
  private let wake: WakeSignal

  init(wake: WakeSignal) {
    self.wake = wake
  }

  func start(_ work: FollowMachine.Work, app: AppConfig, cycle: Cycle, state: FollowState) {
    Task {
      let result = await cycle.execute(work, app: app, state: state)
      finished.withLock { $0.append(Finished(app: app, work: work, result: result)) }
      wake.post(.workDone)
    }
  }

  /// The work that finished since the last call.
  func takeFinished() -> [Finished] {
    finished.withLock { finished in
      defer { finished = [] }
      return finished
    }
  }
}

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
