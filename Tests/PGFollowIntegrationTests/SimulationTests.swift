import Foundation
import PGFollowConfig
import PGFollowCore
import PGFollowTestSupport
import Testing

@testable import PGFollowDaemon

@Suite struct SimulationTests {
  /// The primary answers every other cycle for an hour: pgfollow holds on the silent cycles and
  /// never writes or restarts anything.
  @Test(arguments: Mode.allCases) func aFlappingPrimaryMovesNothing(_ mode: Mode) async throws {
    let simulation = try Simulation()
    simulation.evidence = { cycle in
      [
        cycle % 2 == 0 ? up("node1", primary: true, row: (100, "node1")) : down("node1"),
        up("node2", primary: false, row: (100, "node1")),
      ]
    }
    let reports = try await simulation.run(mode, 3600)
    #expect(reports.filter { $0.status == .held }.count == 1800)
    #expect(simulation.writeCycles.get().isEmpty && simulation.restartCycles.get().isEmpty)
    #expect(try simulation.masterAddress() == "node1:5432")
  }

  /// After a failover the new primary answers only every other cycle: it is still followed,
  /// once, after two sightings, and the application is restarted once.
  @Test func aFlappingNewPrimaryIsFollowedOnce() async throws {
    let simulation = try Simulation()
    simulation.evidence = { cycle in
      guard cycle > 0 else {
        return [up("node1", primary: true, row: (100, "node1"))] + [down("node2")]
      }
      return [
        down("node1"),
        cycle % 2 == 1 ? up("node2", primary: true, row: (200, "node2")) : down("node2"),
      ]
    }
    let reports = try await simulation.run(600)
    #expect(reports[1].confirming == .confirming(leader: "node2", sightings: 1, required: 2))
    #expect(simulation.writeCycles.get() == [3])
    #expect(simulation.restartCycles.get() == [3])
    #expect(try simulation.masterAddress() == "node2:5432")
  }

