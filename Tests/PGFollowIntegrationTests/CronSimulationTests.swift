import Foundation
import PGFollowCore
import PGFollowTestSupport
import Testing

@testable import PGFollowDaemon

/// The cron loop simulated: every run a fresh `once` on the real state file, as a new process
/// would be, with the same scripted nodes, restarts and clock as the sidecar's simulation, and
/// the same bounds. (A flapping primary and a flapping standby run in both modes in
/// SimulationTests.)
@Suite struct CronSimulationTests {
  /// The restart fails 25 times under a cron loop running every second while the clock steps
  /// back an hour and forward two: attempts stay 2 s apart in real time, at most 20 in any hour
  /// of it, and the restart is finally done. (A run waits out the 2 s spacing itself, as the
  /// sidecar would, so it may try on consecutive runs.)
  @Test func failingRestartsUnderCronStayWithinTheLimits() async throws {
    let simulation = try Simulation.failingRestarts()
    let reports = try await simulation.runOnce(7200, clockStep: Simulation.clockSteps)
    expectWithinRestartLimits(simulation.restartTimes.get())
    #expect(reports.last?.status == .inSync)
    #expect(simulation.writeCycles.get() == [0])
  }

  /// A hook that always fails is retried 5 s and 10 s later and given up, under cron too.
  @Test func aFailingHookBacksOffUnderCron() async throws {
    let simulation = try Simulation(
      extra: """
        hooks:
          - {command: [/bin/false], attempts: 3}
        """)
    simulation.evidence = { _ in [up("node1", primary: true, row: (100, "node1")), down("node2")] }
    let reports = try await simulation.runOnce(40)
    let tried = reports.indices.filter { !reports[$0].apps[0].hooks.isEmpty }
    #expect(tried == [0, 5, 15])
    #expect(reports[15].apps[0].hooks.first?.followUp == .gaveUp(failures: 3))
  }

  /// One run sees node2 as the leader once, and node1 again when it probes to confirm: the
  /// application is not moved.
  @Test func aSingleInconsistentReadingNeverMovesTheApplication() async throws {
    let simulation = try Simulation()
    simulation.evidenceByProbe = { probe in
      probe == 1
        ? [down("node1"), up("node2", primary: true, row: (200, "node2"))]
        : [up("node1", primary: true, row: (100, "node1")), down("node2")]
    }
    let reports = try await simulation.runOnce(3)
    #expect(simulation.writeCycles.get().isEmpty && simulation.restartCycles.get().isEmpty)
    #expect(simulation.probes.get() == 4, "the second run did not probe again to confirm")
    #expect(try simulation.masterAddress() == "node1:5432")
    #expect(reports[1].status == .inSync)
  }
}
