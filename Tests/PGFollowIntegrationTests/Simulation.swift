import Foundation
import PGFollowConfig
import PGFollowCore
import PGFollowTestSupport
import Testing

@testable import PGFollowDaemon

/// The sidecar's cycle run in-process for thousands of simulated seconds: nodes that flap, a
/// restart command that keeps failing, and a clock (injected) that steps back and forward. The
/// application's file and state are real files; probes and restarts are scripted.
final class Simulation: @unchecked Sendable {
  let directory: String
  var appFile: String { directory + "/app.yaml" }
  /// Each cycle's evidence, by cycle number.
  var evidence: @Sendable (Int) -> [NodeEvidence] = { _ in [] }
  /// Whether the restart attempt of a cycle succeeds, by attempt number (from 0).
  var restartSucceeds: @Sendable (Int) -> Bool = { _ in true }
  let cycle = Mutexed(0)
  let now = Mutexed<WallSeconds>(1_800_000_000)
  /// Simulated real time in seconds: the steps and sleeps, not the clock's jumps.
  let elapsed = Mutexed<Double>(0)
  /// The simulated real time of each restart attempt.
  let restartTimes = Mutexed<[Double]>([])
  /// Probes made so far (a run of `once` may probe twice to confirm).
  let probes = Mutexed(0)
  /// When set, each probe's evidence by probe number, instead of by cycle.
  var evidenceByProbe: (@Sendable (Int) -> [NodeEvidence])?
  let restartCycles = Mutexed<[Int]>([])
  let writeCycles = Mutexed<[Int]>([])

  init(setStandby: Bool = false, extra: String = "") throws {
    directory = try makeTemporaryDirectory()
    try Fixture.appText.write(toFile: appFile, atomically: false, encoding: .utf8)
    try FileManager.default.createDirectory(
      atPath: directory + "/state", withIntermediateDirectories: false)
    let standby = setStandby ? "\n    db_slave[0].address: \"{standby.address}\"" : ""
    try """
    nodes:
      - {name: node1, conninfo: host=node1, address: "node1:5432"}
      - {name: node2, conninfo: host=node2, address: "node2:5432"}
    app:
      file: app.yaml
      set:
        db_master[0].address: "{leader.address}"\(standby)
    restart: {units: app.service}
    state_directory: state
    \(extra)
    """.write(toFile: directory + "/pgfollow.yaml", atomically: false, encoding: .utf8)
  }

  deinit { try? FileManager.default.removeItem(atPath: directory) }

  /// Runs `count` cycles, each `step` of simulated time after the previous one (`clockStep`
  /// may move the clock further at given cycles), and returns every report.
  func run(
    _ count: Int, step: Duration = .seconds(1),
    clockStep: @escaping (Int) -> Duration = { _ in .zero }
  ) async throws -> [CycleReport] {
    let cycle = try makeCycle()
    var machines = FollowMachines()
    return await repeated(count, step: step, clockStep: clockStep) { await cycle.run(&machines) }
  }

  /// The same as a cron loop: each run a fresh `once` on the state file, as a new process.
  func runOnce(
    _ count: Int, step: Duration = .seconds(1),
    clockStep: @escaping (Int) -> Duration = { _ in .zero }
  ) async throws -> [CycleReport] {
    let cycle = try makeCycle()
    return await repeated(count, step: step, clockStep: clockStep) { await cycle.once() }
  }

  private func makeCycle() throws -> Cycle {
    let text = try String(contentsOfFile: directory + "/pgfollow.yaml", encoding: .utf8)
    let config = try loadConfig(bytes: Array(text.utf8), file: directory + "/pgfollow.yaml")
    let now = self.now
    let elapsed = self.elapsed
    return Cycle(
      config: config, prober: ScriptedProber(simulation: self),
      restarter: ScriptedRestarter(simulation: self), dryRun: false, clock: { now.get() },
      sleep: { pause in
        now.update { $0 += pause.inSeconds }
        elapsed.update { $0 += pause.inSeconds }
      })
  }

  private func repeated(
    _ count: Int, step: Duration, clockStep: (Int) -> Duration,
    _ body: () async -> CycleReport
  ) async -> [CycleReport] {
    var reports: [CycleReport] = []
    for index in 0..<count {
      self.cycle.set(index)
      now.update { $0 += (step + clockStep(index)).inSeconds }
      elapsed.update { $0 += step.inSeconds }
      let report = await body()
      if report.apps.contains(where: \.wroteFile) { writeCycles.update { $0.append(index) } }
      reports.append(report)
    }
    return reports
  }

