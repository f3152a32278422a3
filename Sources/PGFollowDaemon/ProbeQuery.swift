import PGFollowCore
import PGFollowPostgres

/// The one query a probe runs: recovery state, whether a WAL receiver runs, the newest row naming
/// a configured node, and the newest row of all (to warn about unknown hosts).
struct ProbeQuery: Sendable {
  let sql: String
  let nodeArray: String
  let nodes: Set<String>

  init(table: StateTable, nodes: [String]) {
    let relation = quoteRelation(table.table)
    let ts = "t." + quoteIdentifier(table.timestampColumn)
    let host = "t." + quoteIdentifier(table.hostColumn) + "::text"
    sql = """
      SELECT pg_catalog.pg_is_in_recovery(),
        EXISTS (SELECT 1 FROM pg_catalog.pg_stat_wal_receiver),
        k.ts, k.host, u.ts, u.host
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (
        SELECT \(ts)::int8 AS ts, \(host) AS host FROM \(relation) AS t
        WHERE \(host) = ANY ($1::text[]) AND \(ts) IS NOT NULL
        ORDER BY \(ts) DESC, pg_catalog.array_position($1::text[], \(host)) LIMIT 1
      ) AS k ON true
      LEFT JOIN LATERAL (
        SELECT \(ts)::int8 AS ts, \(host) AS host FROM \(relation) AS t
        WHERE \(ts) IS NOT NULL ORDER BY \(ts) DESC LIMIT 1
      ) AS u ON true
      """
    nodeArray = "{" + nodes.map(arrayElement).joined(separator: ",") + "}"
    self.nodes = Set(nodes)
  }

  func run(on connection: PostgresConnection, deadline: ContinuousClock.Instant)
    throws(PostgresError) -> Observation
  {
    let rows = try connection.query(sql, parameters: [nodeArray], deadline: deadline)
    guard let row = rows.first, row.count == 6 else {
      throw PostgresError(kind: .query, message: "unexpected answer to the probe query")
    }
    let known = Self.logRow(row[2], row[3])
    let newest = Self.logRow(row[4], row[5])
    return Observation(
      inRecovery: row[0] == "t", walReceiverActive: row[1] == "t", newestRow: known,
      newestUnknownRow: newest.flatMap { nodes.contains($0.host) ? nil : $0 })
  }

  private static func logRow(_ unixtime: String?, _ host: String?) -> LogRow? {
    guard let unixtime, let value = Int64(unixtime), let host else { return nil }
    return LogRow(unixtime: value, host: host)
  }
}

func quoteIdentifier(_ name: String) -> String {
  "\"" + name.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"")
    + "\""
}

private func arrayElement(_ text: String) -> String {
  var out = "\""
  for character in text {
    if character == "\"" || character == "\\" { out.append("\\") }
    out.append(character)
  }
  return out + "\""
}
