/// A failure talking to one server. The message comes from libpq or the server, which never
/// repeat a password; conninfo strings are never part of it.
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
  public enum Kind: Sendable, Hashable {
    case connect, query, timeout
  }

  public var kind: Kind
  public var message: String
  /// The server's SQLSTATE, when the server reported the error.
  public var sqlState: String?

  public init(kind: Kind, message: String, sqlState: String? = nil) {
    self.kind = kind
    self.message = message
    self.sqlState = sqlState
  }

  public var description: String { message }
}

/// libpq's multi-line messages as one line.
func oneLine(_ text: String) -> String {
  text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
    .joined(separator: "; ")
}

extension Substring {
  fileprivate func trimmingCharacters() -> Substring {
    var text = self
    while text.first?.isWhitespace == true { text = text.dropFirst() }
    while text.last?.isWhitespace == true { text = text.dropLast() }
    return text
  }
}
