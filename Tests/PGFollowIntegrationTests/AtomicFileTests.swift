import Foundation
import PGFollowSystem
import PGFollowTestSupport
import Testing

@testable import PGFollowDaemon

@Suite(Needs.root) struct AtomicFileTests {
  @Test func replacesThroughASymlinkKeepingModeAndOwner() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.createDirectory(
      atPath: directory + "/real", withIntermediateDirectories: false)
    let real = directory + "/real/app.yaml"
    try "a: 1\n".write(toFile: real, atomically: false, encoding: .utf8)
    chmod(real, 0o640)
    chown(real, 65534, 65534)
    let link = directory + "/app.yaml"
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real/app.yaml")

    let snapshot = try readSnapshot(link)
    try replaceAtomically(snapshot, with: Array("a: 2\n".utf8))

    #expect(try String(contentsOfFile: real, encoding: .utf8) == "a: 2\n")
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "real/app.yaml")
    var info = stat()
    stat(real, &info)
    #expect(info.st_mode & 0o7777 == 0o640)
    #expect(info.st_uid == 65534 && info.st_gid == 65534)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory + "/real")
    #expect(leftovers == ["app.yaml"])
  }

  @Test func refusesWhenTheFileChangedSinceItWasRead() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/app.yaml"
    try "a: 1\n".write(toFile: path, atomically: false, encoding: .utf8)
    let snapshot = try readSnapshot(path)
    try "a: 3 # edited by hand\n".write(toFile: path, atomically: false, encoding: .utf8)
    #expect(throws: FileError.self) { try replaceAtomically(snapshot, with: Array("a: 2\n".utf8)) }
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "a: 3 # edited by hand\n")
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["app.yaml"])
  }

  @Test func missingFileNamesThePath() {
    #expect(throws: FileError.self) { try readSnapshot("/nonexistent/app.yaml") }
    do {
      _ = try readSnapshot("/nonexistent/app.yaml")
    } catch {
      #expect(
        error.description == "/nonexistent/app.yaml: cannot resolve: No such file or directory")
    }
  }

  @Test func processRunnerKillsAtTimeoutAndReportsFailures() {
    let slow = runProcess(["sleep", "30"], timeout: .milliseconds(200))
    #expect(slow.termination == .timedOut)
    let failing = runProcess(["sh", "-c", "echo oops >&2; exit 3"], timeout: .seconds(10))
    #expect(failing.termination == .exited(3))
    #expect(failing.output == "oops")
    let missing = runProcess(["/nonexistent/systemctl"], timeout: .seconds(1))
    #expect(missing.succeeded == false)
  }
}
