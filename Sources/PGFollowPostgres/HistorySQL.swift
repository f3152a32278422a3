/// The SQL that reads and writes where a cluster's history stands, shared by the probe, `record`
/// and `init`. A row's history is in three columns that `pgfollow init` adds, and that the server
/// fills by default whoever inserts the row.
package enum HistorySQL {
  package static let timelineColumn = "timeline_id"
  package static let lsnColumn = "wal_lsn"
  package static let systemIdentifierColumn = "system_identifier"
  package static let columns = [timelineColumn, lsnColumn, systemIdentifierColumn]

  /// The primary's current timeline: the first 8 hex digits of its current WAL file's name.
  package static let primaryTimeline =
    "('x' || '00000000' || pg_catalog.substr(pg_catalog.pg_walfile_name("
    + "pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(64)::int8"

  package static let systemIdentifier = "(pg_catalog.pg_control_system()).system_identifier"

  /// Each column's type and default, in the order of `columns`.
  package static let columnDefinitions = [
    (timelineColumn, "int8", primaryTimeline),
    (lsnColumn, "pg_lsn", "pg_catalog.pg_current_wal_lsn()"),
    (systemIdentifierColumn, "int8", systemIdentifier),
  ]

  /// Where this node stands, as `sysid, tli, lsn` (text): on a primary its timeline and current
  /// WAL position; on a standby the newest timeline it is known to be on (its last restart
  /// point's, or the one it receives, which only a privileged role can see) and how far it has
  /// received or replayed.
  package static let livePosition = """
    SELECT s.system_identifier::text AS sysid,
      CASE WHEN pg_catalog.pg_is_in_recovery() THEN GREATEST(
          (SELECT c.timeline_id FROM pg_catalog.pg_control_checkpoint() AS c),
          (SELECT r.received_tli FROM pg_catalog.pg_stat_wal_receiver AS r))::int8
        ELSE \(primaryTimeline) END AS tli,
      CASE WHEN pg_catalog.pg_is_in_recovery()
        THEN GREATEST(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())
        ELSE pg_catalog.pg_current_wal_lsn() END AS lsn
    FROM pg_catalog.pg_control_system() AS s
    """

  /// Whether the relation whose oid is `oid` has the history columns with `init`'s types (then
  /// the probe and `record` read them directly), or with any types, as SQL.
  package static func hasColumns(oid: String, anyType: Bool = false) -> String {
    let type = anyType ? "a.atttypid" : "'pg_catalog.int8'::pg_catalog.regtype"
    let lsnType = anyType ? "a.atttypid" : "'pg_catalog.pg_lsn'::pg_catalog.regtype"
    return """
      (SELECT count(*) FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = \(oid) AND a.attnum > 0 AND NOT a.attisdropped
          AND (a.attname, a.atttypid) IN (('\(timelineColumn)', \(type)),
            ('\(lsnColumn)', \(lsnType)), ('\(systemIdentifierColumn)', \(type)))) = 3
      """
  }

  /// The newest row of `relation` (`ts, host, tli, lsn, sysid, recorded_here`), read through
  /// indexes so that its cost does not grow with the table: the row recorded in this cluster on
  /// the highest timeline and WAL position, else the row with the newest timestamp. `filter`, a
  /// condition on `t`, narrows the rows; `tieBreak` orders rows that tie.
  package static func newestRow(
    relation: String, timestamp: String, host: String, withHistory: Bool, filter: String = "true",
    tieBreak: String? = nil
  ) -> String {
    let ts = "t." + timestamp
    let tie = tieBreak.map { ", " + $0 } ?? ""
    let byTimestamp = """
      SELECT \(ts)::int8 AS ts, t.\(host)::text AS host, \(withHistory ? historyOf("t") : noHistory),
        false AS recorded_here
      FROM \(relation) AS t WHERE \(ts) IS NOT NULL AND \(filter)
      ORDER BY \(ts) DESC\(tie) LIMIT 1
      """
    guard withHistory else { return byTimestamp }
    let (tli, lsn, sysid) = (
      "t." + quoteIdentifier(timelineColumn), "t." + quoteIdentifier(lsnColumn),
      "t." + quoteIdentifier(systemIdentifierColumn)
    )
    return """
      SELECT * FROM (
        (SELECT \(ts)::int8 AS ts, t.\(host)::text AS host, \(historyOf("t")), true AS recorded_here
        FROM \(relation) AS t
        WHERE \(sysid) = (SELECT s.system_identifier FROM pg_catalog.pg_control_system() AS s)
          AND \(tli) IS NOT NULL AND \(lsn) IS NOT NULL AND \(ts) IS NOT NULL AND \(filter)
        ORDER BY \(tli) DESC, \(lsn) DESC, \(ts) DESC\(tie) LIMIT 1)
        UNION ALL (\(byTimestamp))
      ) AS n ORDER BY n.recorded_here DESC LIMIT 1
      """
  }

  private static func historyOf(_ alias: String) -> String {
    "\(alias).\(quoteIdentifier(timelineColumn)) AS tli, \(alias).\(quoteIdentifier(lsnColumn)) AS lsn, "
      + "\(alias).\(quoteIdentifier(systemIdentifierColumn))::text AS sysid"
  }

  private static let noHistory =
    "NULL::int8 AS tli, NULL::pg_catalog.pg_lsn AS lsn, NULL::text AS sysid"

  /// The indexes that keep `newestRow` from reading the whole table: on the timestamp, and on
  /// the history columns in the order it reads them.
  package static func indexColumns(timestamp: String, withHistory: Bool) -> [[String]] {
    [[timestamp]]
      + (withHistory ? [[systemIdentifierColumn, timelineColumn, lsnColumn, timestamp]] : [])
  }
}
