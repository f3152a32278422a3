/// A value to write into the application's file, such as `{leader.host}:{leader.port}`.
///
/// Placeholders are `{ROLE.FIELD}`: ROLE is `leader`, `standby[K]` (the K-th healthy standby in
/// configuration order, from 0; with fewer healthy standbys it wraps around, with none it is the
/// leader) or `standby` (the same as `standby[0]`); FIELD is `address`, `host`, `port` or
/// `name`. `{{` and `}}` stand for literal braces.
package struct ValueTemplate: Sendable, Hashable, CustomStringConvertible {
  package enum Role: String, Sendable, Hashable, CaseIterable { case leader, standby }
  package enum Field: String, Sendable, Hashable, CaseIterable { case address, host, port, name }

  enum Part: Sendable, Hashable {
    case literal(String)
    /// `index` picks among the healthy standbys; it is 0 for the leader.
    case placeholder(Role, Field, index: Int)
  }

  let parts: [Part]
  package let description: String

  /// Whether the value names the leader (a change of it is never left to settle).
  package var usesLeader: Bool {
    parts.contains { if case .placeholder(.leader, _, _) = $0 { true } else { false } }
  }

  package var usesPort: Bool {
    parts.contains { if case .placeholder(_, .port, _) = $0 { true } else { false } }
  }

  package init(parsing text: String) throws(TemplateSyntaxError) {
    description = text
    var parts: [Part] = []
    var literal = ""
    var rest = Substring(text)
    while let character = rest.first {
      rest = rest.dropFirst()
      if (character == "{" || character == "}") && rest.first == character {
        literal.append(character)
        rest = rest.dropFirst()
      } else if character == "{" {
        guard let close = rest.firstIndex(of: "}") else {
          throw TemplateSyntaxError(message: "unclosed '{' in \"\(text)\"")
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        literal = ""
        parts.append(try Self.placeholder(String(rest[..<close]), in: text))
        rest = rest[rest.index(after: close)...]
      } else if character == "}" {
        throw TemplateSyntaxError(message: "unmatched '}' in \"\(text)\" (write }} for a brace)")
      } else {
        literal.append(character)
      }
    }
    if !literal.isEmpty { parts.append(.literal(literal)) }
    self.parts = parts
  }

  private static func placeholder(_ name: String, in text: String) throws(TemplateSyntaxError)
    -> Part
  {
    let pieces = name.split(separator: ".", omittingEmptySubsequences: false)
    let (roleName, index) = pieces.first.map(splitIndex) ?? ("", nil)
    guard pieces.count == 2, let role = Role(rawValue: roleName),
      let field = Field(rawValue: String(pieces[1])), index != -1,
      role == .standby || index == nil
    else {
      let fields = Field.allCases.map(\.rawValue).joined(separator: "|")
      throw TemplateSyntaxError(
        message: "unknown placeholder {\(name)} in \"\(text)\"; use "
          + "{leader|standby|standby[K].\(fields)}")
    }
    return .placeholder(role, field, index: index ?? 0)
  }

  /// `standby[2]` is ("standby", 2); `standby` is ("standby", nil); a malformed index is -1.
  private static func splitIndex(_ text: Substring) -> (String, Int?) {
    guard let open = text.firstIndex(of: "["), text.last == "]" else { return (String(text), nil) }
    let digits = text[text.index(after: open)..<text.index(before: text.endIndex)]
    let index = digits.allSatisfy(\.isASCII) ? Int(digits).flatMap { $0 >= 0 ? $0 : nil } : nil
    return (String(text[..<open]), index ?? -1)
  }

  /// The value for a decision to follow `leader`, with the healthy `standbys` in configuration
  /// order.
  package func render(leader: NodeConfig, standbys: [NodeConfig]) -> String {
    parts.map { part in
      switch part {
      case .literal(let text): text
      case .placeholder(.leader, let field, _): leader.field(field)
      case .placeholder(.standby, let field, let index):
        (standbys.isEmpty ? leader : standbys[index % standbys.count]).field(field)
      }
    }.joined()
  }
}

package struct TemplateSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
  package var message: String
  package var description: String { message }
}

extension NodeConfig {
  func field(_ field: ValueTemplate.Field) -> String {
    switch field {
    case .address: address
    case .host: host
    case .port: port ?? ""
    case .name: name
    }
  }
}
