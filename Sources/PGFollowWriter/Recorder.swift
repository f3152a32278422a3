package import PGFollowCore
import PGFollowPostgres

#if canImport(Glibc)
  import Glibc
#endif

/// The writer side: waits until the local node is promoted, then records it in the state table.
package struct Recorder: Sendable {
  package var conninfo: String
  package var name: String
  package var table: FailoverTable
  package var wait: Duration
  package var connectTimeout: Duration

  package init(
    conninfo: String, name: String, table: FailoverTable, wait: Duration,
    connectTimeout: Duration = .seconds(5)
  ) {
    self.conninfo = conninfo
    self.name = name
    self.table = table
    self.wait = wait
    self.connectTimeout = connectTimeout
  }

  package enum Outcome: Sendable, Equatable {
    case recorded(unixtime: Int64)
    /// The newest row already names this node; nothing was inserted.
    case alreadyRecorded(unixtime: Int64)
  }

  /// Blocks the calling thread (never call it from Swift's cooperative pool).
  package func record(progress: (String) -> Void = { _ in }) throws(RecordError) -> Outcome {
    let deadline = ContinuousClock.now + wait
    let connection = try waitForPromotion(deadline: deadline, progress: progress)
    try checkNameFits(connection, sql: RecordSQL.columnType)
    let sql = RecordSQL(table: table, withHistory: try hasHistoryColumns(connection))
    let rows: [[String?]]
    do {
      rows = try connection.query(
        sql.insert, parameters: [name], deadline: .now + connectTimeout)
    } catch {
      throw RecordError(error, table: table)
    }
    guard let row = rows.first, let time = row[0].flatMap({ Int64($0) }) else {
      throw RecordError.database("the insert returned no row")
    }
    return row[1] == "t" ? .recorded(unixtime: time) : .alreadyRecorded(unixtime: time)
  }

  /// Connects and polls `pg_is_in_recovery()` until it is false, reconnecting if needed.
  private func waitForPromotion(deadline: ContinuousClock.Instant, progress: (String) -> Void)
    throws(RecordError) -> PostgresConnection
  {
    var connection: PostgresConnection?
    var lastProblem = "not yet connected"
    var saidWaiting = false
    while ContinuousClock.now < deadline {
      do throws(PostgresError) {
        let current: PostgresConnection
        if let connection {
          current = connection
        } else {
          current = try PostgresConnection.connect(
            conninfo: conninfo, deadline: min(.now + connectTimeout, deadline))
        }
        connection = current
        let rows = try current.query(
          "SELECT pg_catalog.pg_is_in_recovery()", deadline: min(.now + connectTimeout, deadline))
        if rows.first?[0] == "f" { return current }
        lastProblem = "still in recovery"
        if !saidWaiting { progress("waiting for the promotion to finish (in recovery)") }
        saidWaiting = true
      } catch {
        connection = nil
        lastProblem = error.message
      }
      sleepBriefly()
    }
    throw RecordError.timeout(
      "the node was not promoted within \(formatDuration(wait)) (\(lastProblem))")
  }

  /// Whether the table has the columns `pgfollow init` adds for the cluster's history.
  private func hasHistoryColumns(_ connection: PostgresConnection) throws(RecordError) -> Bool {
    do {
      let rows = try connection.query(
        RecordSQL.hasHistoryColumns, parameters: [table.table], deadline: .now + connectTimeout)
      return rows.first?.first == "t"
    } catch {
      throw RecordError(error, table: table)
    }
  }

  private func checkNameFits(_ connection: PostgresConnection, sql: String) throws(RecordError) {
    let rows: [[String?]]
    do {
      rows = try connection.query(
        sql, parameters: [table.table, table.hostColumn],
        deadline: .now + connectTimeout)
    } catch {
      throw RecordError(error, table: table)
    }
    guard let row = rows.first, row[0] == "t" else {
      throw RecordError.database(
        "the table \(table.table) does not exist (create it with pgfollow init)")
    }
    guard let type = row[1] else {
      throw RecordError.database("\(table.table) has no column \"\(table.hostColumn)\"")
    }
    if let limit = row[2].flatMap({ Int($0) }), name.count > limit {
      throw RecordError.nameTooLong(
        "the name \"\(name)\" has \(name.count) characters but \(table.table).\(table.hostColumn) "
          + "is \(type) (at most \(limit)); give a shorter --name, or widen the "
          + "column: ALTER TABLE \(table.table) ALTER COLUMN \(table.hostColumn) TYPE text")
    }
  }
}

