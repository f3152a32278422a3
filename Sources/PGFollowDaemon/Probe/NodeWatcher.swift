import PGFollowCore
import PGFollowPostgres
import PGFollowSystem

#if canImport(Glibc)
  import Glibc
#endif

/// How often a watcher probes: every `every`, each wait jittered by ± `jitter` of it. While
/// `urgent` (a node is late, or a failover may be under way), a lost connection is retried
/// sooner than its backoff has grown to (see `dropConnection`). `failover`: no leader is
/// confirmed, or a new one is being confirmed.
package struct Pace: Sendable, Equatable {
  package var every: Duration
  package var jitter: Double
  package var urgent: Bool
  package var failover: Bool

  package init(every: Duration, jitter: Double, urgent: Bool = false, failover: Bool = false) {
    self.every = every
    self.jitter = jitter
    self.urgent = urgent
    self.failover = failover
  }
}

/// One node's prober, on a thread of its own: it keeps the node's connection, connects with the
/// configured timeout, reconnects with jittered backoff, probes at the pace it is given, and
/// publishes every result to the board. A slow, silent or lossy node delays only its own
/// evidence. A probe that is overdue marks the node late (its last answer counts while fresh),
/// and its answer is still waited for, up to `lateAnswerLimit`: one lost packet costs a late
/// answer, not the connection. An idle connection that speaks up or closes (a
/// server shutting down) is probed at once.
final class NodeWatcher: Sendable {
  fileprivate struct Control {
    var pace: Pace
    var probeNow = false
    var stopped = false
  }

  let node: NodeConfig
  /// A second watcher of a node whose answers are often late: it publishes its answers only,
  /// never a failure or lateness, so it can add evidence and never take any away.
  let isHedge: Bool
  let query: ProbeQuery
  let timeouts: Timeouts
  let board: EvidenceBoard
  fileprivate let control: Locked<Control>
  /// Written to wake the thread's wait; both ends are closed by the thread when it stops.
  fileprivate let wakeRead: Int32
  fileprivate let wakeWrite: Int32
  /// Written once, by `stop`: ends a wait for a late answer (a wake for a new pace does not, so
  /// that an answer half read is never lost).
  fileprivate let stopRead: Int32
  fileprivate let stopWrite: Int32
  init(
    node: NodeConfig, query: ProbeQuery, timeouts: Timeouts, pace: Pace, board: EvidenceBoard,
    isHedge: Bool = false
  ) {
    self.node = node
    self.isHedge = isHedge
    self.query = query
    self.timeouts = timeouts
    self.board = board
    control = Locked(Control(pace: pace))
    (wakeRead, wakeWrite) = makeWakePipe()
    (stopRead, stopWrite) = makeWakePipe()
    startThread { [self] in NodeProbing(watcher: self).run() }
  }

  /// Whether this watcher probes `node` as these settings say (else it is replaced).
  func watches(_ node: NodeConfig, query: ProbeQuery, timeouts: Timeouts) -> Bool {
    self.node == node && self.query == query && self.timeouts == timeouts
  }

  /// How long an answer that missed the query timeout is still waited for before the connection
  /// is given up. Long, because a new connection costs several round trips, each of which a
  /// lossy link may lose, while a dead peer is found sooner anyway: `tcp_user_timeout` and the
  /// keepalives close the connection within about 10 s, and a server that goes away closes it.
  var lateAnswerLimit: Duration { max(timeouts.query * 10, .seconds(60)) }

  func setPace(_ pace: Pace) {
    change { control in
      guard control.pace != pace else { return false }
      control.pace = pace
      return true
    }
  }

  func probeNow() {
    change { control in
      control.probeNow = true
      return true
    }
  }

  /// Ends the watcher once its current step returns; its connection is closed then.
  func stop() {
    change { control in
      control.stopped = true
      var byte: UInt8 = 1
      _ = write(stopWrite, &byte, 1)
      return true
    }
  }

  /// Changes the control under its lock, and wakes the thread when `body` says it changed.
  private func change(_ body: (inout Control) -> Bool) {
    control.withLock { control in
      guard !control.stopped, body(&control) else { return }
      var byte: UInt8 = 1
      _ = write(wakeWrite, &byte, 1)
    }
  }

  fileprivate func drainWakes() {
    var buffer = [UInt8](repeating: 0, count: 64)
    while read(wakeRead, &buffer, buffer.count) > 0 {}
  }
}

