import Foundation
import PGFollowTestSupport
import Testing

/// `pgfollow record` and `pgfollow init` against the real cluster, and the whole chain.
@Suite(.serialized, Needs.cluster) struct WriterTests {
  @Test func chainFromAKilledPrimaryToTheRestartedApplication() throws {
    let fixture = try Fixture()
    let (sidecar, notify) = try Sidecar.notifying(fixture)
    #expect(notify.waitFor("READY=1"), "\(sidecar.log)")
    #expect(waitUntil(10) { fixture.restarts().count == 1 }, "the start-up reconcile")
    let restartsBefore = fixture.restarts().count
    usleep(2_500_000)  // past the restart spacing after the start-up reconcile, as in steady state
    let start = Date()
    func at() -> String { String(format: "+%.3fs", Date().timeIntervalSince(start)) }
    var timeline = ["kill node1 \(at())"]
    try fixture.clusterCommand("kill", "node1")

    let record = Process()
    record.executableURL = URL(fileURLWithPath: Fixture.binary)
    record.arguments = [
      "record", "--conninfo",
      "host=127.0.0.1 port=\(try fixture.port("node2")) dbname=pg_state user=postgres",
      "--name", "node2", "--wait", "30s",
    ]
    let output = Pipe()
    record.standardOutput = output
    try record.run()
    timeline.append("record started on the standby \(at())")
    usleep(800_000)
    #expect(record.isRunning, "record did not wait for the promotion")

    timeline.append("promote node2 \(at())")
    try fixture.clusterCommand("promote-only", "node2")
    timeline.append("promoted \(at())")
    record.waitUntilExit()
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    timeline.append("row committed, record exited \(record.terminationStatus) \(at())")
    #expect(record.terminationStatus == 0, "\(printed)")
    #expect(printed.contains("waiting for the promotion to finish"))
    #expect(printed.contains("recorded ("), "\(printed)")

    #expect(
      try waitUntil(20) { try fixture.appValues().contains("address: node2:5432   # the primary") },
      "\(sidecar.log)")
    timeline.append("YAML switched \(at())")
    #expect(waitUntil(20) { fixture.restarts().count == restartsBefore + 1 }, "\(sidecar.log)")
    timeline.append("application restarted \(at())")
    print("chain timeline: " + timeline.joined(separator: "; "))
    let stopped = sidecar.stop()
    #expect(stopped == 0, "\(sidecar.log)")
  }

  @Test func recordChecksTheNameTheTableAndIsIdempotent() throws {
    let fixture = try Fixture()
    let conninfo = "host=127.0.0.1 port=\(try fixture.port("node1")) dbname=pg_state user=postgres"
    let long = try run(
      Fixture.binary, ["record", "--conninfo", conninfo, "--name", "a-very-long-hostname"],
      timeout: 60)
    #expect(long.status == 11, "\(long.output)")
    #expect(long.output.contains("is character varying(10) (at most 10)"))

    let missing = try run(
      Fixture.binary, ["record", "--conninfo", conninfo, "--name", "node1", "--table", "nope"],
      timeout: 60)
    #expect(missing.status == 12)
    #expect(missing.output.contains("the table nope does not exist (create it with pgfollow init)"))

    let first = try run(
      Fixture.binary, ["record", "--conninfo", conninfo, "--name", "node2"], timeout: 60)
    #expect(first.status == 0 && first.output.contains("recorded ("), "\(first.output)")
    let again = try run(
      Fixture.binary, ["record", "--conninfo", conninfo, "--name", "node2"], timeout: 60)
    #expect(
      again.status == 0 && again.output.contains("already names this node"), "\(again.output)")
    let rows = try Fixture.cluster(
      "sql", fixture.cluster, "node1 select count(*) from failover_log")
    #expect(rows.output.trimmingCharacters(in: .whitespacesAndNewlines) == "2")

    let standby = "host=127.0.0.1 port=\(try fixture.port("node2")) dbname=pg_state user=postgres"
    let timeout = try run(
      Fixture.binary, ["record", "--conninfo", standby, "--name", "node2", "--wait", "1s"],
      timeout: 60)
    #expect(timeout.status == 10, "\(timeout.output)")

    let hook = try run(
      Fixture.binary,
      ["record", "--conninfo", conninfo, "--patroni", "on_role_change", "replica", "c"],
      timeout: 60)
    #expect(hook.status == 0 && hook.output.contains("not a promotion"))
  }

  @Test func initCreatesTheWideSchemaIdempotentlyAndTheReaderFollowsIt() throws {
    let fixture = try Fixture()
    let admin = "host=127.0.0.1 port=\(try fixture.port("node1")) dbname=postgres user=postgres"
    let arguments = [
      "init", "--conninfo", admin, "--database", "pg_wide", "--wide", "--grant", "pgfollow",
      "--connection-limit", "7",
    ]
    let first = try run(Fixture.binary, arguments, timeout: 60)
    #expect(first.status == 0, "\(first.output)")
    #expect(first.output.contains("created database pg_wide"))
    #expect(first.output.contains("ALTER ROLE \"pgfollow\" LOGIN CONNECTION LIMIT 7"))
    let role = try Fixture.cluster(
      "sql", fixture.cluster,
      "node1 select rolconnlimit, rolsuper from pg_roles where rolname = 'pgfollow'")
    #expect(role.output.trimmingCharacters(in: .whitespacesAndNewlines) == "7|f")
    let created = try run(
      Fixture.binary,
      ["init", "--conninfo", admin, "--grant", "watcher2", "--connection-limit", "3"], timeout: 60)
    #expect(created.status == 0, "\(created.output)")
    #expect(created.output.contains("CREATE ROLE \"watcher2\" LOGIN NOSUPERUSER"))
    let superuser = try run(
      Fixture.binary,
      ["init", "--conninfo", admin, "--grant", "postgres", "--connection-limit", "3"], timeout: 60)
    #expect(superuser.status != 0)
    #expect(
      superuser.output.contains("postgres is a superuser: superusers escape CONNECTION LIMIT"))
    let second = try run(Fixture.binary, arguments, timeout: 60)
    #expect(second.status == 0 && second.output.contains("database pg_wide exists"))
    let dryRun = try run(Fixture.binary, arguments + ["--dry-run"], timeout: 60)
    #expect(
      dryRun.output.contains(
        "CREATE TABLE IF NOT EXISTS \"failover_log\" (\"unixtime\" bigint, \"host\" text);"))

    try fixture.editConfig("dbname=pg_state", "dbname=pg_wide")
    let wide = "host=127.0.0.1 port=\(try fixture.port("node1")) dbname=pg_wide user=postgres"
    // A fresh table: the dry run names the missing first row and the command that records it.
    let fresh = try fixture.pgfollow("once", "--dry-run")
    #expect(fresh.status == 3, "\(fresh.output)")
    #expect(fresh.output.contains("run `pgfollow record --name node1` on node1"), "\(fresh.output)")
    let recorded = try run(
      Fixture.binary, ["record", "--conninfo", wide, "--name", "node2"], timeout: 60)
    #expect(recorded.status == 0, "\(recorded.output)")
    // node2 is named by the newest row but is a standby: hold. Then node1 records itself.
    #expect(try fixture.pgfollow("once").status == 3)
    #expect(
      try run(Fixture.binary, ["record", "--conninfo", wide, "--name", "node1"], timeout: 60).status
        == 0)
    let followed = try fixture.pgfollow("once")
    #expect(followed.status == 2, "\(followed.output)")
    #expect(followed.output.contains("leader node1"))
  }

  /// The writer's first-hour mistakes say what to do: `record` with the watchers' read-only
  /// role, and `init --grant` naming a role that does not exist (checked before anything is
  /// created).
  @Test func writerMistakesSayWhatToDo() throws {
    let fixture = try Fixture()
    try Fixture.cluster("sql", fixture.cluster, "node1 create role reader login")
    try Fixture.cluster("sql", fixture.cluster, "node1 grant select on failover_log to reader")
    let port = try fixture.port("node1")
    let reader = "host=127.0.0.1 port=\(port) dbname=pg_state user=reader"
    let denied = try run(
      Fixture.binary, ["record", "--conninfo", reader, "--name", "node1", "--wait", "1s"],
      timeout: 60)
    #expect(denied.status == 12, "\(denied.output)")
    #expect(
      denied.output.contains(
        "it needs a role with INSERT on failover_log, granted by "
          + "`pgfollow init --grant-writer ROLE`"), "\(denied.output)")
    #expect(!denied.output.contains("permission denied: permission denied"))

    let admin = "host=127.0.0.1 port=\(port) dbname=postgres user=postgres"
    let missing = try run(
      Fixture.binary,
      ["init", "--conninfo", admin, "--database", "pg_norole", "--grant", "nosuchrole"],
      timeout: 60)
    #expect(missing.status == 12, "\(missing.output)")
    #expect(
      missing.output.contains("no role named nosuchrole: create it first"), "\(missing.output)")
    let databases = try Fixture.cluster(
      "sql", fixture.cluster, "node1 select count(*) from pg_database where datname = 'pg_norole'")
    #expect(databases.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
  }
}

