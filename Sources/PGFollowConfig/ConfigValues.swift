import PGFollowCore
import PGFollowYAML

/// Typed reads of configuration nodes; each failure is recorded with its place and reading goes on.
extension ConfigReader {
  /// Something accepted and ignored, said with its place once the file is loaded.
  mutating func warn(_ node: YAMLNode, _ message: String) {
    warnings.append(YAMLError(file: file, mark: node.start, message: message))
  }

  mutating func fail(_ node: YAMLNode?, _ message: String) {
    problems.append(YAMLError(file: file, mark: node?.start, message: message))
  }

  /// A mapping's values by key, after reporting unknown and duplicate keys.
  mutating func fields(_ node: YAMLNode, in context: String, allowed: [String]) -> ConfigFields? {
    guard case .mapping(let pairs, _) = node else {
      fail(node, "\(context) must be a mapping, not \(node.kindName)")
      return nil
    }
    var result = ConfigFields(mark: node.start)
    for pair in pairs {
      guard let key = pair.keyText else {
        fail(pair.key, "keys in \(context) must be plain strings")
        continue
      }
      if !allowed.contains(key) {
        let hint = closestMatch(key, in: allowed).map { "; did you mean \"\($0)\"?" } ?? ""
        fail(pair.key, "unknown key \"\(key)\" in \(context)\(hint)")
      } else if result[key] != nil {
        fail(pair.key, "duplicate key \"\(key)\" in \(context)")
      } else {
        result.values[key] = pair.value
      }
    }
    return result
  }

  mutating func require(_ fields: ConfigFields, _ key: String, in context: String) -> YAMLNode? {
    guard let value = fields[key] else {
      problems.append(
        YAMLError(
          file: file, mark: fields.mark, message: "\(context) is missing the key \"\(key)\""))
      return nil
    }
    return value
  }

  mutating func string(_ node: YAMLNode?, _ context: String) -> String? {
    guard let node else { return nil }
    guard case .scalar(let scalar) = node, !scalar.value.isEmpty else {
      fail(node, "\(context) must be a non-empty string")
      return nil
    }
    return scalar.value
  }

  mutating func stringList(_ node: YAMLNode?, _ context: String) -> [String]? {
    guard let node else { return nil }
    if case .scalar = node { return string(node, context).map { [$0] } }
    guard case .sequence(let items, _) = node else {
      fail(node, "\(context) must be a string or a list of strings")
      return nil
    }
    let values = items.compactMap { string($0, context) }
    return values.count == items.count ? values : nil
  }

  mutating func bool(_ node: YAMLNode?, _ context: String) -> Bool? {
    guard let node else { return nil }
    if case .scalar(let scalar) = node, scalar.style == .plain {
      switch scalar.value.lowercased() {
      case "true", "yes", "on": return true
      case "false", "no", "off": return false
      default: break
      }
    }
    fail(node, "\(context) must be true or false")
    return nil
  }

  mutating func choice<T: RawRepresentable & CaseIterable>(
    _ node: YAMLNode?, _ context: String, _ type: T.Type
  ) -> T? where T.RawValue == String {
    guard let node else { return nil }
    if case .scalar(let scalar) = node, let value = T(rawValue: scalar.value) { return value }
    let options = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
    fail(node, "\(context) must be one of \(options)")
    return nil
  }

  mutating func duration(_ node: YAMLNode?, _ context: String, within range: ClosedRange<Duration>)
    -> Duration?
  {
    guard let node else { return nil }
    guard case .scalar(let scalar) = node, let value = parseDuration(scalar.value) else {
      fail(node, "\(context) must be a duration such as 500ms, 2s, 1m30s or 1h")
      return nil
    }
    guard range.contains(value) else {
      fail(
        node,
        "\(context) must be between \(formatDuration(range.lowerBound)) "
          + "and \(formatDuration(range.upperBound)), not \(durationAsRead(scalar.value))")
      return nil
    }
    return value
  }

  mutating func integer(_ node: YAMLNode?, _ context: String, within range: ClosedRange<Int>)
    -> Int?
  {
    guard let node else { return nil }
    guard case .scalar(let scalar) = node, let value = Int(scalar.value), range.contains(value)
    else {
      fail(
        node, "\(context) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
      return nil
    }
    return value
  }

  /// A SQL identifier, optionally qualified with up to `dots` dots.
  mutating func identifier(_ node: YAMLNode?, _ context: String, dots: Int) -> String? {
    guard let node else { return nil }
    guard let text = string(node, context) else { return nil }
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    if parts.count > dots + 1 || parts.contains(where: \.isEmpty)
      || text.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\"" })
    {
      fail(node, "\(context) is not a valid identifier\(dots > 0 ? " (schema.table)" : "")")
      return nil
    }
    return text
  }
}

/// A mapping's values by key, and where the mapping starts.
struct ConfigFields {
  var mark: YAMLMark
  var values: [String: YAMLNode] = [:]

  subscript(key: String) -> YAMLNode? { values[key] }
}
