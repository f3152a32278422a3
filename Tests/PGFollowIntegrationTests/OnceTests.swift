import Foundation
import PGFollowTestSupport
import Testing

/// `pgfollow once` against real PostgreSQL servers in streaming replication.
@Suite(.serialized, Needs.cluster) struct OnceTests {
  @Test func normalStateFollowsThePrimaryAndThenStaysInSync() throws {
    let fixture = try Fixture()
    let first = try fixture.pgfollow("once")
    #expect(first.status == 2, "\(first.output)")
    let expected = Fixture.appText
      .replacingOccurrences(of: "{address: node1:5432", with: "{address: node2:5432")
    #expect(try fixture.appValues() == expected)
    #expect(fixture.restarts() == ["start restart -- app.service"])

    let second = try fixture.pgfollow("once")
    #expect(second.status == 0, "\(second.output)")
    #expect(fixture.restarts().count == 1)
    #expect(!first.output.contains("topsecret") && !second.output.contains("topsecret"))
  }

  @Test func dryRunPrintsLeaderEvidenceAndDiffAndChangesNothing() throws {
    let fixture = try Fixture()
    let result = try fixture.pgfollow("once", "--dry-run")
    #expect(result.status == 2, "\(result.output)")
    #expect(result.output.contains("leader:   node1 (node1:5432)"))
    #expect(result.output.contains("node2  node2:5432  yes        standby"))
    #expect(result.output.contains("-  - {address: node1:5432, pool: 5}"))
    #expect(result.output.contains("+  - {address: node2:5432, pool: 5}"))
    #expect(
      result.output.contains("would run: \(fixture.directory)/systemctl restart app.service"),
      "the configured systemctl: \(result.output)")
    #expect(try fixture.appValues() == Fixture.appText)
    #expect(fixture.restarts().isEmpty)
    #expect(!FileManager.default.fileExists(atPath: fixture.directory + "/state/state.json"))
  }

  @Test func failoverSwitchesTheFileAndRestarts() throws {
    let fixture = try Fixture()
    #expect(try fixture.pgfollow("once").status == 2)
    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote", "node2")
    let result = try fixture.pgfollow("once")
    #expect(result.status == 2, "\(result.output)")
    let text = try fixture.appValues()
    #expect(text.contains("  - address: node2:5432   # the primary\n"))
    #expect(text.contains("  - {address: node2:5432, pool: 5}\n"))
    #expect(text.contains("cache: &cache {ttl: 30}\nother: *cache\n"))
    #expect(fixture.restarts() == ["start restart -- app.service", "start restart -- app.service"])
  }

  @Test func hungNodeCostsOnlyItsDeadline() throws {
    let listener = try HungListener()
    let fixture = try Fixture(extraNodes: [("hung", listener.port)])
    try fixture.writeConfig(
      nodes: 2, extraNodes: [("hung", listener.port)], timeouts: "connect: 1s\n  query: 1s")
    // Without deadlines libpq would wait forever; the test allows 60 s before killing it.
    let result = try fixture.pgfollow("once", "--dry-run", timeout: 60)
    #expect(!result.killed)
    #expect(result.status == 2, "\(result.output)")
    #expect(result.output.contains("leader:   node1"))
    let hungLine = result.output.split(separator: "\n").first { $0.hasPrefix("hung") }
    #expect(hungLine?.contains("timeout") == true, "\(result.output)")
  }

  @Test func bothNodesDownHoldsAndKeepsTheFile() throws {
    let fixture = try Fixture()
    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("kill", "node2")
    let result = try fixture.pgfollow("once")
    #expect(result.status == 3, "\(result.output)")
    #expect(result.output.contains("holding: no node is reachable"))
    #expect(try fixture.appValues() == Fixture.appText)
    #expect(fixture.restarts().isEmpty)
  }

  @Test func staleOldPrimaryThatComesBackIsNotFollowed() throws {
    let fixture = try Fixture()
    #expect(try fixture.pgfollow("once").status == 2)
    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote", "node2")
    #expect(try fixture.pgfollow("once").status == 2)
    let switched = try fixture.appValues()
    #expect(switched.contains("address: node2:5432   # the primary"))

    // node1 comes back as a writable primary with its old row: split brain, no switch back.
    try fixture.clusterCommand("restart", "node1")
    let split = try fixture.pgfollow("once")
    #expect(split.status == 4, "\(split.output)")
    #expect(split.output.contains("SPLIT BRAIN: node1 and node2"))
    #expect(try fixture.appValues() == switched)

    // node2 goes away: only the stale node1 is visible, on the timeline node2 left behind.
    try fixture.clusterCommand("kill", "node2")
    let stale = try fixture.pgfollow("once")
    #expect(stale.status == 3, "\(stale.output)")
    #expect(
      stale.output.contains(
        "names node1, which is on timeline 1, earlier than the timeline 2 of node2"),
      "\(stale.output)")
    #expect(try fixture.appValues() == switched)
    #expect(fixture.restarts().count == 2)
  }

  @Test func failedRestartIsRetriedOnTheNextRun() throws {
    let fixture = try Fixture(systemctlExit: 1)
    let failed = try fixture.pgfollow("once")
    #expect(failed.status == 7, "\(failed.output)")
    #expect(failed.output.contains("restart of app.service failed: exited with status 1"))
    #expect(try fixture.appValues().contains("{address: node2:5432"))

    let stillFailing = try fixture.pgfollow("once")
    #expect(stillFailing.status == 7)

    try fixture.setSystemctl(exitCode: 0)
    let retried = try fixture.pgfollow("once")
    #expect(retried.status == 2, "\(retried.output)")
    #expect(fixture.restarts().count == 3)
    let settled = try fixture.pgfollow("once")
    #expect(settled.status == 0, "\(settled.output)")
    #expect(fixture.restarts().count == 3)
  }

  @Test func concurrentRunsAreSerialized() throws {
    let fixture = try Fixture(systemctlExit: 1)
    try fixture.setSystemctl(exitCode: 1, sleepSeconds: 0.5)
    let results = Mutexed([RunResult]())
    DispatchQueue.concurrentPerform(iterations: 3) { _ in
      if let result = try? fixture.pgfollow("once") {
        results.update { $0.append(result) }
      }
    }
    #expect(results.get().map(\.status) == [7, 7, 7], "\(results.get().map(\.output))")
    let log = try String(contentsOfFile: fixture.restartLog, encoding: .utf8)
      .split(separator: "\n").map { $0.hasPrefix("start") ? "start" : String($0) }
    #expect(log == ["start", "end", "start", "end", "start", "end"])
  }
}

