import Foundation
import PGFollowTestSupport
import Testing

/// An app's `check` runs against the new file before it replaces the old one, and `backup`
/// keeps the old one beside it.
@Suite(.serialized, Needs.cluster) struct CheckAndBackupTests {
  /// A check that refuses a file whose primary is node2: the failover is not applied, nothing is
  /// restarted onto the refused file, the refusal is logged with the check's output, and each
  /// next run tries again; once the check accepts, the file switches.
  @Test func aRefusedFileNeverReplacesTheOldOneAndIsTriedAgain() throws {
    let fixture = try Fixture()
    let checker = fixture.directory + "/check"
    try """
    #!/bin/sh
    # Refuses a file whose primary is node2, unless allowed.
    if grep -q "address: node2:5432   # the primary" "$1" && [ ! -e "$(dirname "$0")/allow" ]; then
      echo "node2 is not in our allow-list" >&2
      exit 3
    fi
    """.write(toFile: checker + ".source", atomically: false, encoding: .utf8)
    chmod(checker + ".source", 0o755)
    // Copied by a child process: a file this process wrote could still be open for writing in a
    // child that another test forked meanwhile, and running it would fail ("Text file busy").
    try copyExecutable(checker + ".source", to: checker)
    try fixture.editConfig(
      "  file: app.yaml\n",
      "  file: app.yaml\n  check: {command: [./check, \"{file}\"], timeout: 3s}\n  backup: true\n")
    #expect(try fixture.pgfollow("once").status == 2)
    let before = try fixture.appValues()

    try fixture.failOver()
    for _ in 0..<2 {
      let refused = try fixture.pgfollow("once")
      print("once with a refusing check:\n\(refused.output)")
      #expect(refused.status == 6, "\(refused.output)")
      #expect(
        refused.output.contains("the check refused the new \(fixture.appFile)"), "\(refused.output)"
      )
      #expect(refused.output.contains("exited with status 3"), "\(refused.output)")
      #expect(refused.output.contains("node2 is not in our allow-list"), "\(refused.output)")
      #expect(try fixture.appValues() == before)
      #expect(fixture.restarts().count == 1, "nothing restarted onto a refused file")
    }
    let dryRun = try fixture.pgfollow("once", "--dry-run")
    #expect(dryRun.output.contains("check:    \(fixture.directory)/check "), "\(dryRun.output)")
    #expect(dryRun.output.contains(": refused, exited with status 3"), "\(dryRun.output)")
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.directory)
      .filter { $0.hasPrefix(".pgfollow-check-") }
    #expect(leftovers.isEmpty, "the checked copies are removed: \(leftovers)")

    try "".write(toFile: fixture.directory + "/allow", atomically: false, encoding: .utf8)
    let accepted = try fixture.pgfollow("once")
    #expect(accepted.status == 2, "\(accepted.output)")
    #expect(try fixture.masterAddress() == "node2:5432")
    #expect(fixture.restarts().count == 2)
    // The previous file is kept beside the new one, with its mode.
    let previous = fixture.appFile + ".pgfollow-previous"
    #expect(try String(contentsOfFile: previous, encoding: .utf8) == before)
    let mode = { (path: String) in
      (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }
    #expect(try mode(previous) == mode(fixture.appFile))
  }

  /// A check whose program is missing would refuse every failover: check-config says so.
  @Test func checkConfigRefusesAMissingCheckProgram() throws {
    let fixture = try Fixture()
    try fixture.editConfig(
      "  file: app.yaml\n",
      "  file: app.yaml\n  check: {command: [/nonexistent/check, \"{file}\"]}\n")
    let result = try fixture.pgfollow("check-config", "--skip-nodes")
    #expect(result.status == 5, "\(result.output)")
    #expect(
      result.output.contains("the check's program /nonexistent/check is missing or not executable"),
      "\(result.output)")
  }
}