  /// The sidecar's machine and cycle together in simulated time, with no clock: at steady state
  /// about one decision per interval; the primary dies at 60 s and node2's row comes at 60.5 s:
  /// the hold pace finds it, the next answer confirms it, and the file follows within a second,
  /// restarted once.
  @Test func theMachinesPaceFollowsAFailoverWithinASecond() async throws {
    let simulation = try Simulation()
    let now = simulation.now
    let failedAt = now.get() + 60
    simulation.evidence = { _ in
      let t = now.get()
      if t < failedAt {
        return [
          up("node1", primary: true, row: (100, "node1")),
          up("node2", primary: false, row: (100, "node1")),
        ]
      }
      return [
        down("node1"),
        t < failedAt + 0.5
          ? up("node2", primary: true, row: (100, "node1"))
          : up("node2", primary: true, row: (200, "node2")),
      ]
    }
    let reports = try await simulation.runPacedByMachine(seconds: 120)
    let steady = reports.filter { $0.at > 5 && $0.at < 60 }
    #expect((45...62).contains(steady.count), "\(steady.count) cycles in 55 s of steady state")
    let switched = try #require(
      reports.first { $0.report.apps.contains(where: \.wroteFile) && $0.at > 60 })
    print("switched at \(switched.at) s; cycles in 120 s: \(reports.count)")
    #expect(switched.at >= 60.5 && switched.at < 61.5, "\(switched.at)")
    #expect(simulation.restartTimes.get().count == 1, "restarted once, for the failover")
    #expect(try simulation.masterAddress() == "node2:5432")
  }

  /// The standby comes and goes every 7 s for two hours: the file keeps naming it (a change
  /// that keeps the leader must last `run.standby_settle`, 10 s), so nothing is restarted
  /// after the first cycle. When it is gone for good, the file follows it 10 s later.
  @Test(arguments: Mode.allCases)
  func aFlappingStandbyIsNotFollowedAndALostOneIsAfterTheSettleTime(_ mode: Mode) async throws {
    let simulation = try Simulation(setStandby: true)
    simulation.evidence = { cycle in
      let standbyUp = cycle < 7200 ? (cycle / 7) % 2 == 0 : false
      return [
        up("node1", primary: true, row: (100, "node1")),
        standbyUp ? up("node2", primary: false, row: (100, "node1")) : down("node2"),
      ]
    }
    let reports = try await simulation.run(mode, 7300)
    #expect(simulation.restartCycles.get() == [0, 7210])
    #expect(simulation.writeCycles.get() == [0, 7210])
    #expect(reports[7205].apps[0].settling == .seconds(5))
    #expect(try simulation.masterAddress() == "node1:5432")
  }

  /// With the settle time off, the same flapping standby moves the file every 7 s: the restarts
  /// that causes stay within the limits (2 s apart, 20 an hour), the owed restart is never
  /// lost, and the primary's value never moves.
  @Test func aFlappingStandbyCannotCauseARestartStorm() async throws {
    let simulation = try Simulation(setStandby: true, extra: "run: {standby_settle: 0s}")
    simulation.evidence = { cycle in
      [
        up("node1", primary: true, row: (100, "node1")),
        (cycle / 7) % 2 == 0 ? up("node2", primary: false, row: (100, "node1")) : down("node2"),
      ]
    }
    let reports = try await simulation.run(7200)
    let restarts = simulation.restartCycles.get()
    #expect(zip(restarts, restarts.dropFirst()).allSatisfy { $1 - $0 >= 2 })
    for start in stride(from: 0, to: 7200, by: 60) {
      #expect(restarts.filter { $0 >= start && $0 < start + 3600 }.count <= 20)
    }
    #expect(restarts.count >= 30)
    #expect(reports.contains { $0.apps[0].restartDeferred != nil })
    #expect(try simulation.masterAddress() == "node1:5432")
  }

  /// The restart fails 25 times before it works, and the clock steps back an hour at cycle 10
  /// and forward two hours at cycle 200: attempts stay spaced, never more than 20 in an hour,
  /// the step back stalls nothing, and the owed restart is finally carried out.
  @Test func failingRestartsUnderClockStepsAreSpacedAndFinallyDone() async throws {
    let simulation = try Simulation.failingRestarts()
    let reports = try await simulation.run(7200, clockStep: Simulation.clockSteps)
    let restarts = simulation.restartCycles.get()
    #expect(restarts.contains { (10..<14).contains($0) }, "the step back stalled the restarts")
    expectWithinRestartLimits(restarts.map(Double.init))
    #expect(reports[restarts[0]].status == .restartFailed)
    #expect(reports.last?.status == .inSync)
    #expect(simulation.writeCycles.get() == [0])
  }

  /// A hook that always fails is retried 5 s and then 10 s later (backoff) and given up after
  /// three tries; a change of leader before then starts its count afresh (the first change's
  /// debt is replaced at cycle 11). The hook beside it runs once each time; neither changes what
  /// the cycle reports.
  @Test func aFailingHookIsGivenUpAfterItsAttemptsEachTime() async throws {
    let simulation = try Simulation(
      extra: """
        hooks:
          - {command: [/bin/false], when: before-restart, attempts: 3}
          - {command: [/bin/true], when: after-restart}
        """)
    simulation.evidence = { cycle in
      cycle < 10
        ? [up("node1", primary: true, row: (100, "node1")), down("node2")]
        : [down("node1"), up("node2", primary: true, row: (200, "node2"))]
    }
    let reports = try await simulation.run(60)
    func cycles(_ command: String, _ followUp: FollowMachine.FollowUp) -> [Int] {
      reports.indices.filter { index in
        reports[index].apps[0].hooks.contains { $0.command == command && $0.followUp == followUp }
      }
    }
    #expect(cycles("/bin/false", .willRetry(failure: 1, of: 3, after: .seconds(5))) == [0, 11])
    #expect(cycles("/bin/false", .willRetry(failure: 2, of: 3, after: .seconds(10))) == [5, 16])
    #expect(cycles("/bin/false", .gaveUp(failures: 3)) == [26])
    #expect(cycles("/bin/true", .succeeded) == [0, 11])
    #expect(simulation.restartCycles.get() == [11])
    #expect(reports.allSatisfy { [.inSync, .changed].contains($0.status) || $0.confirming != nil })
  }
}
