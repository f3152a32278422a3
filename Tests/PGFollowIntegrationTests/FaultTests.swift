import Foundation
import PGFollowPostgres
import PGFollowTestSupport
import Testing

/// Faults and hostile data against the real cluster (a first part of the robustness catalogue).
@Suite(.serialized, Needs.cluster) struct FaultTests {
  @Test func killedAtRandomPointsTheFileIsAlwaysOldOrNewAndTheNextRunFinishes() throws {
    let fixture = try Fixture()
    // A run killed after saving the state leaves node1 applied; the file's change is then the
    // standby's alone, which would wait standby_settle. This test is about the write itself.
    try fixture.editConfig("state_directory:", "run: {standby_settle: 0s}\nstate_directory:")
    let old = Fixture.appText
    // One whole run, timed: the kills spread over that long (longer under the sanitizers). On a
    // loaded machine a probe may miss its 1 s deadline and the run hold; it is run again then.
    var started = Date()
    var first = try fixture.pgfollow("once")
    for _ in 0..<5 where try fixture.appValues() == old {
      started = Date()
      first = try fixture.pgfollow("once")
    }
    #expect(try fixture.appValues() != old, "the first run did not switch: \(first.output)")
    let window = max(60_000, Int(Date().timeIntervalSince(started) * 1_000_000))
    let new = try fixture.appValues()
    #expect(new != old)
    var sawOld = 0
    var sawNew = 0
    for trial in 0..<200 {
      try old.write(toFile: fixture.appFile, atomically: true, encoding: .utf8)
      try? FileManager.default.removeItem(atPath: fixture.directory + "/state/state.json")
      let process = Process()
      process.executableURL = URL(fileURLWithPath: Fixture.binary)
      process.arguments = ["once", "-c", fixture.configFile]
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try process.run()
      usleep(UInt32((trial * 7919) % window))
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      let text = try fixture.appValues()
      #expect(text == old || text == new, "trial \(trial): a half-written file")
      if text == old { sawOld += 1 } else { sawNew += 1 }
      let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.directory)
        .filter { $0.contains(".pgfollow-") }
      for name in leftovers {
        try FileManager.default.removeItem(atPath: fixture.directory + "/" + name)
      }
    }
    #expect(
      sawOld > 0 && sawNew > 0,
      "the kills did not spread over the run: old \(sawOld), new \(sawNew)")
    let restartsBefore = fixture.restarts().count
    let leftBehind = try FileManager.default.contentsOfDirectory(atPath: fixture.directory)
      .filter { $0.contains(".pgfollow-") }.count
    try old.write(toFile: fixture.appFile, atomically: true, encoding: .utf8)
    let finish = try fixture.pgfollow("once")
    #expect(finish.status == 2, "\(finish.output)")
    print(
      "kill trials: \(sawOld) left the old file, \(sawNew) the new; \(leftBehind) temporary files left behind, then removed"
    )
    #expect(try fixture.appValues() == new)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.directory)
      .filter { $0.contains(".pgfollow-") }
    #expect(leftovers.isEmpty, "temporary files left behind: \(leftovers)")
    let settled = try fixture.pgfollow("once")
    #expect(settled.status == 0, "\(settled.output)")
    #expect(fixture.restarts().count >= restartsBefore)
  }

  /// Node names with a quote before a combining mark and a backslash reach the query intact
  /// (escaped per Unicode scalar, not per Character) and are followed.
  @Test func nodeNamesWithQuotesAndCombiningMarksAreProbedIntact() throws {
    let fixture = try Fixture()
    let name = "n\"\u{304}\\1"
    try fixture.editConfig("name: node1", "name: '\(name)'")
    try Fixture.cluster(
      "sql", fixture.cluster,
      "node1 insert into failover_log values (extract(epoch from now())::int + 5, E'n\"\u{304}\\\\1')"
    )
    let result = try fixture.pgfollow("once")
    #expect(result.status == 2, "\(result.output)")
    #expect(
      result.output.contains("names \(name), which is reachable and writable"), "\(result.output)")
  }

  @Test func hostileRowsAreIgnoredAndNeverReachTheFile() throws {
    let fixture = try Fixture()
    let kilobytes = String(repeating: "x", count: 4000)
    try Fixture.cluster(
      "sql", fixture.cluster,
      "node1 alter table failover_log alter column host type text; "
        + "insert into failover_log values (null, 'node2'), (2000000000, null), (2000000002, ''), "
        + "(2100000000, E'evil\\nhost: \"x\" # y'), (2100000001, '\(kilobytes)'), (-5, 'node2')")
    let result = try fixture.pgfollow("once")
    #expect(result.status == 2, "\(result.output)")
    #expect(result.output.contains("leader node1"))
    #expect(result.output.contains("names a host that is not a configured node; ignored"))
    #expect(!result.output.contains("evil\nhost"))
    let text = try fixture.appValues()
    #expect(!text.contains("evil") && !text.contains("xxxx"))
    #expect(text.contains("{address: node2:5432, pool: 5}"))
    // A row from the far future naming the standby: held, said why, and nothing moves.
    try Fixture.cluster(
      "sql", fixture.cluster, "node1 insert into failover_log values (2147483647, 'node2')")
    try Fixture.cluster("sql", fixture.cluster, "node2 select pg_sleep(0.5)")
    let future = try fixture.pgfollow("once")
    #expect(future.status == 3, "\(future.output)")
    #expect(future.output.contains("(2147483647, node2)"), "\(future.output)")
    #expect(try fixture.appValues() == text)
  }
}

