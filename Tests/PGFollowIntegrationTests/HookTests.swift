import Foundation
import PGFollowTestSupport
import Testing

/// Hooks run when the leader changes, with the leaders in their environment.
@Suite(.serialized, Needs.cluster) struct HookTests {
  @Test func hooksRunOncePerChangeInOrderAndFailuresAreRetriedThenGivenUp() throws {
    let fixture = try Fixture()
    let record = fixture.directory + "/hooks.log"
    let hook = """
      #!/bin/sh
      echo "$1 leader=$PGFOLLOW_LEADER address=$PGFOLLOW_LEADER_ADDRESS previous=$PGFOLLOW_PREVIOUS_LEADER restarts=$(cat '\(fixture.restartLog)' 2>/dev/null | grep -c start)" >> '\(record)'
      [ "$1" != failing ]

      """
    try hook.write(toFile: fixture.directory + "/hook", atomically: true, encoding: .utf8)
    chmod(fixture.directory + "/hook", 0o755)
    try fixture.editConfig(
      "state_directory:",
      """
      hooks:
        - command: [./hook, before]
          when: before-restart
        - command: [./hook, after]
        - command: [./hook, failing]
          attempts: 2
          retry_after: 5s
      state_directory:
      """)
    func lines() -> [String] {
      ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").split(separator: "\n").map(
        String.init)
    }

    let dryRun = try fixture.pgfollow("once", "--dry-run")
    #expect(
      dryRun.output.contains("would run hook: \(fixture.directory)/hook before"), "\(dryRun.output)"
    )
    #expect(lines().isEmpty)

    #expect(try fixture.pgfollow("once").status == 2)
    #expect(
      lines() == [
        "before leader=node1 address=node1:5432 previous= restarts=0",
        "after leader=node1 address=node1:5432 previous= restarts=1",
        "failing leader=node1 address=node1:5432 previous= restarts=1",
      ])
    // Its retry waits `retry_after` (5 s; ample under the sanitizers): a run before then does
    // not try it.
    let early = try fixture.pgfollow("once")
    #expect(lines().count == 3, "\(early.output)")
    let status = try fixture.pgfollow("status")
    #expect(
      status.output.contains("/hook failing (failure 1 of 2; next try in"), "\(status.output)")
    usleep(5_100_000)
    let second = try fixture.pgfollow("once")
    #expect(
      second.output.contains("/hook failing: exited with status 1; gave up after 2 failures"))
    #expect(lines().count == 4)
    _ = try fixture.pgfollow("once")
    #expect(lines().count == 4, "a hook ran without a change of leader")

    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote", "node2")
    #expect(try fixture.pgfollow("once").status == 2)
    #expect(
      Array(lines().suffix(3)) == [
        "before leader=node2 address=node2:5432 previous=node1 restarts=1",
        "after leader=node2 address=node2:5432 previous=node1 restarts=2",
        "failing leader=node2 address=node2:5432 previous=node1 restarts=2",
      ])
  }
}
