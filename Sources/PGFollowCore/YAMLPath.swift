/// A path to one node, written like `db_master[0].address` or `servers["db.main"].host`.
package struct YAMLPath: Sendable, Hashable, CustomStringConvertible {
  package enum Component: Sendable, Hashable {
    case key(String)
    case index(Int)
  }

  package var components: [Component]

  package init(components: [Component]) {
    self.components = components
  }

  /// Parses the path syntax; the error message says what is wrong and where.
  package init(parsing text: String) throws(YAMLPathSyntaxError) {
    var parser = PathParser(characters: Array(text))
    components = try parser.parse()
  }

  package var description: String {
    var text = ""
    for component in components {
      switch component {
      case .index(let index): text += "[\(index)]"
      case .key(let key) where key.allSatisfy(Self.isBareKeyCharacter) && !key.isEmpty:
        text += text.isEmpty ? key : ".\(key)"
      case .key(let key):
        let escaped = key.map { $0 == "\"" || $0 == "\\" ? "\\\($0)" : "\($0)" }.joined()
        text += "[\"\(escaped)\"]"
      }
    }
    return text
  }

  static func isBareKeyCharacter(_ character: Character) -> Bool {
    character.isLetter || character.isNumber || character == "_" || character == "-"
  }
}

package struct YAMLPathSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
  package var message: String
  package var description: String { message }
}

private struct PathParser {
  let characters: [Character]
  var position = 0

  mutating func parse() throws(YAMLPathSyntaxError) -> [YAMLPath.Component] {
    var components: [YAMLPath.Component] = []
    if characters.isEmpty { throw fail("the path is empty") }
    while position < characters.count {
      let character = characters[position]
      if character == "[" {
        components.append(try bracket())
      } else if character == "." && !components.isEmpty {
        position += 1
        components.append(.key(try bareKey()))
      } else if components.isEmpty {
        components.append(.key(try bareKey()))
      } else {
        throw fail("expected '.' or '[' at character \(position + 1)")
      }
    }
    return components
  }

  mutating func bareKey() throws(YAMLPathSyntaxError) -> String {
    let start = position
    while position < characters.count, YAMLPath.isBareKeyCharacter(characters[position]) {
      position += 1
    }
    if start == position { throw fail("expected a key name at character \(position + 1)") }
    return String(characters[start..<position])
  }

  mutating func bracket() throws(YAMLPathSyntaxError) -> YAMLPath.Component {
    position += 1
    let component: YAMLPath.Component
    if position < characters.count, characters[position] == "\"" {
      component = .key(try quotedKey())
    } else {
      let start = position
      while position < characters.count, characters[position].isASCII,
        characters[position].isNumber
      {
        position += 1
      }
      guard let index = Int(String(characters[start..<position])) else {
        throw fail("expected an index or a quoted key after '[' at character \(start + 1)")
      }
      component = .index(index)
    }
    guard position < characters.count, characters[position] == "]" else {
      throw fail("expected ']' at character \(position + 1)")
    }
    position += 1
    return component
  }

  mutating func quotedKey() throws(YAMLPathSyntaxError) -> String {
    position += 1
    var key = ""
    while position < characters.count {
      let character = characters[position]
      position += 1
      if character == "\"" { return key }
      if character == "\\", position < characters.count {
        key.append(characters[position])
        position += 1
      } else {
        key.append(character)
      }
    }
    throw fail("unterminated quoted key")
  }

  func fail(_ message: String) -> YAMLPathSyntaxError {
    YAMLPathSyntaxError(message: "invalid path \"\(String(characters))\": \(message)")
  }
}

/// Set the scalar at `path` to `value`.
package struct YAMLEdit: Sendable, Hashable {
  package var path: YAMLPath
  package var value: String

  package init(path: YAMLPath, value: String) {
    self.path = path
    self.value = value
  }
}
