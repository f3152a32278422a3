package import PGFollowCore
import PGFollowPostgres
import PGFollowSystem

/// One app's sessions from this host on one node: client backends from this host's address (the
/// configured one, or that of pgfollow's own session) with the app's role and application name,
/// each with its age by the node's clock. With `terminate`, they are terminated as they are
/// counted. The first row also says whether this role may see other roles' sessions
/// (pg_read_all_stats) and terminate them (pg_signal_backend).
struct SessionQuery: Sendable {
  static let sql = """
    SELECT pg_catalog.current_setting('is_superuser') = 'on'
        OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE'),
      pg_catalog.current_setting('is_superuser') = 'on'
        OR pg_catalog.pg_has_role('pg_signal_backend', 'USAGE'),
      pg_catalog.host(pg_catalog.inet_client_addr()),
      pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - s.backend_start),
      CASE WHEN $4::bool THEN pg_catalog.pg_terminate_backend(s.pid) END
    FROM (SELECT 1) AS one
    LEFT JOIN pg_catalog.pg_stat_activity AS s
      ON s.backend_type = 'client backend' AND s.pid <> pg_catalog.pg_backend_pid()
      AND s.client_addr = coalesce($1::inet, pg_catalog.inet_client_addr())
      AND ($2::text IS NULL OR s.usename = $2) AND ($3::text IS NULL OR s.application_name = $3)
    """

  let verify: VerifyConfig
  let terminate: Bool

  func run(on connection: PostgresConnection, deadline: ContinuousClock.Instant)
    throws(PostgresError) -> SessionCount
  {
    let rows = try connection.query(
      Self.sql,
      parameters: [verify.address, verify.role, verify.applicationName, terminate ? "t" : "f"],
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
    if terminate && first[1] != "t" {
      return .hidden(
        "the watchers' role may not terminate sessions: GRANT pg_signal_backend TO it "
          + "(or run pgfollow init --grant-sessions)")
    }
    let ages = rows.compactMap { $0[3].flatMap(Double.init) }
    let terminated = rows.filter { $0[4] == "t" }.count
    return .counted(ages: ages, terminated: terminated)
  }
}

/// Counts apps' sessions on the nodes, each node on a thread of its own, over one connection per
/// node that is kept between counts and opened again after a failure.
package final class SessionCounter: Sendable {
  /// A connection is taken out while a thread uses it, and put back after.
  private let connections = Locked<[String: PostgresConnectionBox]>([:])

  package init() {}

  /// What to count on a node: for each app, its verify settings and whether to terminate.
  package struct Request: Sendable {
    package var app: String
    package var verify: VerifyConfig
    package var terminate = false

    package init(app: String, verify: VerifyConfig, terminate: Bool = false) {
      self.app = app
      self.verify = verify
      self.terminate = terminate
    }
  }

  /// Each app's count by node, for the requests of each node.
  package func count(
    _ requests: [(node: NodeConfig, requests: [Request])], timeouts: Timeouts
  ) async -> [String: [String: SessionCount]] {
    let counted = await concurrentlyInOrder(requests) { item in
      await onOwnThread { self.count(item.requests, on: item.node, timeouts: timeouts) }
    }
    var byApp: [String: [String: SessionCount]] = [:]
    for (item, counts) in zip(requests, counted) {
      for (app, count) in counts { byApp[app, default: [:]][item.node.name] = count }
    }
    return byApp
  }

  /// Closes every connection kept.
  package func closeAll() { connections.withLock { $0 = [:] } }

  private func count(_ requests: [Request], on node: NodeConfig, timeouts: Timeouts) -> [(
    String, SessionCount
  )] {
    var connection = connections.withLock { $0.removeValue(forKey: node.name) }?.connection
    var results: [(String, SessionCount)] = []
    for request in requests {
      do throws(PostgresError) {
        if connection == nil {
          connection = try PostgresConnection.connect(
            conninfo: node.conninfo, deadline: .now + timeouts.connect)
        }
        guard let open = connection else { continue }
        let query = SessionQuery(verify: request.verify, terminate: request.terminate)
        results.append((request.app, try query.run(on: open, deadline: .now + timeouts.query)))
      } catch {
        results.append((request.app, .failed(error.message)))
        if error.kind != .query || connection?.isHealthy != true { connection = nil }
      }
    }
    if let connection {
      connections.withLock { $0[node.name] = PostgresConnectionBox(connection: connection) }
    }
    return results
  }
}

/// A connection handed between threads, one at a time.
struct PostgresConnectionBox: @unchecked Sendable {
  let connection: PostgresConnection
}