/// A watcher's probing, confined to its thread: the connection and what it learnt.
private final class NodeProbing {
  let watcher: NodeWatcher
  private var connection: PostgresConnection?
  /// How the table is read over this connection, once an answer has said.
  private var table = TableKnowledge()
  private var backoff = Duration.zero
  private var nextAttempt = ContinuousClock.now
  /// The next attempt while the pace is urgent: at most about a second after a failure.
  private var urgentAttempt = ContinuousClock.now
  private var lastSocketWake = ContinuousClock.now - .seconds(1)
  /// How long this node's answers usually take (a moving average of the recent ones).
  private var typicalLatency: Duration?
  /// When the last answer came, and how long it took.
  private var lastAnswer: (at: ContinuousClock.Instant, latency: Duration)?

  init(watcher: NodeWatcher) { self.watcher = watcher }

  var node: NodeConfig { watcher.node }
  var isHedge: Bool { watcher.isHedge }
  var query: ProbeQuery { watcher.query }
  var timeouts: Timeouts { watcher.timeouts }
  var board: EvidenceBoard { watcher.board }
  var control: Locked<NodeWatcher.Control> { watcher.control }
  var wakeRead: Int32 { watcher.wakeRead }
  var lateAnswerLimit: Duration { watcher.lateAnswerLimit }
  func drainWakes() { watcher.drainWakes() }
  func probeNow() { watcher.probeNow() }

  func run() {
    while true {
      let started = ContinuousClock.now
      let stopped = control.withLock { control in
        defer { control.probeNow = false }
        return control.stopped
      }
      if stopped { break }
      probe()
      waitForNextProbe(after: started, factor: Double.random(in: 0...1))
    }
    connection = nil
    control.withLock { _ in
      for end in [wakeRead, watcher.wakeWrite, watcher.stopRead, watcher.stopWrite] { close(end) }
    }
  }

  /// When a probe is overdue: four times the node's usual answer time, at least 100 ms and at
  /// most the query timeout. An overdue probe marks the node late, so that every watcher probes
  /// at the hold pace: a primary that froze or went silent is noticed long before its evidence
  /// stops counting.
  private var overdue: Duration {
    min(timeouts.query, max(.milliseconds(100), (typicalLatency ?? timeouts.query) * 4))
  }

  private func probe() {
    guard let connection = connectIfDue() else { return }
    let sent = ContinuousClock.now
    do throws(PostgresError) {
      let observation = try query.run(on: connection, knowing: &table, deadline: sent + overdue)
      answered(observation, sent: sent)
    } catch {
      if error.kind == .timeout && connection.isHealthy {
        if !isHedge {
          board.markLate(node.name, acknowledged: connection.sentIsAcknowledged)
        }
        awaitLateAnswer(on: connection, sent: sent)
        return
      }
      publish(.failure(ProbeFailure(error)), sent: sent, takenAt: .now)
      if error.kind != .query || !connection.isHealthy { dropConnection(after: error) }
    }
  }

  /// Waits for the overdue answer, and sees `stop` meanwhile: a stopped watcher returns at once
  /// (its connection is closed as it ends), another wake (a new pace) keeps waiting.
  private func awaitLateAnswer(on connection: PostgresConnection, sent: ContinuousClock.Instant) {
    do throws(PostgresError) {
      var answer: [[String?]]?
      while answer == nil {
        do {
          answer = try connection.awaitLateAnswer(
            deadline: sent + lateAnswerLimit, interruption: watcher.stopRead)
        } catch  where error.kind == .interrupted {
          if control.withLock({ $0.stopped }) { return }
        }
      }
      let rows = answer ?? []
      guard let asked = table.lastAsked,
        let observation = try query.answer(rows, to: asked, knowing: &table)
      else { return probeNow() }
      answered(observation, sent: sent)
    } catch {
      dropConnection(after: error)
      let limit = formatDuration(lateAnswerLimit)
      let failure = ProbeFailure(
        stage: .timeout, message: "no answer within \(limit); the connection is dropped")
      publish(.failure(failure), sent: sent, takenAt: .now)
    }
  }

  private func answered(_ observation: Observation, sent: ContinuousClock.Instant) {
    backoff = .zero
    let latency = sent.duration(to: .now)
    lastAnswer = (.now, latency)
    typicalLatency = typicalLatency.map { $0 * 0.8 + latency * 0.2 } ?? latency
    publish(.success(observation), sent: sent, takenAt: sent)
  }

  private func connectIfDue() -> PostgresConnection? {
    if let connection { return connection }
    let started = ContinuousClock.now
    guard started >= attemptDue else { return nil }
    // A hedge's connection is an extra: on a lossy link it may take as long as it needs.
    let limit = isHedge ? max(timeouts.connect, .seconds(10)) : timeouts.connect
    do throws(PostgresError) {
      let fresh = try PostgresConnection.connect(
        conninfo: node.conninfo, deadline: started + limit)
      connection = fresh
      return fresh
    } catch {
      dropConnection(after: error)
      publish(.failure(ProbeFailure(error)), sent: started, takenAt: .now)
      return nil
    }
  }

