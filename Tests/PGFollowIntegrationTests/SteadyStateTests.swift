import Foundation
import PGFollowTestSupport
import Testing

/// What a sidecar costs while nothing fails over: with the primary taking writes, nothing moves.
@Suite(.serialized, Needs.cluster) struct SteadyStateTests {
  /// Each answer of a busy primary carries a new WAL position; none is a change, so the state
  /// file (replaced, with its fsyncs, at each write) keeps its inode.
  @Test func aPrimaryTakingWritesCostsNoStateWrites() throws {
    let fixture = try Fixture()
    try fixture.editConfig(
      "metrics: {listen: off}", "metrics: {listen: off}\nrun: {interval: 200ms}")
    let sidecar = try Sidecar(fixture: fixture)
    #expect(waitUntil(10) { fixture.restarts().count == 1 }, "\(sidecar.log)")
    let statePath = fixture.directory + "/state/state.json"
    #expect(waitUntil(5) { inode(statePath) != nil }, "no state file: \(sidecar.log)")
    usleep(1_000_000)
    let lsnBefore = try primaryLSN(fixture)
    let load = try fixture.startWriteLoad(on: "node1", seconds: 6)
    defer { load.terminate() }
    var inodes: Set<UInt64> = []
    let end = Date().addingTimeInterval(5)
    while Date() < end {
      if let found = inode(statePath) { inodes.insert(found) }
      usleep(20_000)
    }
    load.waitUntilExit()
    #expect(try primaryLSN(fixture) != lsnBefore, "the load wrote nothing")
    #expect(inodes.count == 1, "the state file was replaced \(inodes.count - 1) times")
    #expect(fixture.restarts().count == 1)
    #expect(sidecar.stop() == 0)
  }

  private func primaryLSN(_ fixture: Fixture) throws -> String {
    try Fixture.cluster("sql", fixture.cluster, "node1 select pg_current_wal_lsn()").output
  }
}

private func inode(_ path: String) -> UInt64? {
  var info = stat()
  guard stat(path, &info) == 0 else { return nil }
  return UInt64(info.st_ino)
}
