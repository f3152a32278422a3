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

  /// The rows of `relation` with their history read through `to_jsonb`, so that the same query
  /// serves a table with the columns and the seed's table without them: `ts, host, tli, lsn,
  /// sysid`, where any of the last three is null when absent or malformed. `live` must be in
  /// scope with a `sysid`; `recorded_here` says whether the row's history orders it.
  package static func rows(relation: String, timestamp: String, host: String) -> String {
    """
    SELECT e.*, COALESCE(e.sysid = live.sysid AND e.tli IS NOT NULL AND e.lsn IS NOT NULL,
        false) AS recorded_here
    FROM (
      SELECT t.\(timestamp)::int8 AS ts, t.\(host)::text AS host,
        CASE WHEN j ->> '\(timelineColumn)' ~ '^[0-9]{1,10}$'
          THEN (j ->> '\(timelineColumn)')::int8 END AS tli,
        CASE WHEN j ->> '\(lsnColumn)' ~ '^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$'
          THEN (j ->> '\(lsnColumn)')::pg_lsn END AS lsn,
        j ->> '\(systemIdentifierColumn)' AS sysid
      FROM \(relation) AS t, LATERAL pg_catalog.to_jsonb(t) AS j
      WHERE t.\(timestamp) IS NOT NULL
    ) AS e
    """
  }

  /// Newest first: rows recorded in this cluster by timeline and WAL position, then every row by
  /// its timestamp.
  package static let newestFirst = """
    recorded_here DESC, CASE WHEN recorded_here THEN tli END DESC NULLS LAST,
      CASE WHEN recorded_here THEN lsn END DESC NULLS LAST, ts DESC
    """
}
