package import PGFollowCore
import PGFollowPostgres
import PGFollowSystem

/// One app's sessions from this host on one node: client backends from this host's address (the
/// configured one, or that of pgfollow's own session) with the app's role and application name,
/// each with its age by the node's clock; pgfollow's own sessions are never among them. With
/// `terminate`, those that began before the restart (older than `staleAfter` seconds) are
/// terminated as they are counted, where this role may (pg_signal_backend, and never a
/// superuser's session unless it is one). The first row also says whether this role may see
/// other roles' sessions (pg_read_all_stats) and terminate them.
struct SessionQuery: Sendable {
  static let sql = """
    WITH me AS (
      SELECT pg_catalog.current_setting('is_superuser') = 'on' AS superuser,
        pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') AS stats,
        pg_catalog.pg_has_role('pg_signal_backend', 'USAGE') AS signals,
        pg_catalog.inet_client_addr() AS address
    ), app AS (
      SELECT s.pid, r.rolsuper AS superuser,
        pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - s.backend_start) AS age
      FROM me, pg_catalog.pg_stat_activity AS s
      LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = s.usesysid
      WHERE s.backend_type = 'client backend' AND s.pid <> pg_catalog.pg_backend_pid()
        AND s.application_name IS DISTINCT FROM 'pgfollow'
        AND s.client_addr = coalesce($1::inet, me.address)
        AND ($2::text IS NULL OR s.usename = $2) AND ($3::text IS NULL OR s.application_name = $3)
    )
    SELECT me.superuser OR me.stats, me.superuser OR me.signals, pg_catalog.host(me.address),
      app.age,
      CASE WHEN $4::bool AND (me.superuser OR me.signals) AND app.age > $5::float8
          AND (me.superuser OR NOT coalesce(app.superuser, false))
        THEN pg_catalog.pg_terminate_backend(app.pid) END
    FROM me LEFT JOIN app ON true
    """

  let verify: VerifyConfig
  /// Seconds: sessions older than this are terminated; nil terminates none.
  let staleAfter: Double?

  func run(on connection: PostgresConnection, deadline: ContinuousClock.Instant)
    throws(PostgresError) -> SessionCount
  {
    let rows = try connection.query(
      Self.sql,
      parameters: [
        verify.address, verify.role, verify.applicationName, staleAfter == nil ? "f" : "t",
        "\(staleAfter ?? 0)",
      ],
      deadline: deadline)
    return count(rows)
  }

  func count(_ rows: [[String?]]) -> SessionCount {
    guard let first = rows.first, first.count == 5 else {
      return .failed("unexpected answer to the session query")
    }
    guard first[0] == "t" else {
      return .hidden(
        "the watchers' role may not see other roles' sessions: GRANT pg_read_all_stats TO it "
          + "(or run pgfollow init --grant-sessions)")
    }
    if verify.address == nil && first[2] == nil {
      return .failed(
        "pgfollow's own session has no client address (a Unix socket): set verify.address")
    }
    let ages = rows.compactMap { $0[3].flatMap(Double.init) }
    let terminated = rows.filter { $0[4] == "t" }.count
    let refusal =
      verify.staleSessions == .terminate && first[1] != "t"
      ? "the watchers' role may not terminate sessions: GRANT pg_signal_backend TO it "
        + "(or run pgfollow init --grant-sessions)" : nil
    return .counted(ages: ages, terminated: terminated, cannotTerminate: refusal)
  }
}

/// Counts apps' sessions on the nodes, each node on a thread of its own, over one connection per
/// node that is kept between counts and opened again after a failure. Every age is given as of
/// the moment the whole count ends, so that one `now` judges them all.
package final class SessionCounter: Sendable {
  /// A connection is taken out while a thread uses it, and put back after.
  private let connections = Locked<[String: PostgresConnectionBox]>([:])

  package init() {}

  /// What to count on a node: for each app, its verify settings and, to terminate its stale
  /// sessions there, the moment its restart began (sessions older than that are stale).
  package struct Request: Sendable {
    package var app: String
    package var verify: VerifyConfig
    package var terminateBegunBefore: ContinuousClock.Instant?

    package init(
      app: String, verify: VerifyConfig, terminateBegunBefore: ContinuousClock.Instant? = nil
    ) {
      self.app = app
      self.verify = verify
      self.terminateBegunBefore = terminateBegunBefore
    }
  }

  /// Each app's count by node, for the requests of each node.
  package func count(
    _ requests: [(node: NodeConfig, requests: [Request])], timeouts: Timeouts
  ) async -> [String: [String: SessionCount]] {
    let counted = await concurrentlyInOrder(requests) { item in
      await onOwnThread { self.count(item.requests, on: item.node, timeouts: timeouts) }
    }
    let end = ContinuousClock.now
    var byApp: [String: [String: SessionCount]] = [:]
    for (item, (counts, answered)) in zip(requests, counted) {
      let since = answered.duration(to: end).inSeconds
      for (app, count) in counts {
        byApp[app, default: [:]][item.node.name] = count.aged(by: since)
      }
    }
    return byApp
  }

  /// Closes every connection kept.
  package func closeAll() { connections.withLock { $0 = [:] } }

  /// One node's counts, and when its last answer came.
  private func count(_ requests: [Request], on node: NodeConfig, timeouts: Timeouts) -> (
    [(String, SessionCount)], ContinuousClock.Instant
  ) {
    var connection = connections.withLock { $0.removeValue(forKey: node.name) }?.connection
    var results: [(String, SessionCount)] = []
    var unreachable: String?
    for request in requests {
      if let unreachable {
        results.append((request.app, .unreachable(unreachable)))
        continue
      }
      do throws(PostgresError) {
        let open: PostgresConnection
        if let connection {
          open = connection
        } else {
          do throws(PostgresError) {
            open = try PostgresConnection.connect(
              conninfo: node.conninfo, deadline: .now + timeouts.connect)
          } catch {
            unreachable = error.message
            results.append((request.app, .unreachable(error.message)))
            continue
          }
          connection = open
        }
        let stale = request.terminateBegunBefore.map { $0.duration(to: .now).inSeconds }
        let query = SessionQuery(verify: request.verify, staleAfter: stale)
        results.append((request.app, try query.run(on: open, deadline: .now + timeouts.query)))
      } catch {
        results.append((request.app, .failed(error.message)))
        if error.kind != .query || connection?.isHealthy != true { connection = nil }
      }
    }
    if let connection {
      connections.withLock { $0[node.name] = PostgresConnectionBox(connection: connection) }
    }
    return (results, .now)
  }
}

extension SessionCount {
  /// The same count `seconds` later: every session that much older.
  fileprivate func aged(by seconds: Double) -> SessionCount {
    guard case .counted(let ages, let terminated, let refusal) = self else { return self }
    return .counted(
      ages: ages.map { $0 + seconds }, terminated: terminated, cannotTerminate: refusal)
  }
}

/// A connection handed between threads, one at a time.
struct PostgresConnectionBox: @unchecked Sendable {
  let connection: PostgresConnection
}
