import PGFollowCore
import PGFollowPostgres

/// The one query a probe runs: recovery state, whether a WAL receiver runs, where the node's
/// history stands, the newest row naming a configured node (in `HistorySQL.newestFirst` order),
/// and the newest row of all (to warn about unknown hosts).
struct ProbeQuery: Sendable, Equatable {
  let table: FailoverTable
  let sql: String
  let nodeArray: String
  let nodes: Set<String>

  init(table: FailoverTable, nodes: [String]) {
    self.table = table
    let relation = quoteRelation(table.table)
    let ts = "t." + quoteIdentifier(table.timestampColumn)
    let host = "t." + quoteIdentifier(table.hostColumn) + "::text"
    let rows = HistorySQL.rows(
      relation: relation, timestamp: quoteIdentifier(table.timestampColumn),
      host: quoteIdentifier(table.hostColumn))
    sql = """
      SELECT pg_catalog.pg_is_in_recovery(),
        EXISTS (SELECT 1 FROM pg_catalog.pg_stat_wal_receiver),
        k.ts, k.host, u.ts, u.host, pg_catalog.current_setting('is_superuser'),
        k.tli, k.lsn, k.sysid, live.sysid, live.tli, live.lsn
      FROM (\(HistorySQL.livePosition)) AS live
      LEFT JOIN LATERAL (
        SELECT r.* FROM (\(rows)) AS r WHERE r.host = ANY ($1::text[])
        ORDER BY \(HistorySQL.newestFirst), pg_catalog.array_position($1::text[], r.host) LIMIT 1
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
    let rows: [[String?]]
    do {
      rows = try connection.query(sql, parameters: [nodeArray], deadline: deadline)
    } catch {
      throw error.withHint(table.hint(for: error))
    }
    return try observation(rows)
  }

  /// What the query's answer says; also used for an answer that came after its deadline.
  func observation(_ rows: [[String?]]) throws(PostgresError) -> Observation {
    guard let row = rows.first, row.count == 13 else {
      throw PostgresError(kind: .query, message: "unexpected answer to the probe query")
    }
    var known = Self.failoverRow(row[2], row[3])
    known?.recorded = HistoryPosition(systemIdentifier: row[9], timeline: row[7], lsn: row[8])
    let newest = Self.failoverRow(row[4], row[5])
    return Observation(
      inRecovery: row[0] == "t", walReceiverActive: row[1] == "t", newestRow: known,
      newestUnknownRow: newest.flatMap { nodes.contains($0.host) ? nil : $0 },
      superuser: row[6] == "on",
      position: HistoryPosition(systemIdentifier: row[10], timeline: row[11], lsn: row[12]))
  }

  private static func failoverRow(_ unixtime: String?, _ host: String?) -> FailoverRow? {
    guard let unixtime, let value = Int64(unixtime), let host else { return nil }
    return FailoverRow(unixtime: value, host: host)
  }
}

private func arrayElement(_ text: String) -> String {
  var out = "\""
  for scalar in text.unicodeScalars {
    if scalar == "\"" || scalar == "\\" { out.unicodeScalars.append("\\") }
    out.unicodeScalars.append(scalar)
  }
  return out + "\""
}

extension FailoverTable {
  /// What to do about the errors a setup gets wrong: the table, a column or a grant missing.
  func hint(for error: PostgresError) -> String? {
    switch error.sqlState {
    case "42P01": "create it with `pgfollow init`, or name the right one in state_table.table"
    case "42703":
      "state_table.timestamp_column and host_column must name columns of \(table)"
    case "42501":
      "grant SELECT on \(table) to this node's user, e.g. with `pgfollow init --grant USER`"
    default: nil
    }
  }
}

extension PostgresError {
  func withHint(_ hint: String?) -> PostgresError {
    guard let hint else { return self }
    return PostgresError(kind: kind, message: message + " (" + hint + ")", sqlState: sqlState)
  }
}
