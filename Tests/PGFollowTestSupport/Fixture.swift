import Foundation
import PGFollowDaemon
import Testing

/// A real two-node cluster started by scripts/test-cluster, an application file, a stand-in
/// systemctl that records its argv, and a pgfollow configuration naming them.
package final class Fixture: @unchecked Sendable {
  package static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  package static let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("pgfollow").path

  package let directory: String
  package var cluster: String { directory + "/cluster" }
  package var appFile: String { directory + "/app.yaml" }
  package var configFile: String { directory + "/pgfollow.yaml" }
  package var restartLog: String { directory + "/restarts.log" }

  package static let appText = """
    # The application's settings: comments, order and quoting must survive.
    name: "shop"
    db_master:
      - address: node1:5432   # the primary
        pool: 10
    db_slave:
      - {address: node1:5432, pool: 5}
    cache: &cache {ttl: 30}
    other: *cache

    """

  /// The failover tool that runs the cluster (scripts/failover-tools), if not the plain one.
  package let tool: String?

  /// `server`, when given, is the directory of the server binaries the cluster runs (another
  /// major's, `PostgresServers.bin`); the cluster keeps them for every later command.
  package init(
    nodes: Int = 2, extraNodes: [(name: String, port: Int)] = [], systemctlExit: Int = 0,
    server: String? = nil
  ) throws {
    directory = try makeTemporaryDirectory()
    tool = nil
    try Self.cluster("start", cluster, "\(nodes)", server: server)
    try Self.appText.write(toFile: appFile, atomically: false, encoding: .utf8)
    try setSystemctl(exitCode: systemctlExit)
    try writeConfig(nodes: nodes, extraNodes: extraNodes)
  }

  /// A two-node cluster run by a real failover tool, `repmgr` or `patroni`, whose promotion hook
  /// runs this build's `pgfollow record`.
  package init(failoverTool: String) throws {
    directory = try makeTemporaryDirectory()
    tool = failoverTool
    try toolCommand("\(failoverTool)-start", Self.binary)
    try Self.appText.write(toFile: appFile, atomically: false, encoding: .utf8)
    try setSystemctl(exitCode: 0)
    try writeConfig(nodes: 2)
  }

  /// scripts/failover-tools COMMAND on this fixture's cluster.
  @discardableResult
  package func toolCommand(_ command: String, _ rest: String...) throws -> RunResult {
    let result = try run(
      Self.packageRoot.path + "/scripts/failover-tools", [command, cluster] + rest, timeout: 180)
    guard result.status == 0 else {
      throw FixtureError(message: "failover-tools \(command) failed: \(result.output)")
    }
    return result
  }

  deinit {
    if tool != nil { _ = try? toolCommand("stop") }
    _ = try? Self.cluster("stop", cluster)
    try? FileManager.default.removeItem(atPath: directory)
  }

  package func port(_ node: String) throws -> Int {
    let text = try String(contentsOfFile: "\(cluster)/\(node).port", encoding: .utf8)
    guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
      throw FixtureError(message: "no port in \(cluster)/\(node).port: \(text)")
    }
    return port
  }

  package func writeConfig(
    nodes: Int, extraNodes: [(name: String, port: Int)] = [], policy: String = "",
    timeouts: String = "connect: 1s\n  query: 1s"
  ) throws {
    var nodeLines = ""
    for index in 1...nodes {
      nodeLines += """
          - name: node\(index)
            conninfo: host=127.0.0.1 port=\(try port("node\(index)")) dbname=pg_state user=pgfollow password=topsecret
            address: node\(index):5432

        """
    }
    for extra in extraNodes {
      nodeLines += """
          - name: \(extra.name)
            conninfo: postgresql://postgres:topsecret@127.0.0.1:\(extra.port)/pg_state
            address: \(extra.name):5432

        """
    }
    let text = """
      nodes:
      \(nodeLines)
      app:
        file: app.yaml
        set:
          db_master[0].address: "{leader.address}"
          db_slave[0].address: "{standby.address}"
      restart:
        units: app.service
        systemctl: ./systemctl
        timeout: 10s
      timeouts:
        \(timeouts)
      \(policy)
      metrics: {listen: off}
      state_directory: state

      """
    try text.write(toFile: configFile, atomically: false, encoding: .utf8)
  }

  /// Backend start times of pgfollow's connections to a node.
  package func pgfollowBackends(_ node: String) throws -> [String] {
    let result = try Self.cluster(
      "sql", cluster,
      "\(node) select backend_start from pg_stat_activity where application_name = 'pgfollow'")
    return result.output.split(separator: "\n").map(String.init)
  }

  /// The postmaster of a node and all its children.
  package func nodeProcesses(_ node: String) throws -> [pid_t] {
    let pidFile = try String(contentsOfFile: "\(cluster)/\(node)/postmaster.pid", encoding: .utf8)
    guard let postmaster = pidFile.split(separator: "\n").first.flatMap({ pid_t($0) }) else {
      throw FixtureError(message: "no pid in \(node)/postmaster.pid")
    }
    let children = try run("/usr/bin/pgrep", ["-P", "\(postmaster)"], timeout: 10).output
    return [postmaster] + children.split(separator: "\n").compactMap { pid_t($0) }
  }

  /// A PgBouncer (transaction pooling) in front of each of the first `nodes` nodes, and the
  /// configuration's conninfo pointed through them.
  package func usePoolers(nodes: Int = 2, poolSize: Int = 5) throws {
    for index in 1...nodes {
      let node = "node\(index)"
      try clusterCommand("pooler", node, "\(poolSize)")
      try editConfig("port=\(try port(node)) ", "port=\(try poolerPort(node)) ")
    }
  }

  package func poolerPort(_ node: String) throws -> Int {
    try port(node + ".pooler")
  }

  /// Replaces the short form (`app:` and `restart:`) with `section`, an `apps:` list.
  package func useApps(_ section: String) throws {
    let text = try String(contentsOfFile: configFile, encoding: .utf8)
    guard let start = text.range(of: "app:\n"), let end = text.range(of: "timeouts:\n") else {
      throw FixtureError(message: "no app: section in \(configFile)")
    }
    let updated = text.replacingCharacters(in: start.lowerBound..<end.lowerBound, with: section)
    try updated.write(toFile: configFile, atomically: false, encoding: .utf8)
  }

  package func editConfig(_ old: String, _ new: String) throws {
    let text = try String(contentsOfFile: configFile, encoding: .utf8)
    try text.replacing(old, with: new).write(toFile: configFile, atomically: false, encoding: .utf8)
  }

  /// The stand-in systemctl logs `start ARGS` and `end`, optionally sleeps, and exits as told.
  /// Gives the app a `check` that runs `script` (a shell script) on the new file.
  package func useCheck(script: String, timeout: String) throws {
    try editConfig(
      "  file: app.yaml\n",
      "  file: app.yaml\n  check: {command: [/bin/sh, -c, \"\(script)\", check, \"{file}\"], "
        + "timeout: \(timeout)}\n")
  }

  package func setSystemctl(exitCode: Int, sleepSeconds: Double = 0) throws {
    let script = """
      #!/bin/sh
      echo "start $*" >> '\(restartLog)'
      sleep \(sleepSeconds)
      echo "end" >> '\(restartLog)'
      exit \(exitCode)

      """
    let path = directory + "/systemctl"
    try script.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
  }

  package func restarts() -> [String] {
    let text = (try? String(contentsOfFile: restartLog, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("start") }
  }

  package func appValues() throws -> String {
    try String(contentsOfFile: appFile, encoding: .utf8)
  }

  /// The primary's address in the application's file (`db_master[0].address` of `appText`).
  package func masterAddress() throws -> String {
    let line = try appValues().split(separator: "\n").first { $0.contains("- address:") }
    return line.map { String($0.split(separator: " ")[2]) } ?? ""
  }

  package func pgfollow(_ arguments: String..., timeout: TimeInterval = 60) throws -> RunResult {
    try run(Self.binary, Array(arguments) + ["-c", configFile], timeout: timeout)
  }

  /// The primary killed, the standby promoted and its row recorded.
  package func failOver() throws {
    try clusterCommand("kill", "node1")
    try clusterCommand("promote", "node2")
  }

  /// Writes to `node` for `seconds` in the background, about 300 transactions a second.
  package func startWriteLoad(on node: String, seconds: Int) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.packageRoot.path + "/scripts/test-cluster")
    process.arguments = ["load", cluster, node, String(seconds)]
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return process
  }

  package func clusterCommand(_ arguments: String...) throws {
    try Self.cluster(arguments[0], cluster, arguments.dropFirst().joined(separator: " "))
  }

  @discardableResult
  package static func cluster(
    _ command: String, _ directory: String, _ rest: String = "", server: String? = nil
  ) throws -> RunResult {
    let script = packageRoot.path + "/scripts/test-cluster"
    let arguments = [command, directory] + rest.split(separator: " ").map(String.init)
    let chosen = server.map { ["PGFOLLOW_PG_BIN=\($0)", script] } ?? [script]
    let result = try run("/usr/bin/env", chosen + arguments, timeout: 120)
    guard result.status == 0 else {
      throw FixtureError(message: "test-cluster \(command) failed: \(result.output)")
    }
    return result
  }
}

