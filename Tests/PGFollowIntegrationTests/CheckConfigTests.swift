import Foundation
import PGFollowTestSupport
import Testing

/// `check-config` fails for what can never work, at the configuration's line, with a suggestion.
@Suite struct CheckConfigTests {
  static func write(_ directory: String, file: String, path: String) throws -> String {
    try "# the application\ndatabases:\n  primary:\n    host: db01\n".write(
      toFile: directory + "/app.yaml", atomically: false, encoding: .utf8)
    let config = directory + "/pgfollow.yaml"
    try """
    nodes:
      - {name: db01, conninfo: "host=127.0.0.1 port=1", address: "db01:5432"}
    app:
      file: \(file)
      set:
        \(path): "{leader.host}"
    metrics: {listen: off}
    state_directory: state

    """.write(toFile: config, atomically: false, encoding: .utf8)
    return config
  }

  @Test func aPathThatDoesNotResolveFailsAtItsLineWithASuggestion() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let config = try Self.write(directory, file: "app.yaml", path: "database.primary.host")
    let result = try run(Fixture.binary, ["check-config", "--quiet", "-c", config], timeout: 60)
    #expect(result.status == 5, "\(result.output)")
    #expect(
      result.output.contains(
        "\(config):6:5: app.set: database.primary.host is not in the application's file: "
          + "\(directory)/app.yaml:2:1: no key \"database\" in the document root; "
          + "did you mean \"databases\"?"), "\(result.output)")
  }

  @Test func aMissingApplicationFileFailsAtItsLine() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let config = try Self.write(directory, file: "nope.yaml", path: "databases.primary.host")
    let result = try run(Fixture.binary, ["check-config", "-c", config], timeout: 60)
    #expect(result.status == 5, "\(result.output)")
    #expect(
      result.output.contains(
        "\(config):4:9: app.file: \(directory)/nope.yaml: cannot resolve: No such file"),
      "\(result.output)")
  }

  @Test func aGoodConfigurationPasses() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let config = try Self.write(directory, file: "app.yaml", path: "databases.primary.host")
    let result = try run(
      Fixture.binary, ["check-config", "--quiet", "--skip-nodes", "-c", config], timeout: 60)
    #expect(result.status == 0 && result.output.isEmpty, "\(result.output)")
  }

  /// Paths are shown normalised: `sub/../app.yaml` is the configuration's own directory.
  @Test func pathsAreShownNormalised() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.createDirectory(
      atPath: directory + "/sub", withIntermediateDirectories: false)
    let config = try Self.write(directory, file: "sub/../app.yaml", path: "databases.primary.host")
    let result = try run(
      Fixture.binary, ["check-config", "--skip-nodes", "-c", config], timeout: 60)
    #expect(result.status == 0, "\(result.output)")
    #expect(result.output.contains("app file: \(directory)/app.yaml\n"), "\(result.output)")
  }

  @Test func noSubcommandIsAUsageErrorNotASuccess() throws {
    let result = try run(Fixture.binary, [], timeout: 60)
    #expect(result.status == 64, "\(result.output)")
    #expect(result.output.contains("USAGE: pgfollow"), "\(result.output)")
  }

  /// Outside journald every log line starts with the time, in UTC to the millisecond.
  @Test func logLinesCarryATimestampOutsideTheJournal() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let config = try Self.write(directory, file: "app.yaml", path: "databases.primary.host")
    let result = try run(Fixture.binary, ["once", "--dry-run", "-c", config], timeout: 60)
    let logged = result.output.split(separator: "\n").filter { $0.contains(" pgfollow: ") }
    #expect(!logged.isEmpty, "\(result.output)")
    let stamp = try Regex(#"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z pgfollow: "#)
    #expect(logged.allSatisfy { $0.firstMatch(of: stamp) != nil }, "\(logged)")
  }
}

/// `check-config` logs in to every node: what cannot work is an error naming the node, a node
/// that does not answer now a warning, and no node answering an error.
@Suite(.serialized, Needs.cluster) struct CheckConfigNodeTests {
  /// node1 asks a password of the role `watcher` (SCRAM); the others trust loopback.
  private func fixtureWithPasswords() throws -> Fixture {
    let fixture = try Fixture()
    try fixture.clusterCommand(
      "sql", "node1",
      "create role watcher login password 'right'; grant connect on database "
        + "pg_state to watcher; grant select on failover_log to watcher")
    let hba = fixture.cluster + "/node1/pg_hba.conf"
    let rules = try String(contentsOfFile: hba, encoding: .utf8)
    try ("host all watcher 127.0.0.1/32 scram-sha-256\n" + rules).write(
      toFile: hba, atomically: false, encoding: .utf8)
    try fixture.clusterCommand("sql", "node1", "select pg_reload_conf()")
    return fixture
  }

  /// check-config, once node1's conninfo is `conninfo` (PORT stands for its port).
  private func checkConfig(_ fixture: Fixture, node1 conninfo: String) throws -> RunResult {
    let port = try fixture.port("node1")
    try fixture.editConfig(
      "host=127.0.0.1 port=\(port) dbname=pg_state user=pgfollow password=topsecret",
      conninfo.replacing("PORT", with: "\(port)"))
    return try fixture.pgfollow("check-config")
  }

