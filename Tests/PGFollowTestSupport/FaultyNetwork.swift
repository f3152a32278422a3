import Foundation

/// Real links with faults between a network namespace where pgfollow runs and each node of a
/// fixture (scripts/faulty-network), with the configuration pointed through them.
package final class FaultyNetwork: @unchecked Sendable {
  private let directory: String
  private static let script = Fixture.packageRoot.path + "/scripts/faulty-network"

  package init(_ fixture: Fixture, nodes: [String]) throws {
    directory = fixture.directory
    for (index, node) in nodes.enumerated() {
      let port = try fixture.port(node)
      try command("up", node, "\(port)", "\(index + 1)")
      let address = try command("address", node).output.trimmingCharacters(in: .whitespaces)
      try fixture.editConfig(
        "host=127.0.0.1 port=\(port) ",
        "host=\(address.trimmingCharacters(in: .newlines)) port=5432 ")
    }
  }

  deinit { _ = try? command("down") }

  /// The faults of a node's link from now on, as `delay_ms=400`, `loss=0.3`, `blackhole=1`;
  /// none given heals it. They apply within 50 ms.
  package func set(_ node: String, _ faults: String...) throws { try set(node, faults) }

  package func set(_ node: String, _ faults: [String]) throws {
    try command(["set", node] + faults)
    usleep(100_000)
  }

  /// The argv prefix that runs a program in pgfollow's namespace.
  package var launcher: [String] { [Self.script, "exec", directory] }

  /// pgfollow with `arguments`, run in pgfollow's namespace.
  package func pgfollow(_ fixture: Fixture, _ arguments: String...) throws -> RunResult {
    try run(
      Self.script, ["exec", directory, Fixture.binary] + arguments + ["-c", fixture.configFile],
      timeout: 60)
  }

  @discardableResult
  private func command(_ arguments: String...) throws -> RunResult { try command(arguments) }

  @discardableResult
  private func command(_ arguments: [String]) throws -> RunResult {
    let result = try run(
      Self.script, [arguments[0], directory] + arguments.dropFirst(), timeout: 60)
    guard result.status == 0 else {
      throw FixtureError(message: "faulty-network \(arguments[0]) failed: \(result.output)")
    }
    return result
  }
}