/// The README's "First setup", run as written: steps 1–3, 5 and 6 (4 is editing a file, which the
/// test does for it; 7 is the unit, which the systemd tests cover), on a cluster whose pg_state
/// has been dropped, as on a fresh install.
@Suite(.serialized, Needs.cluster) struct FirstSetupTests {
  @Test func theReadmeFirstSetupWorksAsWritten() throws {
    let fixture = try Fixture()
    let port1 = try fixture.port("node1")
    let port2 = try fixture.port("node2")
    let admin = "host=127.0.0.1 port=\(port1) dbname=postgres user=postgres"
    #expect(
      try run("/usr/bin/psql", [admin, "-c", "DROP DATABASE pg_state"], timeout: 60).status == 0)
    let config = fixture.directory + "/setup.yaml"
    try """
    nodes:
      - name: db01
        conninfo: host=127.0.0.1 port=\(port1) dbname=pg_state user=pgfollow password=change-me
        address: db01:5432
      - name: db02
        conninfo: host=127.0.0.1 port=\(port2) dbname=pg_state user=pgfollow password=change-me
        address: db02:5432
    app:
      file: app.yaml
      set:
        db_master[0].address: "{leader.address}"
    restart: {units: app.service, systemctl: ./systemctl}
    metrics: {listen: off}
    state_directory: state

    """.write(toFile: config, atomically: false, encoding: .utf8)

    // Root and the cluster's trust over TCP stand for postgres over the socket.
    let commands = try firstSetupCommands(steps: [0, 1, 2, 3, 5, 6]).map { line in
      line.replacing("host=/var/run/postgresql", with: "host=127.0.0.1 port=\(port1) user=postgres")
        .replacing("runuser -u postgres -- ", with: "")
        .replacing("/etc/pgfollow/pgfollow.yaml", with: config)
    }
    #expect(commands.count == 7, "\(commands)")
    let binaries = URL(fileURLWithPath: Fixture.binary).deletingLastPathComponent().path
    let script = "set -e\nexport PATH='\(binaries)':\"$PATH\"\n" + commands.joined(separator: "\n")
    let result = try run("/bin/bash", ["-c", script], timeout: 300)
    #expect(result.status == 2, "the dry run should say it would switch: \(result.output)")
    #expect(result.output.contains("leader:   db01 (db01:5432)"), "\(result.output)")
    #expect(result.output.contains("would run: \(fixture.directory)/systemctl restart app.service"))
  }
}