  /// Waits before the next attempt, each wait jittered (half to one and a half times) so that a
  /// fleet that lost a node at the same moment does not knock on it at the same moments:
  /// - a connection lost or refused: 250 ms doubling to 5 s (at most about 1 s while the pace is
  ///   urgent);
  /// - no slot left for pgfollow: 2 s doubling to a minute (8 s while urgent, so that a host
  ///   refused at a failover is not blind for the rest of it);
  /// - a pooler that cannot get its server, or gave up waiting for one (`query_wait_timeout`):
  ///   2 s doubling to 10 s, whatever the pace, so that a fleet does not answer a dead or
  ///   overloaded server with a storm of logins at its pooler.
  private func dropConnection(after error: PostgresError) {
    connection = nil
    // The table's form is kept for the next connection, asked with the catalog's facts at once.
    table.factsAsked = nil
    let refusal = error.refusal
    let (first, cap, urgentCap): (Duration, Duration, Duration) =
      switch refusal {
      case .noSlot?: (.seconds(2), .seconds(60), .seconds(8))
      case .poolerCannotReachServer?: (.seconds(2), .seconds(10), .seconds(10))
      case nil, .missing?, .denied?, .misconfigured?: (.milliseconds(250), .seconds(5), .seconds(1))
      }
    backoff = min(max(backoff * 2, first), cap)
    let jitter = Double.random(in: 0.5...1.5)
    nextAttempt = .now + backoff * jitter
    urgentAttempt = .now + min(backoff, urgentCap) * jitter
  }

  private var attemptDue: ContinuousClock.Instant {
    control.withLock { $0.pace.urgent } ? urgentAttempt : nextAttempt
  }

  private func publish(
    _ result: Result<Observation, ProbeFailure>, sent: ContinuousClock.Instant,
    takenAt: ContinuousClock.Instant
  ) {
    if isHedge, case .failure = result { return }
    let latency = Int(sent.duration(to: .now).wholeMilliseconds)
    board.publish(
      NodeEvidence(node: node.name, result: result, latencyMilliseconds: latency),
      takenAt: takenAt)
  }

  /// Sleeps until the next probe is due (the pace after `started`, or the end of a backoff),
  /// a change of pace or a request wakes it, or an idle connection becomes readable.
  private func waitForNextProbe(after started: ContinuousClock.Instant, factor: Double) {
    while true {
      let (pace, wanted) = control.withLock { ($0.pace, $0.probeNow || $0.stopped) }
      if wanted { return }
      let spread = pace.every * (pace.jitter * (factor * 2 - 1))
      var due = started + pace.every + spread
      if let last = lastAnswer { due = max(due, last.at + restAfter(last.latency)) }
      if connection == nil { due = max(due, pace.urgent ? urgentAttempt : nextAttempt) }
      let remaining = ContinuousClock.now.duration(to: due)
      if remaining <= .zero { return }
      // A socket that stays readable must not spin the loop: watch it at most every 100 ms.
      let watchSocket = lastSocketWake.duration(to: .now) > .milliseconds(100)
      let socket = watchSocket ? connection?.socket ?? -1 : -1
      var descriptors = [
        pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
      ]
      let wait = Int32(clamping: remaining.wholeMilliseconds + 1)
      guard poll(&descriptors, 2, watchSocket ? wait : min(wait, 100)) > 0 else { continue }
      if descriptors[0].revents != 0 { drainWakes() }
      if socket >= 0, descriptors[1].revents != 0 {
        lastSocketWake = .now
        return
      }
    }
  }

  /// After an answer that took `latency`, the node (or its pooler) is left without this
  /// watcher's probe for twice that time, so that a fleet's probing is bounded by what the node
  /// answers, not multiplied by it; but never so long that an answer as slow as this one would
  /// come after the last one stopped counting.
  private func restAfter(_ latency: Duration) -> Duration {
    min(latency * 2, max(.zero, board.freshness - latency * 3))
  }
}

/// A non-blocking pipe closed on exec: its read end, then its write end (-1, -1 if none).
private func makeWakePipe() -> (Int32, Int32) {
  var ends: [Int32] = [-1, -1]
  guard pipe(&ends) == 0 else { return (-1, -1) }
  for end in ends {
    _ = fcntl(end, F_SETFD, FD_CLOEXEC)
    _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
  }
  return (ends[0], ends[1])
}
