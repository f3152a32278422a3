import Foundation
import PGFollowCore
import Testing

@testable import PGFollowDaemon

/// The cycle over hours of failovers whose rows carry wrong clocks: timelines order them.
@Suite struct SimulationTimelineTests {
  /// A failover every 600 cycles, node1 and node2 in turn, each promotion on the next timeline
  /// and its row written by a clock up to an hour off either way (recorded with its timeline, as
  /// a table with the history columns holds it). The file follows every promotion, once each,
  /// and never goes back.
  @Test(arguments: Mode.allCases) func skewedClocksNeverReorderFailovers(_ mode: Mode) async throws
  {
    let simulation = try Simulation()
    let skews: [Int64] = [0, -3600, 3600, -1800, 2400, -3599, 60, -60]
    simulation.evidence = { cycle in
      let era = cycle / 600
      let timeline = Int64(era + 1)
      let primary = era % 2 == 0 ? "node1" : "node2"
      let other = primary == "node1" ? "node2" : "node1"
      let row = (Int64(10_000 + cycle / 600 * 600) + skews[era % skews.count], primary)
      // The old primary is gone for 30 cycles after each failover, then back as a standby.
      let otherUp = cycle % 600 >= 30
      return [
        up(primary, primary: true, timeline: timeline, row: row, recordedOn: timeline),
        otherUp
          ? up(other, primary: false, timeline: timeline, row: row, recordedOn: timeline)
          : down(other),
      ].sorted { $0.node < $1.node }
    }
    _ = try await simulation.run(mode, 4800)
    // The sidecar confirms a new leader on its next cycle; `once` within the same run.
    let confirmation = mode == .sidecar ? 1 : 0
    #expect(simulation.writeCycles.get() == (1..<8).map { $0 * 600 + confirmation })
    #expect(try simulation.masterAddress() == "node2:5432")
  }

  /// After a failover to node2 (timeline 2), the stale old primary, on the first timeline, comes
  /// back writable every 97 cycles for 20, with a bare row an hour in the future, as the seed's
  /// table holds it: never followed again, whether node2 answers beside it (split brain) or not.
  @Test(arguments: Mode.allCases) func aStalePrimaryWithAFutureClockIsNeverFollowed(_ mode: Mode)
    async throws
  {
    let simulation = try Simulation()
    simulation.evidence = { cycle in
      guard cycle >= 10 else {
        return [
          up("node1", primary: true, timeline: 1, row: (10_000, "node1")),
          up("node2", primary: false, timeline: 1, row: (10_000, "node1")),
        ]
      }
      let staleBack = cycle % 97 < 20
      let node2Up = cycle % 3 != 0
      return [
        staleBack
          ? up("node1", primary: true, timeline: 1, row: (10_000 + 3600 + Int64(cycle), "node1"))
          : down("node1"),
        node2Up ? up("node2", primary: true, timeline: 2, row: (10_500, "node2")) : down("node2"),
      ]
    }
    let reports = try await simulation.run(mode, 3000)
    #expect(simulation.writeCycles.get().count == 1, "\(simulation.writeCycles.get())")
    #expect(try simulation.masterAddress() == "node2:5432")
    #expect(!reports.dropFirst(10).contains { $0.decision.leader == "node1" })
  }
}
