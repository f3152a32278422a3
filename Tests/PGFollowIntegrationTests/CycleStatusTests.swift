import PGFollowDaemon
import Testing

/// `once` exits with the worst status of a run; worst is the declaration's order, not the code's.
@Suite struct CycleStatusTests {
  @Test func theWorstStatusWinsWhateverItsExitCode() {
    #expect(CycleStatus.allCases.sorted() == CycleStatus.allCases)
    #expect([CycleStatus.held, .changed, .inSync].max() == .held)
    #expect(max(CycleStatus.restartFailed, .writeFailed) == .writeFailed)
    #expect(max(CycleStatus.lockOrStateFailed, .writeFailed) == .lockOrStateFailed)
    #expect(max(CycleStatus.configError, .lockOrStateFailed) == .configError)
    // Switched but unverified (9) is worse than a split brain and better than a failure to act.
    #expect(max(CycleStatus.splitBrain, .unverified) == .unverified)
    #expect(max(CycleStatus.unverified, .restartFailed) == .restartFailed)
    #expect(CycleStatus.allCases.map(\.exitCode) == [0, 2, 3, 4, 9, 7, 6, 8, 5])
  }
}