package struct FixtureError: Error, CustomStringConvertible {
  package var message: String
  package init(message: String) { self.message = message }
  package var description: String { message }
}

package struct RunResult {
  package var status: Int32
  /// Standard output and standard error together.
  package var output: String
  package var killed: Bool
}

/// Runs a program through pgfollow's own runner; a run still going after `timeout` is killed.
package func run(_ program: String, _ arguments: [String], timeout: TimeInterval) throws
  -> RunResult
{
  let result = runProcess(
    [program] + arguments, timeout: .milliseconds(Int64(timeout * 1000)), outputLimit: 1 << 20)
  switch result.termination {
  case .exited(let status):
    return RunResult(status: status, output: result.output, killed: false)
  case .timedOut:
    return RunResult(status: -1, output: result.output, killed: true)
  case .signalled(let signal):
    return RunResult(status: 128 + signal, output: result.output, killed: false)
  case .couldNotStart(let reason):
    throw FixtureError(message: "cannot run \(program): \(reason)")
  }
}

package final class Mutexed<T>: @unchecked Sendable {
  private var value: T
  private let lock = NSLock()
  package init(_ value: T) { self.value = value }
  package func set(_ newValue: T) { lock.withLock { value = newValue } }
  package func get() -> T { lock.withLock { value } }
  package func update(_ change: (inout T) -> Void) { lock.withLock { change(&value) } }
}

