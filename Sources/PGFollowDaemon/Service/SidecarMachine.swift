/// The sidecar's loop as a value: it is given events with the time they happen and answers with
/// actions, and says when it must next be woken. It reads no clock and does no I/O, so pacing,
/// confirmations, the watchdog, the listener's retries, the session counts, reloads and stops
/// are tested in virtual time; `SidecarLoop` is the shell that turns its actions into I/O.
struct SidecarMachine {
  typealias Instant = ContinuousClock.Instant

  enum Event: Equatable {
    /// The first answers are in (or waited for long enough): the first decision is due.
    case started
    /// A cycle ran: the time to the next decision (`pace`), when the oldest evidence stops
    /// counting, the leader being confirmed and its answer count, the board's version it decided
    /// on, and whether an app's file was written.
    case cycleDone(
      pace: Duration, evidenceExpires: Instant?, confirming: Confirming?, version: Int,
      wroteFile: Bool)
    /// A watcher published: the board's version, and the confirmed leader's answer count.
    case evidence(version: Int, leaderSequence: Int?)
    case timer
    /// SIGUSR1: every node is probed, and a decision made, at once.
    case probeNow
    /// Background work finished and was taken in; `restarted`: an application was restarted.
    case workDone(restarted: Bool)
    /// An app's check of its new file ended: the next cycle replaces the file, or says no.
    case checkDone
    /// A count of the sessions was judged; the next is due after `next`.
    case sessionsCounted(next: Duration)
    case reload
    case stop
    /// The listener could not start (it is tried again), or it started.
    case listenerFailed, listenerStarted
  }

  enum Action: Equatable {
    case runCycle, ping, retryListener, startSessionCount, reload, probeNow, stop
  }

  /// A new leader being confirmed, and how often it had answered when last decided on.
  struct Confirming: Equatable {
    var leader: String
    var sequence: Int
  }

  /// Half `WatchdogSec`, when the watchdog is on.
  let watchdogPeriod: Duration?
  let listenerRetry: Duration
  /// Whether any app counts its sessions (`verify:`).
  var countsSessions: Bool

  private(set) var nextCycle: Instant?
  private(set) var watchdogDue: Instant?
  private(set) var listenerRetryAt: Instant?
  private(set) var sessionsDue: Instant
  private(set) var counting = false
  /// A file written or a restart done while a count ran: the next count is due at once.
  private(set) var recountWanted = false
  private(set) var confirming: Confirming?
  private(set) var decidedVersion: Int?
  private(set) var stopped = false

  init(
    now: Instant, watchdogPeriod: Duration?, listenerRetry: Duration, countsSessions: Bool
  ) {
    self.watchdogPeriod = watchdogPeriod
    self.listenerRetry = listenerRetry
    self.countsSessions = countsSessions
    watchdogDue = watchdogPeriod.map { _ in now }
    sessionsDue = now
  }

  /// When the shell must deliver `.timer` if nothing else comes first; nil: only events wake it.
  var wakeAt: Instant? {
    let sessions = countsSessions && !counting ? sessionsDue : nil
    return [nextCycle, watchdogDue, listenerRetryAt, sessions].compactMap { $0 }.min()
  }

  mutating func handle(_ event: Event, now: Instant) -> [Action] {
    guard !stopped else { return [] }
    switch event {
    case .checkDone:
      return [.runCycle]
    case .started, .probeNow, .reload:
      nextCycle = now
      let first: [Action] = event == .reload ? [.reload] : event == .probeNow ? [.probeNow] : []
      return first + [.runCycle]
    case .cycleDone(let pace, let expires, let confirming, let version, let wroteFile):
      // An answer that stops counting changes the decision as surely as a new one.
      let paced = now + pace
      nextCycle = min(paced, expires.map { $0 + .milliseconds(1) } ?? paced)
      self.confirming = confirming
      decidedVersion = version
      if wroteFile { countSoon(now) }
      return ping(now) + sessionCountIfDue(now)
    case .evidence(let version, let leaderSequence):
      return worthDeciding(version, leaderSequence) ? [.runCycle] : []
    case .timer:
      var actions: [Action] = []
      if let due = watchdogDue, now >= due { actions += ping(now) }
      if let due = listenerRetryAt, now >= due {
        listenerRetryAt = nil
        actions.append(.retryListener)
      }
      actions += sessionCountIfDue(now)
      if let due = nextCycle, now >= due { actions.append(.runCycle) }
      return actions
    case .workDone(let restarted):
      // A restart just done: the application's sessions are looked at again at once.
      if restarted { countSoon(now) }
      return sessionCountIfDue(now)
    case .sessionsCounted(let next):
      counting = false
      sessionsDue = recountWanted ? now : now + next
      recountWanted = false
      return sessionCountIfDue(now)
    case .listenerFailed:
      listenerRetryAt = now + listenerRetry
      return []
    case .listenerStarted:
      listenerRetryAt = nil
      return []
    case .stop:
      stopped = true
      return [.stop]
    }
  }

  /// New evidence is worth a decision when it changes what the last one saw; while a new leader
  /// is confirmed, only the leader's next answer is (a confirmation is a new probe).
  private func worthDeciding(_ version: Int, _ leaderSequence: Int?) -> Bool {
    if let confirming { return (leaderSequence ?? 0) > confirming.sequence }
    return version != decidedVersion
  }

  private mutating func ping(_ now: Instant) -> [Action] {
    if let watchdogPeriod { watchdogDue = now + watchdogPeriod }
    return [.ping]
  }

  /// The sessions are looked at again at once: now, or when the count running ends.
  private mutating func countSoon(_ now: Instant) {
    if counting { recountWanted = true } else { sessionsDue = min(sessionsDue, now) }
  }

  private mutating func sessionCountIfDue(_ now: Instant) -> [Action] {
    guard countsSessions, !counting, now >= sessionsDue else { return [] }
    counting = true
    return [.startSessionCount]
  }
}