/// The SQL of `record`, with identifiers from the configuration quoted.
struct RecordSQL {
  let insert: String
  /// Whether the table exists, the host column's type, and its length limit if it has one.
  static let columnType = """
    SELECT c.oid IS NOT NULL, pg_catalog.format_type(a.atttypid, a.atttypmod),
      CASE WHEN a.atttypmod > 4 AND t.typname IN ('varchar', 'bpchar') THEN a.atttypmod - 4 END
    FROM (SELECT pg_catalog.to_regclass($1) AS oid) AS c
    LEFT JOIN pg_catalog.pg_attribute AS a
      ON a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped
    LEFT JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
    """
  /// Whether the table $1 has the history columns, with `init`'s types.
  static let hasHistoryColumns =
    "SELECT " + HistorySQL.hasColumns(oid: "pg_catalog.to_regclass($1)")

  /// Inserts now (or one second past the newest timestamp, if the clock is behind it) unless the
  /// newest row (in history order) already names this node on this timeline; returns the row's
  /// time and whether it was inserted. With the history columns, writes where the cluster's
  /// history stands with the row.
  init(table: FailoverTable, withHistory: Bool) {
    let relation = quoteRelation(table.table)
    let ts = quoteIdentifier(table.timestampColumn)
    let host = quoteIdentifier(table.hostColumn)
    let newest = HistorySQL.newestRow(
      relation: relation, timestamp: ts, host: host, withHistory: withHistory)
    let history = withHistory ? HistorySQL.columns.map { ", " + quoteIdentifier($0) }.joined() : ""
    let values = withHistory ? ", live.tli, live.lsn, live.sysid::int8" : ""
    insert = """
      WITH live AS (\(HistorySQL.livePosition)),
      newest AS (\(newest)),
      inserted AS (
        INSERT INTO \(relation) (\(ts), \(host)\(history))
        SELECT GREATEST(
          extract(epoch FROM pg_catalog.now())::int8,
          coalesce((SELECT max(t.\(ts))::int8 FROM \(relation) AS t), 0) + 1), $1::text\(values)
        FROM live
        WHERE NOT EXISTS (
          SELECT 1 FROM newest
          WHERE host = $1::text AND (NOT recorded_here OR tli = (SELECT tli FROM live)))
        RETURNING \(ts)::int8 AS ts
      )
      SELECT ts, true FROM inserted
      UNION ALL SELECT ts, false FROM newest WHERE NOT EXISTS (SELECT 1 FROM inserted)
      """
  }
}

package enum RecordError: Error, Sendable, CustomStringConvertible {
  case timeout(String)
  case nameTooLong(String)
  case database(String)

  init(_ error: PostgresError, table: FailoverTable) {
    switch error.sqlState {
    case "42P01":
      self = .database("the table \(table.table) does not exist (create it with pgfollow init)")
    case "42501":
      self = .database(
        "\(error.message) (record writes the row: it needs a role with INSERT on \(table.table), "
          + "granted by `pgfollow init --grant-writer ROLE`; give record that role's conninfo "
          + "with --conninfo, not the watchers' read-only one)")
    default: self = .database(error.message)
    }
  }

  package var description: String {
    switch self {
    case .timeout(let message), .nameTooLong(let message), .database(let message): message
    }
  }
}

private func sleepBriefly() {
  var request = timespec(tv_sec: 0, tv_nsec: 100_000_000)
  nanosleep(&request, nil)
}