  /// Runs the sidecar as its machine paces it, for `seconds` of simulated time: a cycle when
  /// the machine says, the watchers' answers arriving at the pace the last cycle set (each one
  /// an evidence event), the clock moved to each wake. Returns each cycle's simulated time and
  /// report.
  func runPacedByMachine(seconds: Double) async throws -> [(at: Double, report: CycleReport)] {
    let cycle = try makeCycle()
    let config = cycle.config
    var machines = FollowMachines()
    let start = ContinuousClock.now
    var machine = SidecarMachine(
      now: start, watchdogPeriod: nil, listenerRetry: .seconds(2), countsSessions: false)
    var reports: [(at: Double, report: CycleReport)] = []
    var virtual = start
    var answers = 0
    var nextAnswer = start
    var actions = machine.handle(.started, now: start)
    while start.duration(to: virtual) < .seconds(seconds) {
      if actions.contains(.runCycle) {
        self.cycle.set(reports.count)
        let report = await cycle.run(&machines)
        reports.append((start.duration(to: virtual).inSeconds, report))
        let pace = watchPace(report, config)
        nextAnswer = virtual + pace.every
        let confirming = report.confirmingLeader.map {
          SidecarMachine.Confirming(leader: $0, sequence: answers)
        }
        actions = machine.handle(
          .cycleDone(
            pace: decisionPace(report, config, late: []), evidenceExpires: nil,
            confirming: confirming, version: answers,
            wroteFile: report.apps.contains(where: \.wroteFile)), now: virtual)
        continue
      }
      // The next thing to happen: a watcher's answer, or the machine's own wake.
      let wake = min(machine.wakeAt ?? nextAnswer, nextAnswer)
      let step = virtual.duration(to: wake)
      now.update { $0 += step.inSeconds }
      elapsed.update { $0 += step.inSeconds }
      virtual = wake
      if wake == nextAnswer {
        answers += 1
        nextAnswer = wake + watchPace(reports.last?.report, config).every
        actions = machine.handle(.evidence(version: answers, leaderSequence: answers), now: wake)
      } else {
        actions = machine.handle(.timer, now: wake)
      }
    }
    return reports
  }

  /// The primary's address in the application's file.
  func masterAddress() throws -> String {
    let text = try String(contentsOfFile: appFile, encoding: .utf8)
    let line = text.split(separator: "\n").first { $0.contains("- address:") } ?? ""
    return String(line.split(separator: " ").dropFirst(2).first ?? "")
  }
}

/// How the simulated cycles run: one machine kept across cycles (the sidecar), or a fresh `once`
/// on the state file every run (a cron loop); the same scenarios hold the same bounds in both.
enum Mode: String, CaseIterable, Sendable, CustomStringConvertible {
  case sidecar, cron
  var description: String { rawValue }
}

extension Simulation {
  func run(_ mode: Mode, _ count: Int) async throws -> [CycleReport] {
    mode == .sidecar ? try await run(count) : try await runOnce(count)
  }

  /// node2 is the primary throughout; the restart fails 25 times before it works.
  static func failingRestarts() throws -> Simulation {
    let simulation = try Simulation()
    simulation.evidence = { _ in
      [
        up("node1", primary: false, row: (100, "node1")),
        up("node2", primary: true, row: (200, "node2")),
      ]
    }
    simulation.restartSucceeds = { $0 >= 25 }
    return simulation
  }

  /// The clock steps back an hour at cycle 10 and forward two hours at cycle 200.
  static func clockSteps(_ cycle: Int) -> Duration {
    switch cycle {
    case 10: .seconds(-3600)
    case 200: .seconds(7200)
    default: .zero
    }
  }
}

/// The bounds both modes keep, for the 26 attempts of `Simulation.failingRestarts` (their times
/// in seconds of real time): at least 2 s apart, at most 20 in any hour. The step forward of
/// `clockSteps` at 200 s opens a new hour, as two hours of real time would.
func expectWithinRestartLimits(_ times: [Double]) {
  #expect(times.count == 26)
  #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 >= 2 })
  #expect(times.filter { $0 < 200 }.count <= 20)
  for start in stride(from: 200.0, to: 7200, by: 60) {
    #expect(times.filter { $0 >= start && $0 < start + 3600 }.count <= 20)
  }
}

struct ScriptedProber: Prober {
  let simulation: Simulation
  func probe(_ config: Config) async -> [NodeEvidence] {
    let probe = simulation.probes.get()
    simulation.probes.set(probe + 1)
    if let byProbe = simulation.evidenceByProbe { return byProbe(probe) }
    return simulation.evidence(simulation.cycle.get())
  }
}

struct ScriptedRestarter: Restarter {
  let simulation: Simulation
  func restart(_ unit: String, with config: RestartConfig) -> ProcessResult {
    let attempt = simulation.restartCycles.get().count
    simulation.restartCycles.update { $0.append(simulation.cycle.get()) }
    simulation.restartTimes.update { $0.append(simulation.elapsed.get()) }
    return simulation.restartSucceeds(attempt)
      ? ProcessResult(termination: .exited(0), output: "")
      : ProcessResult(termination: .exited(1), output: "Job for app.service failed.")
  }
}

func up(_ node: String, primary: Bool, row: (Int64, String)) -> NodeEvidence {
  NodeEvidence(
    node: node,
    result: .success(
      Observation(
        inRecovery: !primary, walReceiverActive: !primary,
        newestRow: FailoverRow(unixtime: row.0, host: row.1))),
    latencyMilliseconds: 1)
}

func down(_ node: String) -> NodeEvidence {
  NodeEvidence(
    node: node, result: .failure(ProbeFailure(stage: .connect, message: "Connection refused")),
    latencyMilliseconds: 1)
}

/// A node that answers on `timeline`, its newest row `row`, recorded on the timeline given (nil:
/// a bare row, as the seed's table holds).
func up(
  _ node: String, primary: Bool, timeline: Int64, row: (Int64, String),
  recordedOn recorded: Int64? = nil
) -> NodeEvidence {
  let cluster = "7714710222592293049"
  return NodeEvidence(
    node: node,
    result: .success(
      Observation(
        inRecovery: !primary, walReceiverActive: !primary,
        newestRow: FailoverRow(
          unixtime: row.0, host: row.1,
          recorded: recorded.map {
            HistoryPosition(systemIdentifier: cluster, timeline: $0, lsn: UInt64($0) << 24)
          }),
        position: HistoryPosition(
          systemIdentifier: cluster, timeline: timeline, lsn: UInt64(timeline) << 24 + 100))),
    latencyMilliseconds: 1)
}
