import PGFollowCore

/// A failure talking to one server. The message comes from libpq or the server, which never
/// repeat a password; conninfo strings are never part of it.
package struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
  package enum Kind: Sendable, Hashable {
    case connect, query, timeout
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
