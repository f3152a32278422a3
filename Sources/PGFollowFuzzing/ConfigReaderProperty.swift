import PGFollowConfig
import PGFollowCore
import PGFollowPostgres
import PGFollowYAML

/// The configuration reader's fuzzing property: any text either loads into a configuration that
/// keeps the invariants the daemon relies on, or fails with problems that each name a place in
/// the file; the result is the same every time, and no conninfo password appears in a problem.
package func checkConfigReaderProperty(_ data: [UInt8]) throws(PropertyViolation) {
  let first = load(data)
  let second = load(data)
  switch (first, second) {
  case (.success(let config), .success(let again)):
    try ensure("\(config)" == "\(again)", "two loads of the same text differ")
    try checkInvariants(config)
  case (.failure(let error), .failure(let again)):
    try ensure(error.description == again.description, "two loads report different problems")
    try checkProblems(error, lineCount: lineBreaks(data) + 1)
    for secret in passwords(in: data) {
      try ensure(!error.description.contains(secret), "a problem repeats a password: \(error)")
    }
    for problem in error.problems { try checkMasked(problem.message) }
  default:
    throw violation("one load succeeded and the other failed")
  }
}

private func load(_ data: [UInt8]) -> Result<Config, ConfigError> {
  Result { () throws(ConfigError) in
    try loadConfig(bytes: data, file: "fuzz.yaml", baseDirectory: "/etc/pgfollow")
  }
}

/// Line breaks as YAML 1.1 counts them: LF, CR, CR LF, NEL, LS and PS (an upper bound: CR LF
/// counts twice here).
private func lineBreaks(_ data: [UInt8]) -> Int {
  String(decoding: data, as: UTF8.self).unicodeScalars.count {
    ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"].contains($0)
  }
}

private func checkProblems(_ error: ConfigError, lineCount: Int) throws(PropertyViolation) {
  try ensure(!error.problems.isEmpty, "a failed load names no problem")
  for problem in error.problems {
    try ensure(problem.file == "fuzz.yaml" && !problem.message.isEmpty, "a problem without text")
    guard let mark = problem.mark else { continue }
    try ensure(
      mark.line >= 1 && mark.line <= lineCount + 1 && mark.column >= 1,
      "a problem's place \(mark) lies outside the \(lineCount)-line file: \(problem)")
  }
}

private func checkInvariants(_ config: Config) throws(PropertyViolation) {
  let names = config.nodes.map(\.name)
  try ensure(!names.isEmpty && Set(names).count == names.count, "node names empty or repeated")
  try ensure(config.nodes.allSatisfy { !$0.conninfo.isEmpty }, "a node without conninfo")
  try ensure(!config.apps.isEmpty, "no app")
  try ensure(config.apps.allSatisfy { !$0.values.isEmpty }, "an app's set is empty")
  try ensure(
    config.apps.allSatisfy { $0.file.hasPrefix("/") }, "an app's file did not become absolute")
  try ensure(Set(config.apps.map(\.file)).count == config.apps.count, "two apps share a file")
  try ensure(Set(config.apps.map(\.label)).count == config.apps.count, "two apps share a name")
  try ensure(config.stateDirectory.hasPrefix("/"), "state_directory did not become absolute")
  try ensure((1...100).contains(config.run.confirmations), "confirmations out of range")
  try ensure(!config.allUnits.contains { $0.hasPrefix("-") }, "a unit name reads as an option")
  try ensure(
    config.apps.allSatisfy { $0.hooks.allSatisfy { !$0.command.isEmpty } },
    "a hook without a command")
  try ensure(config.timeouts.connect > .zero && config.timeouts.query > .zero, "a zero timeout")
}

/// libpq quotes parts of a bad conninfo in its messages; each quoted part must be masked, unless
/// it is a connection keyword or punctuation (which cannot be a secret: a keyword's value and any
/// stray word are masked).
private func checkMasked(_ message: String) throws(PropertyViolation) {
  guard let range = message.firstRange(of: ".conninfo is invalid: ") else { return }
  let libpq = String(message[range.upperBound...])
  let quoted = libpq.unicodeScalars.split(separator: "\"", omittingEmptySubsequences: false)
    .enumerated().filter { $0.offset % 2 == 1 }.map { String(String.UnicodeScalarView($0.element)) }
  let harmless = { (part: String) in
    Conninfo.keywords.contains(part)
      || part.unicodeScalars.allSatisfy { !$0.properties.isAlphabetic && !("0"..."9").contains($0) }
  }
  try ensure(
    quoted.allSatisfy { $0 == "…" || harmless($0) },
    "a quoted part of a conninfo is shown: \(message)")
}

/// Passwords written as `password=SECRET` in the nodes' conninfo values, long enough and
/// appearing only once in the text, so finding one in a message can only mean the message
/// repeated a conninfo.
private func passwords(in data: [UInt8]) -> [String] {
  guard let events = try? parseYAMLEvents(data, file: "fuzz.yaml"),
    case .mapping(let top, _)? = parseYAMLDocuments(events).first,
    case .sequence(let nodes, _)? = top.first(where: { $0.keyText == "nodes" })?.value
  else { return [] }
  let text = String(decoding: data, as: UTF8.self)
  return nodes.compactMap { node -> String? in
    guard case .mapping(let fields, _) = node,
      case .scalar(let conninfo)? = fields.first(where: { $0.keyText == "conninfo" })?.value,
      let range = conninfo.value.firstRange(of: "password=")
    else { return nil }
    // Scalars, not Characters: a secret may start with a combining mark.
    var secret = ""
    for scalar in conninfo.value[range.upperBound...].unicodeScalars {
      if scalar.properties.isWhitespace || scalar == "'" || scalar == "\"" { break }
      secret.unicodeScalars.append(scalar)
    }
    let once = text.utf8.ranges(of: secret.utf8).count == 1
    return secret.unicodeScalars.count >= 6 && once ? secret : nil
  }
}