  @Test func aGoodSetupSaysWhatEachNodeAnswered() throws {
    let fixture = try fixtureWithPasswords()
    let result = try checkConfig(
      fixture, node1: "host=127.0.0.1 port=PORT dbname=pg_state user=watcher password=right")
    #expect(result.status == 0, "\(result.output)")
    #expect(result.output.contains("node node1: answers, writable (a primary)"), "\(result.output)")
    #expect(result.output.contains("node node2: answers, a standby"), "\(result.output)")
  }

  @Test func aWrongPasswordIsAnErrorNamingTheNodeAndNeverThePassword() throws {
    let fixture = try fixtureWithPasswords()
    let result = try checkConfig(
      fixture, node1: "host=127.0.0.1 port=PORT dbname=pg_state user=watcher password=wrong9")
    #expect(result.status == 5, "\(result.output)")
    #expect(
      result.output.contains("error: node node1: ")
        && result.output.contains("password authentication failed"), "\(result.output)")
    #expect(!result.output.contains("wrong9"))
  }

  /// Root has another home than the service: check-config, status and once's dry run use the service's
  /// password file (the state directory's .pgpass) when root has none, and say so.
  @Test(Needs.root) func rootFindsTheServicesPasswordFile() throws {
    let fixture = try fixtureWithPasswords()
    let port = try fixture.port("node1")
    try fixture.editConfig(
      "host=127.0.0.1 port=\(port) dbname=pg_state user=pgfollow password=topsecret",
      "host=127.0.0.1 port=\(port) dbname=pg_state user=watcher")
    try FileManager.default.createDirectory(
      atPath: fixture.directory + "/state", withIntermediateDirectories: true)
    let passfile = fixture.directory + "/state/.pgpass"
    try "127.0.0.1:\(port):pg_state:watcher:right\n".write(
      toFile: passfile, atomically: false, encoding: .utf8)
    chmod(passfile, 0o600)
    let home = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: home) }
    for command in [["check-config"], ["status"], ["once", "--dry-run"]] {
      let result = try run(
        "/usr/bin/env",
        ["-u", "PGPASSFILE", "HOME=\(home)", Fixture.binary] + command + [
          "-c", fixture.configFile,
        ], timeout: 60)
      #expect(result.output.contains("using the service's password file \(passfile)"))
      #expect(!result.output.contains("no password supplied"), "\(result.output)")
      // status warns (1), and once changes (2), the file not yet switched to the standby it
      // sees: no sidecar ran.
      let expected: Int32 = command == ["check-config"] ? 0 : command == ["status"] ? 1 : 2
      #expect(result.status == expected, "\(command): \(result.output)")
    }
  }

  @Test func anUnknownDatabaseAndAMalformedPortAreErrors() throws {
    let fixture = try Fixture()
    let database = try checkConfig(
      fixture, node1: "host=127.0.0.1 port=PORT dbname=nosuchdb user=pgfollow")
    #expect(database.status == 5, "\(database.output)")
    #expect(database.output.contains("error: node node1: "), "\(database.output)")
    #expect(database.output.contains("\"nosuchdb\" does not exist"), "\(database.output)")
    try fixture.editConfig("port=\(try fixture.port("node1")) dbname=nosuchdb", "port=5432x")
    let port = try fixture.pgfollow("check-config")
    #expect(port.status == 5, "\(port.output)")
    #expect(
      port.output.contains("conninfo is invalid: port=…: not a port number (1-65535)"),
      "\(port.output)")
  }

  @Test func aNodeDownIsAWarningAndEveryNodeDownAnError() throws {
    let fixture = try Fixture()
    try fixture.clusterCommand("kill", "node2")
    let one = try fixture.pgfollow("check-config")
    #expect(one.status == 0, "\(one.output)")
    #expect(one.output.contains("warning: node node2 unreachable now: "), "\(one.output)")
    try fixture.clusterCommand("kill", "node1")
    let all = try fixture.pgfollow("check-config")
    #expect(all.status == 5, "\(all.output)")
    #expect(all.output.contains("error: no node answers"), "\(all.output)")
    // The unit's own check at start does not log in: a node may be down when pgfollow starts.
    #expect(try fixture.pgfollow("check-config", "--quiet", "--skip-nodes").status == 0)
  }

  @Test func aMissingHookProgramIsAnError() throws {
    let fixture = try Fixture()
    try fixture.editConfig(
      "restart:\n", "hooks:\n  - command: [/nonexistent/notify, changed]\nrestart:\n")
    let result = try fixture.pgfollow("check-config")
    #expect(result.status == 5, "\(result.output)")
    #expect(
      result.output.contains("the hook's program /nonexistent/notify is missing or not executable"),
      "\(result.output)")
  }
}

/// scripts/test-cluster takes the ports to use.
@Suite(Needs.cluster) struct TestClusterTests {
  @Test func theClusterListensOnTheGivenPorts() throws {
    let directory = try makeTemporaryDirectory()
    defer {
      _ = try? Fixture.cluster("stop", directory + "/c")
      try? FileManager.default.removeItem(atPath: directory)
    }
    let base = try freePortRun(count: 2)
    try Fixture.cluster("start", directory + "/c", "2 \(base)")
    for (node, port) in [("node1", base), ("node2", base + 1)] {
      let text = try String(contentsOfFile: directory + "/c/\(node).port", encoding: .utf8)
      #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "\(port)")
    }
  }
}