@Suite(.serialized, Needs.cluster) struct OnceErrorTests {
  @Test func missingPathInTheAppFileIsAWriteErrorWithItsPlace() throws {
    let fixture = try Fixture()
    try fixture.editConfig("db_slave[0].address", "db_slave[0].host")
    let result = try fixture.pgfollow("once")
    #expect(result.status == 6, "\(result.output)")
    #expect(result.output.contains("app.yaml:7:5: no key \"host\" in db_slave[0]"))
    #expect(try fixture.appValues() == Fixture.appText)
    #expect(fixture.restarts().isEmpty)
  }

  /// A database, table or column that does not exist, or a missing grant: every node is named
  /// with PostgreSQL's message and what to do; pgfollow holds and touches nothing.
  @Test func setupErrorsHoldAndNameTheNodeAndTheFix() throws {
    let fixture = try Fixture()
    try Fixture.cluster("sql", fixture.cluster, "node1 create role reader login")
    let cases: [(edit: (String, String), section: String, message: String)] = [
      (("dbname=pg_state", "dbname=nope"), "", "FATAL:  database \"nope\" does not exist"),
      (
        ("", ""), "state_table: {table: nope}",
        "relation \"nope\" does not exist (create it with `pgfollow init`, or name the right one in state_table.table)"
      ),
      (
        ("", ""), "state_table: {host_column: hostname}",
        "column t.hostname does not exist (state_table.timestamp_column and host_column must name columns of failover_log)"
      ),
      (
        ("user=pgfollow", "user=reader"), "",
        "permission denied for table failover_log (grant SELECT on failover_log to this node's user, e.g. with `pgfollow init --grant USER`)"
      ),
    ]
    for item in cases {
      try fixture.writeConfig(nodes: 2, policy: item.section)
      if !item.edit.0.isEmpty { try fixture.editConfig(item.edit.0, item.edit.1) }
      let result = try fixture.pgfollow("once")
      #expect(result.status == 3, "\(result.output)")
      for node in ["node1", "node2"] {
        #expect(result.output.contains("node \(node) unreachable: "), "\(result.output)")
      }
      #expect(result.output.contains(item.message), "\(result.output)")
      #expect(!result.output.contains("topsecret"))
      #expect(try fixture.appValues() == Fixture.appText)
      #expect(fixture.restarts().isEmpty)
    }
  }

