import PGFollowCore

/// A failure talking to one server. The message comes from libpq or the server, which never
/// repeat a password; conninfo strings are never part of it.
package struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
  package enum Kind: Sendable, Hashable {
    /// `interrupted`: a wait given an interruption descriptor saw it become readable.
    case connect, query, timeout, interrupted
  }

  package var kind: Kind
  package var message: String
  /// The server's SQLSTATE, when the server reported the error.
  package var sqlState: String?

  package init(kind: Kind, message: String, sqlState: String? = nil) {
    self.kind = kind
    self.message = message
    self.sqlState = sqlState
  }

  package var description: String { message }
}

/// libpq's multi-line messages as one line.
func oneLine(_ text: String) -> String {
  text.split(whereSeparator: \.isNewline).map { $0.trimming(\.isWhitespace) }.filter { !$0.isEmpty }
    .joined(separator: "; ")
}

extension PostgresError {
  /// Why a server or a pooler turned pgfollow away, when it said so.
  package enum Refusal: Sendable, Hashable {
    /// No connection slot left: `max_connections`, the reserved slots, or the role's
    /// `CONNECTION LIMIT` (SQLSTATE 53300), or a pooler's `max_client_conn`.
    case noSlot
    /// A pooler that answers while the server behind it does not.
    case poolerCannotReachServer
    /// The database, role or table named does not exist (yet: on a standby, it may be
    /// replication lag).
    case missing
    /// The login was refused: a password, pg_hba.conf.
    case denied
    /// The conninfo cannot work: a host name that does not resolve, an invalid setting, TLS.
    case misconfigured
  }

  /// What the message says, in the English of PostgreSQL and PgBouncer (their SQLSTATE is not
  /// given for a refused login), or by SQLSTATE when there is one.
  package var refusal: Refusal? {
    if sqlState == "53300" || Self.noSlotMarks.contains(where: message.contains) { return .noSlot }
    if Self.poolerMarks.contains(where: message.contains) { return .poolerCannotReachServer }
    if ["3D000", "42P01", "42704"].contains(sqlState) || message.contains("does not exist") {
      return .missing
    }
    if ["28P01", "28000"].contains(sqlState) || Self.deniedMarks.contains(where: message.contains) {
      return .denied
    }
    return Self.misconfiguredMarks.contains(where: message.contains) ? .misconfigured : nil
  }

  private static let deniedMarks = [
    "authentication failed", "no password supplied", "no pg_hba.conf entry", "password",
  ]

  private static let misconfiguredMarks = [
    "could not translate host name", "invalid ", "certificate", "SSL",
  ]

  private static let noSlotMarks = [
    "too many connections for role", "remaining connection slots are reserved",
    "sorry, too many clients already", "no more connections allowed (max_client_conn)",
  ]

  private static let poolerMarks = [
    "server login has been failing", "query_wait_timeout", "pgbouncer cannot connect to server",
    "server conn crashed?", "server_connect_timeout",
  ]
}
