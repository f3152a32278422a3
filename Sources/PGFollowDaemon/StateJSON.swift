import PGFollowCore
import PGFollowYAML

/// The state file is JSON, written here and read back with the project's YAML layer (the JSON
/// written is valid YAML), which keeps Foundation out of the binary.
extension FollowState {
  var json: String {
    var fields: [String] = []
    if let applied {
      fields.append(
        "\"applied\": {\"name\": \(jsonString(applied.name)), \"unixtime\": \(applied.unixtime)}")
    }
    fields.append("\"pendingRestart\": [\(pendingRestart.map(jsonString).joined(separator: ", "))]")
    fields.append("\"restartFailures\": \(restartFailures)")
    if let lastRestartError {
      fields.append("\"lastRestartError\": \(jsonString(lastRestartError))")
    }
    if let hooks {
      let previous = hooks.previous.map(jsonString) ?? "null"
      let pending = hooks.pending.map(String.init).joined(separator: ", ")
      let failures = hooks.failures.map(String.init).joined(separator: ", ")
      fields.append(
        "\"hooks\": {\"leader\": \(jsonString(hooks.leader)), \"previous\": \(previous), "
          + "\"reason\": \(jsonString(hooks.reason)), \"pending\": [\(pending)], "
          + "\"failures\": [\(failures)]}")
    }
    return "{\n  " + fields.joined(separator: ",\n  ") + "\n}\n"
  }

  init(json bytes: [UInt8], file: String) throws(YAMLError) {
    self.init()
    let events = try parseYAMLEvents(bytes, file: file)
    guard case .mapping(let pairs, _) = parseYAMLDocuments(events).first else {
      throw YAMLError(file: file, mark: nil, message: "not a JSON object")
    }
    for pair in pairs {
      switch (pair.keyText, pair.value) {
      case ("applied", .mapping(let fields, _)):
        let name = fields.first { $0.keyText == "name" }.flatMap { scalarText($0.value) }
        let time = fields.first { $0.keyText == "unixtime" }.flatMap { scalarText($0.value) }
        if let name, let time, let unixtime = Int64(time) {
          applied = AppliedLeader(name: name, unixtime: unixtime)
        }
      case ("pendingRestart", .sequence(let items, _)):
        pendingRestart = items.compactMap(scalarText)
      case ("restartFailures", let value):
        restartFailures = scalarText(value).flatMap { Int($0) } ?? 0
      case ("lastRestartError", let value):
        lastRestartError = scalarText(value)
      case ("hooks", .mapping(let fields, _)):
        hooks = HookRun(fields)
      default:
        throw YAMLError(file: file, mark: pair.key.start, message: "unexpected field")
      }
    }
  }
}

extension HookRun {
  fileprivate init?(_ fields: [YAMLPair]) {
    func value(_ key: String) -> YAMLNode? { fields.first { $0.keyText == key }?.value }
    func numbers(_ key: String) -> [Int] {
      guard case .sequence(let items, _)? = value(key) else { return [] }
      return items.compactMap { scalarText($0).flatMap { Int($0) } }
    }
    guard let leader = value("leader").flatMap(scalarText) else { return nil }
    let previous = value("previous").flatMap(scalarText)
    self.init(
      leader: leader, previous: previous, reason: value("reason").flatMap(scalarText) ?? "",
      pending: numbers("pending"), failures: numbers("failures"))
    if failures.count != pending.count { failures = pending.map { _ in 0 } }
  }
}

/// A scalar's text; JSON's null (a plain `null`) is nil.
private func scalarText(_ node: YAMLNode) -> String? {
  guard case .scalar(let scalar) = node else { return nil }
  return scalar.style == .plain && scalar.value == "null" ? nil : scalar.value
}

/// A JSON string literal.
func jsonString(_ text: String) -> String {
  var out = "\""
  for scalar in text.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    case "\u{0}"..."\u{1F}", "\u{7F}", "\u{2028}", "\u{2029}":
      let hex = String(scalar.value, radix: 16)
      out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    default: out.unicodeScalars.append(scalar)
    }
  }
  return out + "\""
}
