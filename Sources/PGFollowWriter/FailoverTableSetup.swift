package import PGFollowCore
import PGFollowPostgres

/// `pgfollow init`: creates the state database, the table and its index if absent, adds the
/// columns that record the cluster's history with each row (timeline, WAL position, system
/// identifier: see `HistorySQL`), and grants access to the watchers (SELECT) and writers
/// (SELECT, INSERT). Every statement is idempotent.
package struct FailoverTableSetup: Sendable {
  package var conninfo: String
  package var database: String
  package var table: FailoverTable
  /// `unixtime bigint, host text` instead of the original `unixtime int, host varchar(10)`.
  package var wide: Bool
  package var readers: [String]
  package var writers: [String]
  /// When set, each reader role is created if absent (LOGIN, not a superuser) and its
  /// CONNECTION LIMIT set to this: a fleet of watchers can never take every slot.
  package var connectionLimit: Int?
  /// Each reader role may also see other roles' sessions and terminate them, for `verify:`.
  package var sessionGrants = false

  package init(
    conninfo: String, database: String, table: FailoverTable, wide: Bool, readers: [String],
    writers: [String]
  ) {
    self.conninfo = conninfo
    self.database = database
    self.table = table
    self.wide = wide
    self.readers = readers
    self.writers = writers
  }

  /// The statements run inside the state database, in order.
  package var tableStatements: [String] {
    let relation = quoteRelation(table.table)
    let ts = quoteIdentifier(table.timestampColumn)
    let host = quoteIdentifier(table.hostColumn)
    let parts = table.table.split(separator: ".").map(String.init)
    let schema = parts.count == 2 ? parts[0] : "public"
    let bare = parts.last ?? table.table
    var statements: [String] = []
    if parts.count == 2 {
      statements.append("CREATE SCHEMA IF NOT EXISTS \(quoteIdentifier(schema))")
    }
    let types = wide ? ("bigint", "text") : ("int", "varchar(10)")
    statements.append(
      "CREATE TABLE IF NOT EXISTS \(relation) (\(ts) \(types.0), \(host) \(types.1))")
    // Where the cluster's history stood at each insert, filled by the server whoever inserts.
    // Existing rows keep NULL: a default given with ADD COLUMN would stamp them with today's.
    for (column, type, value) in HistorySQL.columnDefinitions {
      statements.append(
        "ALTER TABLE \(relation) ADD COLUMN IF NOT EXISTS \(quoteIdentifier(column)) \(type)")
      statements.append(
        "ALTER TABLE \(relation) ALTER COLUMN \(quoteIdentifier(column)) SET DEFAULT \(value)")
    }
    // What keeps each probe to a few rows however large the table grows (`HistorySQL.newestRow`).
    let indexes = HistorySQL.indexColumns(timestamp: table.timestampColumn, withHistory: true)
    for (columns, suffix) in zip(indexes, [table.timestampColumn, "history"]) {
      let index = quoteIdentifier("\(bare)_\(suffix)_idx")
      let list = columns.map(quoteIdentifier).joined(separator: ", ")
      statements.append("CREATE INDEX IF NOT EXISTS \(index) ON \(relation) (\(list))")
    }
    var granted: Set<String> = []
    for role in readers + writers where granted.insert(role).inserted {
      statements.append(
        "GRANT CONNECT ON DATABASE \(quoteIdentifier(database)) TO \(quoteIdentifier(role))")
      statements.append(
        "GRANT USAGE ON SCHEMA \(quoteIdentifier(schema)) TO \(quoteIdentifier(role))")
    }
    statements += readers.map { "GRANT SELECT ON \(relation) TO \(quoteIdentifier($0))" }
    statements += writers.map { "GRANT SELECT, INSERT ON \(relation) TO \(quoteIdentifier($0))" }
    if sessionGrants {
      statements += readers.map {
        "GRANT pg_read_all_stats, pg_signal_backend TO \(quoteIdentifier($0))"
      }
    }
    return statements
  }

  /// What a dry run prints.
  package var script: String {
    var lines = [
      "-- on the server's maintenance database, if \(database) is absent:",
      "CREATE DATABASE \(quoteIdentifier(database));",
    ]
    if let limit = connectionLimit {
      lines.append("-- each watcher role: created if absent, else altered")
      for role in readers {
        lines.append(createRole(role, limit: limit) + ";")
        lines.append(alterRole(role, limit: limit) + ";")
      }
    }
    lines.append("-- in \(database):")
    return (lines + tableStatements.map { $0 + ";" }).joined(separator: "\n") + "\n"
  }

  func createRole(_ role: String, limit: Int) -> String {
    "CREATE ROLE \(quoteIdentifier(role)) LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
      + "NOREPLICATION CONNECTION LIMIT \(limit)"
  }

  func alterRole(_ role: String, limit: Int) -> String {
    "ALTER ROLE \(quoteIdentifier(role)) LOGIN CONNECTION LIMIT \(limit)"
  }

  /// Creates or caps the watcher roles (with a connection limit); refuses a superuser, which no
  /// limit binds. Returns what it did.
  private func prepareWatcherRoles(_ admin: PostgresConnection, limit: Int, timeout: Duration)
    throws -> [String]
  {
    var statements: [String] = []
    for role in readers {
      let found = try admin.query(
        "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1", parameters: [role],
        deadline: .now + timeout)
      if found.first?.first == "t" {
        throw RecordError.database(
          "\(role) is a superuser: superusers escape CONNECTION LIMIT and take the slots reserved "
            + "for administrators; give the watchers a role of their own; nothing was changed")
      }
      statements.append(
        found.isEmpty ? createRole(role, limit: limit) : alterRole(role, limit: limit))
    }
    for statement in statements { _ = try admin.query(statement, deadline: .now + timeout) }
    return statements
  }

  /// Runs the statements; returns what it did, a line each. Blocks the calling thread.
  package func run(timeout: Duration = .seconds(30)) throws(RecordError) -> [String] {
    var done: [String] = []
    do {
      let admin = try PostgresConnection.connect(conninfo: conninfo, deadline: .now + timeout)
      if let limit = connectionLimit {
        done += try prepareWatcherRoles(admin, limit: limit, timeout: timeout)
      }
      // Every role named must exist before anything is created.
      for role in Set(readers + writers).sorted() {
        let found = try admin.query(
          "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", parameters: [role],
          deadline: .now + timeout)
        if found.isEmpty {
          throw RecordError.database(
            "no role named \(role): create it first (CREATE ROLE \(quoteIdentifier(role)) LOGIN "
              + "PASSWORD '…';), or leave it out of --grant and --grant-writer; nothing was changed"
          )
        }
      }
      let exists = try admin.query(
        "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", parameters: [database],
        deadline: .now + timeout)
      if exists.isEmpty {
        _ = try admin.query(
          "CREATE DATABASE \(quoteIdentifier(database))", deadline: .now + timeout)
        done.append("created database \(database)")
      } else {
        done.append("database \(database) exists")
      }
      let state = try PostgresConnection.connect(
        conninfo: conninfo, database: database, deadline: .now + timeout)
      for statement in tableStatements {
        _ = try state.query(statement, deadline: .now + timeout)
        done.append(statement)
      }
    } catch let error as RecordError {
      throw error
    } catch let error as PostgresError {
      throw RecordError(error, table: table)
    } catch {
      throw RecordError.database("\(error)")
    }
    return done
  }
}
