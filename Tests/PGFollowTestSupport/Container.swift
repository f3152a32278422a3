import Foundation

/// examples/pgfollow.service with the binary, configuration and writable directory of a test.
package func serviceUnit(binary: String, config: String, overrides: [String: String] = [:]) throws
  -> String
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
package final class Container {
  package let directory: String
  private let script = Fixture.packageRoot.path + "/scripts/systemd-container"

  package init(fixture: Fixture) throws {
    directory = fixture.directory
    let binary = directory + "/pgfollow"
    try copyExecutable(Fixture.binary, to: binary)
    let boot = try run(script, ["boot", directory, binary], timeout: 180)
    guard boot.status == 0 else {
      throw FixtureError(message: "cannot boot a systemd container: \(boot.output)")
    }
  }

  /// The application unit (which records each start, after `startSeconds` of starting up) and
  /// examples/pgfollow.service with the watchdog shortened to 3 s so that every case takes
  /// seconds; `overrides` changes more of the unit.
  /// `appCommand`, when given, is what the application unit runs after recording its start (a
  /// `SessionApp`, say) instead of sleeping.
  package func install(
    fixture: Fixture, appStartSeconds: Int = 0, appCommand: String = "sleep infinity",
    overrides: [String: String] = [:]
  ) throws {
    try fixture.editConfig("systemctl: ./systemctl", "systemctl: /usr/bin/systemctl")
    let app = """
      [Unit]
      Description=Demo application that records each start
      [Service]
      ExecStartPre=/bin/sleep \(appStartSeconds)
      ExecStart=/bin/sh -c 'echo "$INVOCATION_ID" >> /opt/t/app-starts; exec \(appCommand)'

      """
    try app.write(toFile: directory + "/app.service", atomically: false, encoding: .utf8)
    var unit = try serviceUnit(
      binary: "/opt/t/pgfollow", config: "/opt/t/pgfollow.yaml",
      overrides: [
        "User": "root", "Group": "root", "SupplementaryGroups": "", "WatchdogSec": "3s",
        "TimeoutAbortSec": "2s",
      ].merging(overrides) { $1 })
    if unit.contains("\nUser=root\n") {
      // Root may restart anything: the polkit check for the user pgfollow does not apply.
      unit = unit.split(separator: "\n", omittingEmptySubsequences: false)
        .filter { !$0.contains("--polkit-for") }.joined(separator: "\n")
    }
    try unit.write(toFile: directory + "/pgfollow.service", atomically: false, encoding: .utf8)
    try exec("cp", "/opt/t/app.service", "/opt/t/pgfollow.service", "/run/systemd/system/")
    try systemctl("daemon-reload")
  }

  /// A clean Debian root of `release` (bookworm or trixie; scripts/debian-root, made once and
  /// cached) booted over a throwaway overlay, with the fixture's directory at /opt/t. Nothing of
  /// pgfollow is in it.
  package init(debianRootFor fixture: Fixture, release: String) throws {
    directory = fixture.directory
    let made = try run(Fixture.packageRoot.path + "/scripts/debian-root", [release], timeout: 1200)
    guard made.status == 0, let root = made.output.split(separator: "\n").last else {
      throw FixtureError(message: "cannot make a Debian \(release) root: \(made.output)")
    }
    let boot = try run(script, ["boot-root", directory, String(root)], timeout: 180)
    guard boot.status == 0 else {
      throw FixtureError(message: "cannot boot the Debian \(release) root: \(boot.output)")
    }
  }

  /// A command inside, as root, with a clean environment (not the test's); its status and output.
  package func execResult(_ arguments: [String], timeout: TimeInterval = 300) throws -> RunResult {
    let environment = [
      "env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive",
    ]
    return try run(script, ["exec", directory] + environment + arguments, timeout: timeout)
  }

  @discardableResult
  package func exec(_ arguments: String...) throws -> String {
    try exec(arguments)
  }

  @discardableResult
  package func exec(_ arguments: [String]) throws -> String {
    let result = try run(script, ["exec", directory] + arguments, timeout: 120)
    guard result.status == 0 else {
      throw FixtureError(message: "\(arguments.joined(separator: " ")) failed: \(result.output)")
    }
    return result.output
  }

  /// Starts the application, then pgfollow.
  package func startApplicationAndSidecar() throws {
    try systemctl("start", "app.service")
    try systemctl("start", "pgfollow.service")
  }

  package func systemctl(_ arguments: String...) throws {
    let result = try run(
      script, ["exec", directory, "systemctl", "--no-ask-password"] + arguments, timeout: 120)
    guard result.status == 0 else {
      let journal = (try? self.journal()) ?? ""
      throw FixtureError(
        message:
          "systemctl \(arguments.joined(separator: " ")) failed: \(result.output)\n\(journal)")
    }
  }

  package func property(_ unit: String, _ name: String) throws -> String {
    try exec("systemctl", "show", unit, "-p", name, "--value")
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  package func journal() throws -> String {
    try exec("journalctl", "--no-pager", "-o", "short")
  }

  /// pgfollow's own lines at warning or worse, less the expected ones: a node down, and the
  /// holds while a failover is under way.
  package func pgfollowWarnings() throws -> [String] {
    let lines = try exec(
      "journalctl", "--no-pager", "-o", "cat", "-p", "warning", "_COMM=pgfollow")
    return lines.split(separator: "\n").map(String.init).filter { line in
      !line.hasPrefix("node node1 unreachable") && !line.hasPrefix("holding: ")
        && !line.hasPrefix("-- ")
    }
  }

  package func appStarts() -> [String] {
    let text = (try? String(contentsOfFile: directory + "/app-starts", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").map(String.init)
  }

  package func powerOff() {
    _ = try? run(script, ["poweroff", directory], timeout: 60)
  }
}
