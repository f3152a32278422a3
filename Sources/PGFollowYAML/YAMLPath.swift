/// A path to one node, written like `db_master[0].address` or `servers["db.main"].host`.
public struct YAMLPath: Sendable, Hashable, CustomStringConvertible {
  public enum Component: Sendable, Hashable {
    case key(String)
    case index(Int)
  }

  public var components: [Component]

  public init(components: [Component]) {
    self.components = components
  }

  /// Parses the path syntax; the error message says what is wrong and where.
  public init(parsing text: String) throws(YAMLPathSyntaxError) {
    var parser = PathParser(characters: Array(text))
    components = try parser.parse()
  }

  public var description: String {
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

public struct YAMLPathSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public var description: String { message }
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

extension YAMLNode {
  /// The scalar at `path`, refusing to pass through or land on an alias.
  public func scalar(at path: YAMLPath, file: String) throws(YAMLError) -> YAMLScalar {
    var node = self
    var walked = YAMLPath(components: [])
    for component in path.components {
      node = try node.child(component, walked: walked, file: file)
      walked.components.append(component)
    }
    switch node {
    case .scalar(let scalar): return scalar
    case .alias(let name, let info):
      throw YAMLError(
        file: file, mark: info.start,
        message: "\(path) is an alias (*\(name)); edit the value where &\(name) is defined instead")
    default:
      throw YAMLError(
        file: file, mark: node.start, message: "\(path) is \(node.kindName), not a scalar")
    }
  }

  private func child(_ component: YAMLPath.Component, walked: YAMLPath, file: String)
    throws(YAMLError) -> YAMLNode
  {
    let here = walked.components.isEmpty ? "the document root" : walked.description
    switch (self, component) {
    case (.alias(let name, let info), _):
      throw YAMLError(
        file: file, mark: info.start,
        message: "\(here) is an alias (*\(name)); a path cannot go through an alias")
    case (.mapping(let pairs, let info), .key(let key)):
      let matches = pairs.filter { $0.keyText == key }
      if matches.count > 1 {
        let second = matches[1].key.start
        throw YAMLError(
          file: file, mark: second,
          message: "duplicate key \"\(key)\" in \(here) (first at \(matches[0].key.start))")
      }
      guard let match = matches.first else {
        let merged = pairs.contains { $0.keyText == "<<" } ? " (merged keys are not followed)" : ""
        throw YAMLError(
          file: file, mark: info.start, message: "no key \"\(key)\" in \(here)\(merged)")
      }
      return match.value
    case (.sequence(let items, let info), .index(let index)):
      guard index < items.count else {
        throw YAMLError(
          file: file, mark: info.start,
          message: "index [\(index)] is out of range: \(here) has \(items.count) item(s)")
      }
      return items[index]
    case (_, .key(let key)):
      throw YAMLError(
        file: file, mark: start,
        message: "\(here) is \(kindName), so it has no key \"\(key)\"")
    case (_, .index(let index)):
      throw YAMLError(
        file: file, mark: start,
        message: "\(here) is \(kindName), so it has no item [\(index)]")
    }
  }
}