/// Copies an executable with cp, in a child process: a copy written by this (multi-threaded)
/// process could still be open for writing in a child forked meanwhile by another test, and
/// executing it would fail with "Text file busy".
package func copyExecutable(_ source: String, to destination: String) throws {
  let copied = try run("/bin/cp", ["-p", source, destination], timeout: 60)
  guard copied.status == 0 else {
    throw FixtureError(message: "cannot copy \(source): \(copied.output)")
  }
}

package func makeTemporaryDirectory() throws -> String {
  let path = "/tmp/pgfollow-test-\(UUID().uuidString.prefix(8))"
  try FileManager.default.createDirectory(
    atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
  return path
}

/// The README's "First setup" block: the commands of the steps named (0 is what precedes step 1).
package func firstSetupCommands(steps: Set<Int>) throws -> [String] {
  let readme = try String(contentsOfFile: Fixture.packageRoot.path + "/README.md", encoding: .utf8)
  let block = readme.split(separator: "<!-- first-setup -->")[1]
    .split(separator: "<!-- /first-setup -->")[0]
    .split(separator: "\n").map(String.init).filter { !$0.hasPrefix("```") }
  var step = 0
  var commands: [String] = []
  for line in block {
    if line.hasPrefix("# "), let number = Int(line.dropFirst(2).prefix { $0.isNumber }) {
      step = number
    } else if !line.hasPrefix("#") && steps.contains(step) {
      commands.append(line)
    }
  }
  return commands
}
