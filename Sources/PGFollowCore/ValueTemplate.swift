/// A value to write into the application's file, such as `{leader.host}:{leader.port}`.
///
/// Placeholders are `{ROLE.FIELD}`: ROLE is `leader`, or `standby` (a healthy standby, or the
/// leader when there is none); FIELD is `address`, `host`, `port` or `name`. `{{` and `}}` stand
/// for literal braces.
package struct ValueTemplate: Sendable, Hashable, CustomStringConvertible {
  package enum Role: String, Sendable, Hashable, CaseIterable { case leader, standby }
  package enum Field: String, Sendable, Hashable, CaseIterable { case address, host, port, name }

  enum Part: Sendable, Hashable {
    case literal(String)
    case placeholder(Role, Field)
  }

  let parts: [Part]
  package let description: String

  /// Whether the value names the leader (a change of it is never left to settle).
  package var usesLeader: Bool {
    parts.contains { if case .placeholder(.leader, _) = $0 { true } else { false } }
  }

  package var usesPort: Bool {
    parts.contains { if case .placeholder(_, .port) = $0 { true } else { false } }
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
    guard pieces.count == 2, let role = Role(rawValue: String(pieces[0])),
      let field = Field(rawValue: String(pieces[1]))
    else {
      let roles = Role.allCases.map(\.rawValue).joined(separator: "|")
      let fields = Field.allCases.map(\.rawValue).joined(separator: "|")
      throw TemplateSyntaxError(
        message: "unknown placeholder {\(name)} in \"\(text)\"; use {\(roles).\(fields)}")
    }
    return .placeholder(role, field)
  }

  package func render(leader: NodeConfig, standby: NodeConfig) -> String {
    parts.map { part in
      switch part {
      case .literal(let text): text
      case .placeholder(let role, let field): (role == .leader ? leader : standby).field(field)
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
