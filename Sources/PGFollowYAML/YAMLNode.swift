/// A node of one YAML document, built from events. Aliases stay aliases: callers decide whether
/// following them is allowed.
package indirect enum YAMLNode: Sendable {
  case scalar(YAMLScalar)
  case mapping([YAMLPair], YAMLNodeInfo)
  case sequence([YAMLNode], YAMLNodeInfo)
  case alias(name: String, YAMLNodeInfo)

  package var info: YAMLNodeInfo {
    switch self {
    case .scalar(let scalar): scalar.info
    case .mapping(_, let info), .sequence(_, let info), .alias(_, let info): info
    }
  }

  package var start: YAMLMark { info.start }

  /// A short name of the node's kind, for error messages.
  package var kindName: String {
    switch self {
    case .scalar: "a scalar"
    case .mapping: "a mapping"
    case .sequence: "a sequence"
    case .alias(let name, _): "an alias (*\(name))"
    }
  }
}

package struct YAMLNodeInfo: Sendable {
  package var start: YAMLMark
  package var end: YAMLMark
  package var anchor: String?
  package var tag: String?
  /// Index of the node's first event in the document's event list.
  package var eventIndex: Int
}

package struct YAMLScalar: Sendable {
  package var value: String
  package var style: YAMLScalarStyle
  package var info: YAMLNodeInfo
}

package struct YAMLPair: Sendable {
  package var key: YAMLNode
  package var value: YAMLNode

  /// The key's text when it is a scalar.
  package var keyText: String? {
    if case .scalar(let scalar) = key { return scalar.value }
    return nil
  }
}

/// The documents of a YAML text, as node trees.
package func parseYAMLDocuments(_ events: [YAMLEvent]) -> [YAMLNode] {
  var builder = NodeBuilder(events: events)
  return builder.documents()
}

/// Rejects an alias to an anchor not defined earlier in its document (libyaml's parser allows it).
package func checkAliases(_ events: [YAMLEvent], file: String) throws(YAMLError) {
  var anchors: Set<String> = []
  for event in events {
    if event.kind == .documentStart { anchors = [] }
    if let anchor = event.anchor { anchors.insert(anchor) }
    if event.kind == .alias, let name = event.value, !anchors.contains(name) {
      throw YAMLError(file: file, mark: event.start, message: "found undefined alias *\(name)")
    }
  }
}

private struct NodeBuilder {
  let events: [YAMLEvent]
  var position = 0

  mutating func documents() -> [YAMLNode] {
    var result: [YAMLNode] = []
    while position < events.count {
      if events[position].kind == .documentStart {
        position += 1
        result.append(node())
      }
      position += 1
    }
    return result
  }

  mutating func node() -> YAMLNode {
    let event = events[position]
    let index = position
    position += 1
    var info = YAMLNodeInfo(
      start: event.start, end: event.end, anchor: event.anchor, tag: event.tag, eventIndex: index)
    switch event.kind {
    case .scalar:
      return .scalar(YAMLScalar(value: event.value ?? "", style: event.style ?? .plain, info: info))
    case .alias:
      return .alias(name: event.value ?? "", info)
    case .sequenceStart:
      var items: [YAMLNode] = []
      while events[position].kind != .sequenceEnd { items.append(node()) }
      info.end = events[position].end
      position += 1
      return .sequence(items, info)
    case .mappingStart:
      var pairs: [YAMLPair] = []
      while events[position].kind != .mappingEnd {
        let key = node()
        pairs.append(YAMLPair(key: key, value: node()))
      }
      info.end = events[position].end
      position += 1
      return .mapping(pairs, info)
    default:
      return .scalar(YAMLScalar(value: "", style: .plain, info: info))
    }
  }
}

extension YAMLNode {
  /// The same tree with every alias replaced by the node its anchor names (for reading, not
  /// editing). Run `checkAliases` first: an undefined alias is left in place.
  package func resolvingAliases() -> YAMLNode {
    var anchors: [String: YAMLNode] = [:]
    return resolve(&anchors)
  }

  private func resolve(_ anchors: inout [String: YAMLNode]) -> YAMLNode {
    let resolved: YAMLNode
    switch self {
    case .alias(let name, _): return anchors[name] ?? self
    case .scalar: resolved = self
    case .sequence(let items, let info):
      resolved = .sequence(items.map { $0.resolve(&anchors) }, info)
    case .mapping(let pairs, let info):
      resolved = .mapping(
        pairs.map { YAMLPair(key: $0.key.resolve(&anchors), value: $0.value.resolve(&anchors)) },
        info)
    }
    if let anchor = info.anchor { anchors[anchor] = resolved }
    return resolved
  }
}