  /// A configuration file its user may not read, or that is missing: exit 5, the file named.
  /// Root runs it as nobody.
  @Test(Needs.root) func unreadableOrMissingConfigIsExitFiveNamingTheFile() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let binary = directory + "/pgfollow"
    try copyExecutable(Fixture.binary, to: binary)
    let config = directory + "/pgfollow.yaml"
    try "nodes: []\n".write(toFile: config, atomically: false, encoding: .utf8)
    chmod(config, 0o600)
    let asNobody = ["-u", "nobody", "--", binary, "check-config", "-c"]
    let locked = try run("/usr/sbin/runuser", asNobody + [config], timeout: 30)
    #expect(locked.status == 5, "\(locked.output)")
    #expect(locked.output.contains("\(config): cannot open: Permission denied (as nobody: "))
    #expect(locked.output.contains("chgrp pgfollow \(config) && chmod 0640 \(config)"))
    let missing = try run("/usr/sbin/runuser", asNobody + [directory + "/nope.yaml"], timeout: 30)
    #expect(missing.status == 5, "\(missing.output)")
    #expect(missing.output.contains("\(directory)/nope.yaml: cannot resolve: No such file"))
  }

  @Test func invalidConfigExitsFiveAndHidesSecrets() throws {
    let fixture = try Fixture()
    try fixture.editConfig("password=topsecret", "password=topsecret junk")
    let result = try fixture.pgfollow("check-config")
    #expect(result.status == 5, "\(result.output)")
    #expect(result.output.contains("pgfollow.yaml:3:15: nodes[0].conninfo is invalid"))
    #expect(!result.output.contains("topsecret"))
  }
}

/// The cron loop's controls, against the real cluster: they last from one run to the next.
@Suite(.serialized, Needs.cluster) struct OnceControlsTests {
  /// The standby is stopped and started again between runs, four times: after the first run
  /// (which points db_slave at it) the application is never restarted, because a change that
  /// keeps the leader must last run.standby_settle (10 s) across runs, as in the sidecar.
  @Test func aStandbyStoppedAndStartedBetweenRunsRestartsNothing() throws {
    let fixture = try Fixture()
    #expect(try fixture.pgfollow("once").status == 2)
    #expect(fixture.restarts().count == 1)
    let synced = try fixture.appValues()
    for _ in 0..<4 {
      try fixture.clusterCommand("kill", "node2")
      let down = try fixture.pgfollow("once")
      #expect(down.status == 0, "\(down.output)")
      #expect(down.output.contains("a standby changed; waiting 10s"), "\(down.output)")
      try fixture.clusterCommand("restart", "node2")
      #expect(
        try waitUntil(20) {
          try fixture.pgfollow("status").output.contains("standby:  node2")
        })
      #expect(try fixture.pgfollow("once").status == 0)
    }
    #expect(fixture.restarts().count == 1, "a flapping standby restarted the application")
    #expect(try fixture.appValues() == synced)
    let state = try String(
      contentsOfFile: fixture.directory + "/state/state.json", encoding: .utf8)
    #expect(!state.contains("\"unsettled\""), "the settle wait was not cleared: \(state)")
  }
}
