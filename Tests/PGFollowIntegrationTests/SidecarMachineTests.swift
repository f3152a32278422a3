import PGFollowCore
import Testing

@testable import PGFollowDaemon

/// The sidecar's loop in virtual time: the machine is given events at instants the test picks,
/// and what it does and when it wants to be woken are checked without a clock or a process.
@Suite struct SidecarMachineTests {
  typealias Machine = SidecarMachine
  let t0 = ContinuousClock.now

  private func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .seconds(seconds) }

  private func machine(watchdog: Duration? = nil, sessions: Bool = false) -> Machine {
    Machine(
      now: t0, watchdogPeriod: watchdog.map { $0 / 2 }, listenerRetry: .seconds(2),
      countsSessions: sessions)
  }

  private func cycleDone(
    pace: Double, expires: Double? = nil, confirming: Machine.Confirming? = nil, version: Int = 1,
    wroteFile: Bool = false
  ) -> Machine.Event {
    .cycleDone(
      pace: .seconds(pace), evidenceExpires: expires.map { at($0) }, confirming: confirming,
      version: version, wroteFile: wroteFile)
  }

  @Test func cyclesComeAtThePaceAndEvidenceThatStopsCountingCutsItShort() {
    var sidecar = machine()
    #expect(sidecar.handle(.started, now: t0) == [.runCycle])
    #expect(sidecar.handle(cycleDone(pace: 1), now: at(0.01)) == [.ping])
    #expect(sidecar.wakeAt == at(0.01) + .seconds(1))
    #expect(sidecar.handle(.timer, now: at(0.5)) == [])
    #expect(sidecar.handle(.timer, now: at(0.01) + .seconds(1)) == [.runCycle])
    // Held (a failover may be under way): the hold pace; evidence expiring sooner comes first.
    _ = sidecar.handle(cycleDone(pace: 0.2, expires: 1.1), now: at(1.02))
    #expect(sidecar.wakeAt == at(1.1) + .milliseconds(1))
  }

  @Test func evidenceIsWorthADecisionOnlyWhenItIsNew() {
    var sidecar = machine()
    _ = sidecar.handle(.started, now: t0)
    _ = sidecar.handle(cycleDone(pace: 1, version: 7), now: t0)
    #expect(sidecar.handle(.evidence(version: 7, leaderSequence: nil), now: at(0.1)) == [])
    #expect(sidecar.handle(.evidence(version: 8, leaderSequence: nil), now: at(0.2)) == [.runCycle])
  }

  /// While a new leader is confirmed, only its next answer counts: a confirmation is a new probe.
  @Test func aConfirmationWaitsForTheLeadersNextAnswer() {
    var sidecar = machine()
    _ = sidecar.handle(.started, now: t0)
    let confirming = Machine.Confirming(leader: "node2", sequence: 4)
    _ = sidecar.handle(cycleDone(pace: 3, confirming: confirming, version: 9), now: t0)
    #expect(sidecar.handle(.evidence(version: 10, leaderSequence: 4), now: at(0.1)) == [])
    #expect(sidecar.handle(.evidence(version: 11, leaderSequence: 5), now: at(0.3)) == [.runCycle])
  }

  /// An interval far longer than the watchdog: the machine still pings every half WatchdogSec.
  @Test func theWatchdogIsPingedEveryHalfPeriodWhateverTheInterval() {
    var sidecar = machine(watchdog: .seconds(3))
    _ = sidecar.handle(.started, now: t0)
    _ = sidecar.handle(cycleDone(pace: 8), now: t0)
    var pings: [Duration] = []
    while let next = sidecar.wakeAt, next < at(8) {
      if sidecar.handle(.timer, now: next).contains(.ping) { pings.append(t0.duration(to: next)) }
    }
    #expect(pings == [1.5, 3, 4.5, 6, 7.5].map { Duration.seconds($0) }, "\(pings)")
    #expect(sidecar.handle(.timer, now: at(8)).contains(.runCycle))
  }

  @Test func aReloadAndSIGUSR1DecideAtOnceAndStopEndsEverything() {
    var sidecar = machine()
    _ = sidecar.handle(.started, now: t0)
    _ = sidecar.handle(cycleDone(pace: 5), now: t0)
    #expect(sidecar.handle(.reload, now: at(1)) == [.reload, .runCycle])
    #expect(sidecar.handle(.probeNow, now: at(2)) == [.probeNow, .runCycle])
    // A check that ended: the next cycle takes its word.
    #expect(sidecar.handle(.checkDone, now: at(2.5)) == [.runCycle])
    #expect(sidecar.handle(.stop, now: at(3)) == [.stop])
    #expect(sidecar.handle(.timer, now: at(9)) == [])
  }

  @Test func aListenerThatCannotStartIsTriedAgain() {
    var sidecar = machine()
    _ = sidecar.handle(.listenerFailed, now: t0)
    _ = sidecar.handle(.started, now: t0)
    _ = sidecar.handle(cycleDone(pace: 10), now: t0)
    #expect(sidecar.wakeAt == at(2))
    #expect(sidecar.handle(.timer, now: at(2)) == [.retryListener])
    _ = sidecar.handle(.listenerStarted, now: at(2))
    #expect(sidecar.wakeAt == at(10))
  }

  /// Sessions are counted at once after a file is written or a restart is done, then at the
  /// pace the last count asked for; never two at once.
  @Test func sessionCountsFollowTheSwitch() {
    var sidecar = machine(sessions: true)
    _ = sidecar.handle(.started, now: t0)
    #expect(
      sidecar.handle(cycleDone(pace: 1, wroteFile: true), now: t0) == [.ping, .startSessionCount])
    // A restart done while that count runs: the next is started as soon as it ends.
    #expect(sidecar.handle(.workDone(restarted: true), now: at(0.1)) == [])
    #expect(
      sidecar.handle(.sessionsCounted(next: .seconds(15)), now: at(0.3)) == [.startSessionCount])
    #expect(sidecar.handle(.sessionsCounted(next: .milliseconds(200)), now: at(0.4)) == [])
    #expect(sidecar.wakeAt == at(0.4) + .milliseconds(200))
    #expect(sidecar.handle(.timer, now: at(0.4) + .milliseconds(200)) == [.startSessionCount])
    _ = sidecar.handle(.sessionsCounted(next: .seconds(15)), now: at(0.6))
    #expect(sidecar.handle(.workDone(restarted: true), now: at(2)) == [.startSessionCount])
  }

  /// The pace a cycle hands the machine: the interval while following, the hold pace while
  /// holding or while a node is late (a failover may be under way), and while a new leader is
  /// confirmed, as long as its answer counts. The watchers' pace follows suit.
  @Test func lateNodesHoldsAndConfirmationsSetThePace() {
    let config = Config(nodes: [], apps: [])
    let primary = NodeEvidence(
      node: "node1",
      result: .success(
        Observation(inRecovery: false, newestRow: FailoverRow(unixtime: 100, host: "node1"))),
      latencyMilliseconds: 1)
    let following = CycleReport(
      decision: decide(evidence: [primary], nodes: ["node1"], previous: nil, policy: .init()),
      dryRun: false)
    let interval = config.run.interval
    let paced = decisionPace(following, config, late: [])
    #expect(paced >= interval * 0.9 && paced <= interval * 1.1)
    #expect(watchPace(following, config) == Pace(every: interval, jitter: 0.1))
    #expect(decisionPace(following, config, late: ["node2"]) == config.run.holdInterval)
    #expect(
      watchPace(following, config, late: ["node2"])
        == Pace(every: config.run.holdInterval, jitter: 0.5, urgent: true))

    let holding = CycleReport(
      decision: decide(evidence: [], nodes: ["node1"], previous: nil, policy: .init()),
      dryRun: false)
    #expect(decisionPace(holding, config, late: []) == config.run.holdInterval)
    #expect(watchPace(holding, config).failover && watchPace(holding, config).urgent)

    var confirming = following
    var app = AppReport(app: AppConfig(file: "/etc/shop/env.yaml", values: []))
    app.confirming = .confirming(leader: "node1", sightings: 1, required: 2)
    confirming.apps = [app]
    #expect(decisionPace(confirming, config, late: []) == config.freshness)
    #expect(watchPace(confirming, config).every == config.run.confirmAfter)
  }

  /// Second watchers, over simulated minutes of late probes: a node late three times within a
  /// minute gets one (never during a failover); it goes once the node has not been late for
  /// the board's memory of lateness.
  @Test func secondWatchersComeWithLatenessAndGoWithoutIt() {
    // Late probes of node2 at these simulated seconds; "now" moves through them.
    let late: [Double] = [10, 20, 30]
    func lateCount(at now: Double) -> (String, Duration) -> Int {
      { node, window in
        node == "node2" ? late.filter { $0 <= now && now - $0 <= window.inSeconds }.count : 0
      }
    }
    let nodes = ["node1", "node2"]
    let twice = hedgeChanges(
      nodes: nodes, hedged: [], failover: false, lateCount: lateCount(at: 25))
    #expect(twice.start.isEmpty && twice.end.isEmpty)
    let thrice = hedgeChanges(
      nodes: nodes, hedged: [], failover: false, lateCount: lateCount(at: 31))
    #expect(thrice.start == ["node2"])
    let duringFailover = hedgeChanges(
      nodes: nodes, hedged: [], failover: true, lateCount: lateCount(at: 31))
    #expect(duringFailover.start.isEmpty)
    let stillLateLately = hedgeChanges(
      nodes: nodes, hedged: ["node2"], failover: false, lateCount: lateCount(at: 200))
    #expect(stillLateLately.end.isEmpty, "late within the board's memory")
    let quiet = 30 + EvidenceBoard.lateMemory.inSeconds + 1
    let calm = hedgeChanges(
      nodes: nodes, hedged: ["node2"], failover: false, lateCount: lateCount(at: quiet))
    #expect(calm.end == ["node2"] && calm.start.isEmpty)
  }
}