@Suite(.serialized, Needs.root) struct FileSystemFaultTests {
  @Test func fullAndReadOnlyFileSystemsGiveAClearErrorKeepTheFileAndRecover() throws {
    let fixture = try Fixture()
    let small = fixture.directory + "/small"
    try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: false)
    let mount = try SmallFileSystem(at: small)
    defer { mount.unmount() }
    let appFile = small + "/app.yaml"
    try Fixture.appText.write(toFile: appFile, atomically: false, encoding: .utf8)
    try fixture.editConfig("file: app.yaml", "file: small/app.yaml")
    // The read-only case below puts the standby's old value back: apply it at once.
    try fixture.editConfig("state_directory:", "run: {standby_settle: 0s}\nstate_directory:")

    _ = try run("/bin/sh", ["-c", "cat /dev/zero > '\(small)/filler'"], timeout: 30)
    let full = try fixture.pgfollow("once")
    #expect(full.status == 6, "\(full.output)")
    #expect(full.output.contains("No space left on device"), "\(full.output)")
    #expect(try String(contentsOfFile: appFile, encoding: .utf8) == Fixture.appText)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: small).sorted() == ["app.yaml", "filler"])
    try FileManager.default.removeItem(atPath: small + "/filler")
    #expect(try fixture.pgfollow("once").status == 2)
    let switched = try String(contentsOfFile: appFile, encoding: .utf8)
    #expect(switched != Fixture.appText)

    try Fixture.appText.write(toFile: appFile, atomically: false, encoding: .utf8)
    #expect(try run("/bin/mount", ["-o", "remount,ro", small], timeout: 30).status == 0)
    let readOnly = try fixture.pgfollow("once")
    #expect(readOnly.status == 6, "\(readOnly.output)")
    #expect(readOnly.output.contains("Read-only file system"), "\(readOnly.output)")
    #expect(fixture.restarts().count == 1, "restarted for a file that was not written")
    #expect(try String(contentsOfFile: appFile, encoding: .utf8) == Fixture.appText)
    #expect(try run("/bin/mount", ["-o", "remount,rw", small], timeout: 30).status == 0)
    #expect(try fixture.pgfollow("once").status == 2)
    #expect(try String(contentsOfFile: appFile, encoding: .utf8) == switched)
  }
}

