import Foundation
import Testing

/// pgfollow.service under a real systemd, in a throwaway container (scripts/systemd-container),
/// following a failover of the real test cluster.
@Suite(.serialized) struct SystemdTests {
  @Test func exampleUnitPassesSystemdAnalyzeVerify() throws {
    let fixture = try Fixture()
    let unit = try serviceUnit(binary: Fixture.binary, config: fixture.configFile)
    let path = fixture.directory + "/pgfollow.service"
    try unit.write(toFile: path, atomically: false, encoding: .utf8)
    let result = try run("/usr/bin/systemd-analyze", ["verify", path], timeout: 60)
    #expect(result.status == 0, "\(result.output)")
  }

  @Test func sidecarUnderSystemdFollowsAFailoverAndIsWatched() throws {
    let fixture = try Fixture()
    let container = try Container(fixture: fixture)
    defer { container.powerOff() }
    try container.install(fixture: fixture)

    try container.systemctl("start", "app.service")
    try container.systemctl("start", "pgfollow.service")
    #expect(try container.property("pgfollow", "ActiveState") == "active")
    #expect(try container.property("pgfollow", "StatusText") == "following node1")
    let startsBefore = container.appStarts()
    let invocationBefore = try container.property("app", "InvocationID")
    let pidBefore = try container.property("app", "MainPID")

    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote", "node2")
    #expect(
      try waitUntil(30) { try container.property("pgfollow", "StatusText") == "following node2" })
    #expect(waitUntil(30) { container.appStarts().count == startsBefore.count + 1 })
    usleep(3_000_000)
    let startsAfter = container.appStarts()
    #expect(startsAfter.count == startsBefore.count + 1, "restarted more than once: \(startsAfter)")
    let invocationAfter = try container.property("app", "InvocationID")
    #expect(invocationAfter != invocationBefore && invocationAfter == startsAfter.last)
    #expect(try container.property("app", "MainPID") != pidBefore)
    #expect(try fixture.appValues().contains("address: node2:5432   # the primary"))

    // A sidecar that stops answering is killed by the watchdog and started again.
    let hungPID = try container.property("pgfollow", "MainPID")
    try container.exec("kill", "-STOP", hungPID)
    #expect(
      try waitUntil(60) {
        try container.property("pgfollow", "NRestarts") == "1"
          && container.property("pgfollow", "ActiveState") == "active"
      })
    #expect(try container.property("pgfollow", "MainPID") != hungPID)
    #expect(try container.journal().contains("Failed with result 'watchdog'"))
    #expect(
      container.appStarts().count == startsAfter.count, "the restarted sidecar restarted the app")

    try container.systemctl("stop", "pgfollow.service")
    #expect(try container.property("pgfollow", "ActiveState") == "inactive")
    #expect(try container.property("pgfollow", "Result") == "success")
    #expect(
      try container.journal().contains("pgfollow[") && container.journal().contains("stopped"))
  }
}

/// examples/pgfollow.service with the binary, configuration and writable directory of a test.
func serviceUnit(binary: String, config: String, overrides: [String: String] = [:]) throws -> String
{
  let example = try String(
    contentsOfFile: Fixture.packageRoot.path + "/examples/pgfollow.service", encoding: .utf8)
  let directory = URL(fileURLWithPath: config).deletingLastPathComponent().path
  return example.split(separator: "\n", omittingEmptySubsequences: false).map { line in
    var line = String(line)
      .replacing("/usr/local/bin/pgfollow", with: binary)
      .replacing("/etc/pgfollow/pgfollow.yaml", with: config)
    if line.hasPrefix("ReadWritePaths=") { line = "ReadWritePaths=\(directory)" }
    for (key, value) in overrides where line.hasPrefix(key + "=") { line = "\(key)=\(value)" }
    return line
  }.joined(separator: "\n")
}

/// A booted container with the fixture's directory at /opt/t.
final class Container {
  let directory: String
  private let script = Fixture.packageRoot.path + "/scripts/systemd-container"

  init(fixture: Fixture) throws {
    directory = fixture.directory
    let binary = directory + "/pgfollow"
    try FileManager.default.copyItem(atPath: Fixture.binary, toPath: binary)
    let boot = try run(script, ["boot", directory, binary], timeout: 180)
    guard boot.status == 0 else {
      throw FixtureError(message: "cannot boot a systemd container: \(boot.output)")
    }
  }

  /// The application unit (which records each start, after `startSeconds` of starting up) and
  /// examples/pgfollow.service with the watchdog shortened to 3 s so that every case takes
  /// seconds; `overrides` changes more of the unit.
  func install(
    fixture: Fixture, appStartSeconds: Int = 0, overrides: [String: String] = [:]
  ) throws {
    try fixture.editConfig("systemctl: ./systemctl", "systemctl: /usr/bin/systemctl")
    let app = """
      [Unit]
      Description=Demo application that records each start
      [Service]
      ExecStartPre=/bin/sleep \(appStartSeconds)
      ExecStart=/bin/sh -c 'echo "$INVOCATION_ID" >> /opt/t/app-starts; exec sleep infinity'

      """
    try app.write(toFile: directory + "/app.service", atomically: false, encoding: .utf8)
    let unit = try serviceUnit(
      binary: "/opt/t/pgfollow", config: "/opt/t/pgfollow.yaml",
      overrides: ["User": "root", "Group": "root", "WatchdogSec": "3s", "TimeoutAbortSec": "2s"]
        .merging(overrides) { $1 })
    try unit.write(toFile: directory + "/pgfollow.service", atomically: false, encoding: .utf8)
    try exec("cp", "/opt/t/app.service", "/opt/t/pgfollow.service", "/run/systemd/system/")
    try systemctl("daemon-reload")
  }

  @discardableResult
  func exec(_ arguments: String...) throws -> String {
    let result = try run(script, ["exec", directory] + arguments, timeout: 120)
    guard result.status == 0 else {
      throw FixtureError(message: "\(arguments.joined(separator: " ")) failed: \(result.output)")
    }
    return result.output
  }

  func systemctl(_ arguments: String...) throws {
    let result = try run(
      script, ["exec", directory, "systemctl", "--no-ask-password"] + arguments, timeout: 120)
    guard result.status == 0 else {
      let journal = (try? self.journal()) ?? ""
      throw FixtureError(
        message:
          "systemctl \(arguments.joined(separator: " ")) failed: \(result.output)\n\(journal)")
    }
  }

  func property(_ unit: String, _ name: String) throws -> String {
    try exec("systemctl", "show", unit, "-p", name, "--value")
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func journal() throws -> String {
    try exec("journalctl", "--no-pager", "-o", "short")
  }

  /// pgfollow's own lines at warning or worse, less the expected ones: a node down, and the
  /// holds while a failover is under way.
  func pgfollowWarnings() throws -> [String] {
    let lines = try exec(
      "journalctl", "--no-pager", "-o", "cat", "-p", "warning", "_COMM=pgfollow")
    return lines.split(separator: "\n").map(String.init).filter { line in
      !line.hasPrefix("node node1 unreachable") && !line.hasPrefix("holding: ")
        && !line.hasPrefix("-- ")
    }
  }

  func appStarts() -> [String] {
    let text = (try? String(contentsOfFile: directory + "/app-starts", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").map(String.init)
  }

  func powerOff() {
    _ = try? run(script, ["poweroff", directory], timeout: 60)
  }
}
