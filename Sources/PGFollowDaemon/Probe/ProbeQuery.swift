package import PGFollowCore
import PGFollowPostgres

/// How the probe reads the failover table: by the history columns `pgfollow init` adds, or, on a
/// table without them (the seed's), by timestamp alone. Learnt from the catalog's facts.
package enum TableForm: Sendable, Equatable {
  case history, bare
}

/// What a connection has learnt of the table: its form and its catalog facts, asked again once
/// they are a minute old (planning their part of the query costs more than the rest of it).
package struct TableKnowledge: Sendable {
  var form: TableForm?
  var facts: TableFacts?
  var factsAsked: ContinuousClock.Instant?
  /// The request last sent: what a late answer answers.
  var lastAsked: ProbeRequest?

  package init() {}

  static let factsLast = Duration.seconds(60)

  func needsFacts(now: ContinuousClock.Instant) -> Bool {
    form == nil || factsAsked.map { $0.duration(to: now) >= Self.factsLast } ?? true
  }
}

/// The one query a probe runs: recovery state, whether a WAL receiver runs, where the node's
/// history stands, the newest row naming a configured node (`HistorySQL.newestRow`), the newest
/// row of all (to warn about unknown hosts), and what the catalog says of the table: whether it
/// has the history columns, how large it is, and whether the indexes the probe reads are there.
/// Every part reads a bounded number of rows when the indexes are there.
package struct ProbeQuery: Sendable, Equatable {
  let table: FailoverTable
  /// The query in each form, with the catalog's facts and without.
  private let bareSQL: (withFacts: String, without: String)
  private let historySQL: (withFacts: String, without: String)
  /// `$1`, the configured nodes; `$2`, the table.
  package let parameters: [String?]
  let nodes: Set<String>
  let indexes: (bare: String, history: String)

  package init(table: FailoverTable, nodes: [String]) {
    self.table = table
    let relation = quoteRelation(table.table)
    let ts = quoteIdentifier(table.timestampColumn)
    let host = quoteIdentifier(table.hostColumn)
    func sql(withHistory: Bool, facts: Bool) -> String {
      let known = HistorySQL.newestRow(
        relation: relation, timestamp: ts, host: host, withHistory: withHistory,
        filter: "t.\(host)::text = ANY ($1::text[])",
        tieBreak: "pg_catalog.array_position($1::text[], t.\(host)::text)")
      let newest = HistorySQL.newestRow(
        relation: relation, timestamp: ts, host: host, withHistory: false)
      return """
        SELECT pg_catalog.pg_is_in_recovery(),
          EXISTS (SELECT 1 FROM pg_catalog.pg_stat_wal_receiver),
          k.ts, k.host, u.ts, u.host, pg_catalog.current_setting('is_superuser'),
          k.tli, k.lsn, k.sysid, live.sysid, live.tli, live.lsn,
          f.has_history, f.estimated_rows, f.bytes, f.timestamp_indexed, f.history_indexed,
          f.history_named
        FROM (\(HistorySQL.livePosition)) AS live
        CROSS JOIN (\(facts ? Self.facts(timestamp: table.timestampColumn) : Self.noFacts)) AS f
        LEFT JOIN LATERAL (\(known)) AS k ON true
        LEFT JOIN LATERAL (\(newest)) AS u ON true
        """
    }
    bareSQL = (sql(withHistory: false, facts: true), sql(withHistory: false, facts: false))
    historySQL = (sql(withHistory: true, facts: true), sql(withHistory: true, facts: false))
    parameters = ["{" + nodes.map(arrayElement).joined(separator: ",") + "}", relation]
    self.nodes = Set(nodes)
    let fix = { (columns: [String]) in
      "CREATE INDEX ON \(relation) (\(columns.map(quoteIdentifier).joined(separator: ", ")))"
    }
    let both = HistorySQL.indexColumns(timestamp: table.timestampColumn, withHistory: true)
    indexes = (fix(both[0]), fix(both[1]))
  }

  package static func == (a: ProbeQuery, b: ProbeQuery) -> Bool {
    a.table == b.table && a.parameters == b.parameters
  }

  private static let noFacts = """
    SELECT NULL::bool AS has_history, NULL::int8 AS estimated_rows, NULL::int8 AS bytes,
      NULL::bool AS timestamp_indexed, NULL::bool AS history_indexed, NULL::bool AS history_named
    WHERE $2::text IS NOT NULL
    """

  /// What the catalog says of the table `$2`: its history columns, its size, and whether a valid
  /// btree index leads with each column list the probe orders by.
  private static func facts(timestamp: String) -> String {
    let lists = HistorySQL.indexColumns(timestamp: timestamp, withHistory: true)
    func indexed(_ columns: [String]) -> String {
      let keys = columns.enumerated().map { index, column in
        "i.indkey[\(index)] = (SELECT a.attnum FROM pg_catalog.pg_attribute AS a "
          + "WHERE a.attrelid = c.oid AND a.attname = \(quoteLiteral(column)))"
      }
      return """
        EXISTS (SELECT 1 FROM pg_catalog.pg_index AS i
          JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
          JOIN pg_catalog.pg_am AS am ON am.oid = ic.relam
          WHERE i.indrelid = c.oid AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree'
            AND \(keys.joined(separator: " AND ")))
        """
    }
    return """
      SELECT \(HistorySQL.hasColumns(oid: "c.oid")) AS has_history,
        CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 END AS estimated_rows,
        pg_catalog.pg_relation_size(c.oid) AS bytes,
        \(indexed(lists[0])) AS timestamp_indexed, \(indexed(lists[1])) AS history_indexed,
        \(HistorySQL.hasColumns(oid: "c.oid", anyType: true)) AS history_named
      FROM pg_catalog.pg_class AS c WHERE c.oid = $2::pg_catalog.regclass
      """
  }

  /// Probes over `connection` with what it has learnt of the table (`known`, empty on a new
  /// connection): an answer whose facts show the other form is asked again in that form.
  func run(
    on connection: PostgresConnection, knowing known: inout TableKnowledge,
    deadline: ContinuousClock.Instant
  ) throws(PostgresError) -> Observation {
    while true {
      let asked = ProbeRequest(known, now: .now)
      known.lastAsked = asked
      let rows: [[String?]]
      do {
        rows = try connection.query(sql(asked), parameters: parameters, deadline: deadline)
      } catch {
        // The columns were dropped since: the next probe asks the catalog again.
        if error.sqlState == "42703" { known = TableKnowledge() }
        throw error.withHint(table.hint(for: error))
      }
      if let observation = try answer(rows, to: asked, knowing: &known) { return observation }
    }
  }

  package func sql(_ request: ProbeRequest) -> String {
    let pair = request.form == .history ? historySQL : bareSQL
    return request.withFacts ? pair.withFacts : pair.without
  }

  /// What the query's answer says, with what it teaches of the table; nil when the facts show
  /// the table calls for the other form. Also used for an answer that came after its deadline.
  func answer(_ rows: [[String?]], to asked: ProbeRequest, knowing known: inout TableKnowledge)
    throws(PostgresError) -> Observation?
  {
    guard let row = rows.first, row.count == 19 else {
      throw PostgresError(kind: .query, message: "unexpected answer to the probe query")
    }
    if asked.withFacts {
      let form: TableForm = row[13] == "t" ? .history : .bare
      var missing: [String] = []
      if row[17] != "t" && form == .history { missing.append(indexes.history) }
      if row[16] != "t" { missing.append(indexes.bare) }
      known.form = form
      known.facts = TableFacts(
        name: table.table, estimatedRows: row[14].flatMap { Int64($0) },
        bytes: row[15].flatMap { Int64($0) } ?? 0, missingIndexes: missing,
        mistypedHistory: form == .bare && row[18] == "t")
      known.factsAsked = asked.at
      guard form == asked.form else { return nil }
    }
    var newest = Self.failoverRow(row[2], row[3])
    newest?.recorded = HistoryPosition(systemIdentifier: row[9], timeline: row[7], lsn: row[8])
    let newestOfAll = Self.failoverRow(row[4], row[5])
    return Observation(
      inRecovery: row[0] == "t", walReceiverActive: row[1] == "t", newestRow: newest,
      newestUnknownRow: newestOfAll.flatMap { nodes.contains($0.host) ? nil : $0 },
      superuser: row[6] == "on",
      position: HistoryPosition(systemIdentifier: row[10], timeline: row[11], lsn: row[12]),
      table: known.facts)
  }

  private static func failoverRow(_ unixtime: String?, _ host: String?) -> FailoverRow? {
    guard let unixtime, let value = Int64(unixtime), let host else { return nil }
    return FailoverRow(unixtime: value, host: host)
  }
}

/// One probe's question: the form it reads the table in, and whether it asks the catalog too.
package struct ProbeRequest: Sendable, Equatable {
  package var form: TableForm
  package var withFacts: Bool
  var at: ContinuousClock.Instant

  init(_ known: TableKnowledge, now: ContinuousClock.Instant) {
    form = known.form ?? .bare
    withFacts = known.needsFacts(now: now)
    at = now
  }

  package init(form: TableForm, withFacts: Bool) {
    self.form = form
    self.withFacts = withFacts
    at = .now
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
