package import PGFollowCore

extension YAMLNode {
  /// The scalar at `path`, refusing to pass through or land on an alias.
  package func scalar(at path: YAMLPath, file: String) throws(YAMLError) -> YAMLScalar {
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
        let near = closestMatch(key, in: pairs.compactMap(\.keyText))
        let suggestion = near.map { "; did you mean \"\($0)\"?" } ?? ""
        throw YAMLError(
          file: file, mark: info.start,
          message: "no key \"\(key)\" in \(here)\(merged)\(suggestion)")
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