/// A change of leader the sidecar cannot write: said as a failure with its cause, claimed
/// nowhere, tried again every cycle, and done once the file can be written.
@Suite(.serialized, Needs.root) struct FailedSwitchTests {
  @Test func aSwitchThatCannotBeWrittenIsAFailureRetriedUntilItIsDone() throws {
    let fixture = try Fixture()
    let small = fixture.directory + "/small"
    try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: false)
    let mount = try SmallFileSystem(at: small)
    defer { mount.unmount() }
    try Fixture.appText.write(toFile: small + "/app.yaml", atomically: false, encoding: .utf8)
    try fixture.editConfig("file: app.yaml", "file: small/app.yaml")
    #expect(try fixture.pgfollow("once").status == 2)
    let sidecar = try Sidecar(fixture: fixture)
    #expect(waitUntil(10) { sidecar.log.contains("leader node1") }, "\(sidecar.log)")
    #expect(try run("/bin/mount", ["-o", "remount,ro", small], timeout: 30).status == 0)
    try fixture.failOver()
    #expect(
      waitUntil(20) { sidecar.log.contains("cannot switch \(small)/app.yaml") }, "\(sidecar.log)")
    #expect(sidecar.log.contains("Read-only file system"), "\(sidecar.log)")
    usleep(1_500_000)
    let state = try String(
      contentsOfFile: fixture.directory + "/state/state.json", encoding: .utf8)
    #expect(state.contains("\"name\": \"node1\""), "the state claims the new leader: \(state)")
    let status = try fixture.pgfollow("status")
    #expect(status.output.contains("applied:  node1"), "\(status.output)")
    #expect(status.output.contains("the leader wants \"node2:5432\""), "\(status.output)")
    #expect(!sidecar.log.contains("dry run") && !sidecar.log.contains("waiting 10s"))
    #expect(fixture.restarts().count == 1, "restarted for a file that was not written")
    #expect(try run("/bin/mount", ["-o", "remount,rw", small], timeout: 30).status == 0)
    #expect(
      try waitUntil(20) {
        try String(contentsOfFile: small + "/app.yaml", encoding: .utf8).contains("node2:5432")
      }, "not tried again: \(sidecar.log)")
    #expect(waitUntil(10) { fixture.restarts().count == 2 }, "\(sidecar.log)")
    #expect(sidecar.stop() == 0)
  }
}

@Suite(.serialized, Needs.root) struct StateAndRestartFaultTests {
  @Test func unwritableStateDirectoryIsAClearErrorAndTouchesNothing() throws {
    let fixture = try Fixture()
    let state = fixture.directory + "/rostate"
    try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: false)
    let mount = try SmallFileSystem(at: state, readOnly: true)
    defer { mount.unmount() }
    try fixture.editConfig("state_directory: state", "state_directory: rostate")
    let result = try fixture.pgfollow("once")
    #expect(result.status == 8, "\(result.output)")
    #expect(result.output.contains("rostate/lock: cannot open the lock: Read-only file system"))
    #expect(try fixture.appValues() == Fixture.appText)
    #expect(fixture.restarts().isEmpty)
  }

  @Test func aHangingRestartIsKilledAtItsTimeoutAndRetried() throws {
    let fixture = try Fixture()
    try fixture.setSystemctl(exitCode: 0, sleepSeconds: 30)
    try fixture.editConfig("timeout: 10s", "timeout: 500ms")
    let hung = try fixture.pgfollow("once", timeout: 20)
    #expect(!hung.killed)
    #expect(hung.status == 7, "\(hung.output)")
    #expect(hung.output.contains("restart of app.service failed: timed out and was killed"))
    try fixture.setSystemctl(exitCode: 0)
    let retried = try fixture.pgfollow("once")
    #expect(retried.status == 2, "\(retried.output)")
    #expect(try fixture.pgfollow("once").status == 0)
  }
}

/// libpq's messages about a bad conninfo quote parts of it; pgfollow masks every quoted part,
/// also when the secret starts with a combining mark (which merges with the quote into one
/// Character).
@Suite struct ConninfoMaskingTests {
  /// The secret is hidden, not the message: keywords and punctuation stay as libpq wrote them.
  @Test func theMessageKeepsKeywordsAndPunctuation() {
    #expect(
      Conninfo.problem("host=x user") == #"missing "=" after "user" in connection info string"#)
    #expect(
      Conninfo.problem("host=x password=hunter22 junk")
        == #"missing "=" after "…" in connection info string"#)
  }

  @Test func secretsStayMaskedBehindCombiningMarks() {
    let conninfos = [
      "host=x \u{304}hunter22", "host=x password=\u{304}hunter22 junk", "\u{304}hunter22=1",
      "host=x password='\u{304}hunter22",
    ]
    for conninfo in conninfos {
      let problem = Conninfo.problem(conninfo)
      #expect(problem != nil, "\(conninfo)")
      #expect(!(problem ?? "").contains("hunter22"), "\(problem ?? "")")
    }
  }
}
