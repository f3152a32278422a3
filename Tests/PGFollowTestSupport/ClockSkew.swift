import Foundation

extension Fixture {
  /// `pgfollow init` on node1, as the seed's table becomes one with history columns, and waits
  /// until every standby has the columns.
  package func addHistoryColumns(nodes: Int = 2) throws {
    let result = try run(
      Self.binary,
      [
        "init", "--conninfo",
        "host=127.0.0.1 port=\(try port("node1")) user=postgres dbname=postgres",
      ],
      timeout: 60)
    guard result.status == 0 else {
      throw FixtureError(message: "pgfollow init failed: \(result.output)")
    }
    for index in stride(from: 2, through: nodes, by: 1) {
      let replayed = try waitUntil(10) {
        try sql(
          "node\(index)",
          "select count(*) from pg_attribute where attrelid = 'failover_log'::regclass "
            + "and attname = 'system_identifier'") == "1"
      }
      guard replayed else {
        throw FixtureError(message: "node\(index) did not get the history columns")
      }
    }
  }

  /// `pgfollow record --name NODE` on `node`'s pg_state, as postgres, as a failover tool's hook
  /// runs it once the node is promoted.
  package func record(on node: String) throws -> RunResult {
    try run(
      Self.binary,
      [
        "record", "--conninfo",
        "host=127.0.0.1 port=\(try port(node)) user=postgres dbname=pg_state", "--name", node,
      ], timeout: 60)
  }

  /// SQL on one node's pg_state, as postgres; the output, trimmed.
  @discardableResult
  package func sql(_ node: String, _ statement: String) throws -> String {
    try Self.cluster("sql", cluster, "\(node) \(statement)").output
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// What `date +%s` says on a host whose clock is `offset` off (libfaketime), as the seed's
  /// `after_command` takes it.
  package func skewedUnixtime(_ offset: String) throws -> Int64 {
    let result = try run(
      "/usr/bin/env",
      ["LD_PRELOAD=\(faketimeLibrary)", "FAKETIME=\(offset)", "/bin/date", "+%s"], timeout: 10)
    guard result.status == 0,
      let value = Int64(result.output.trimmingCharacters(in: .whitespacesAndNewlines))
    else { throw FixtureError(message: "date under faketime failed: \(result.output)") }
    return value
  }

  /// The seed's writer: `insert into failover_log values(`date +%s`, 'NODE')` on `node`, its
  /// clock `offset` off.
  package func recordAsTheSeedDoes(_ node: String, clockOffset offset: String) throws {
    try sql(node, "insert into failover_log values(\(try skewedUnixtime(offset)), '\(node)')")
  }

  /// Moves the moment the state file says an unrecorded promotion was first seen `seconds`
  /// back, as if that much time had passed.
  package func movePromotionSightingBack(seconds: Double) throws {
    let path = directory + "/state/state.json"
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let pattern = try Regex(#"("unrecordedPromotion": \{[^}]*"since": )([0-9.]+)"#)
    guard let match = text.firstMatch(of: pattern), let range = match.output[2].range,
      let since = Double(text[range])
    else { throw FixtureError(message: "no unrecorded promotion in \(path): \(text)") }
    let moved = text.replacingCharacters(in: range, with: String(since - seconds))
    try moved.write(toFile: path, atomically: true, encoding: .utf8)
  }
}
