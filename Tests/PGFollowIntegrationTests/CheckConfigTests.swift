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
    let result = try run(Fixture.binary, ["check-config", "--quiet", "-c", config], timeout: 60)
    #expect(result.status == 0 && result.output.isEmpty, "\(result.output)")
  }

  /// Paths are shown normalised: `sub/../app.yaml` is the configuration's own directory.
  @Test func pathsAreShownNormalised() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.createDirectory(
      atPath: directory + "/sub", withIntermediateDirectories: false)
    let config = try Self.write(directory, file: "sub/../app.yaml", path: "databases.primary.host")
    let result = try run(Fixture.binary, ["check-config", "-c", config], timeout: 60)
    #expect(result.status == 0, "\(result.output)")
    #expect(result.output.contains("app file: \(directory)/app.yaml\n"), "\(result.output)")
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
