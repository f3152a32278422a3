import PGFollowCore
import PGFollowPostgres
import PGFollowYAML

/// The configuration reader's fuzzing property: any text either loads into a configuration that
/// keeps the invariants the daemon relies on, or fails with problems that each name a place in
/// the file; the result is the same every time, and no conninfo password appears in a problem.
public func checkConfigReaderProperty(_ data: [UInt8]) {
  let first = load(data)
  let second = load(data)
  switch (first, second) {
  case (.success(let config), .success(let again)):
    require("\(config)" == "\(again)", "two loads of the same text differ")
    checkInvariants(config)
  case (.failure(let error), .failure(let again)):
    require(error.description == again.description, "two loads report different problems")
    checkProblems(error, lineCount: data.count { $0 == 0x0A } + 1)
    for secret in passwords(in: data) {
      require(!error.description.contains(secret), "a problem repeats a password: \(error)")
    }
  default:
    fail("one load succeeded and the other failed")
  }
}

private func load(_ data: [UInt8]) -> Result<Config, ConfigError> {
  Result { () throws(ConfigError) in
    try loadConfig(
      bytes: data, file: "fuzz.yaml", baseDirectory: "/etc/pgfollow",
      checkConninfo: Conninfo.problem)
  }
}

private func checkProblems(_ error: ConfigError, lineCount: Int) {
  require(!error.problems.isEmpty, "a failed load names no problem")
  for problem in error.problems {
    require(problem.file == "fuzz.yaml" && !problem.message.isEmpty, "a problem without text")
    guard let mark = problem.mark else { continue }
    require(
      mark.line >= 1 && mark.line <= lineCount + 1 && mark.column >= 1,
      "a problem's place \(mark) lies outside the \(lineCount)-line file: \(problem)")
  }
}

private func checkInvariants(_ config: Config) {
  let names = config.nodes.map(\.name)
  require(!names.isEmpty && Set(names).count == names.count, "node names empty or repeated")
  require(config.nodes.allSatisfy { !$0.conninfo.isEmpty }, "a node without conninfo")
  require(!config.app.values.isEmpty, "app.set is empty")
  require(config.app.file.hasPrefix("/"), "app.file did not become absolute")
  require(config.stateDirectory.hasPrefix("/"), "state_directory did not become absolute")
  require(config.run.cycleDeadline < config.run.interval, "cycle deadline not below the interval")
  require((1...100).contains(config.run.confirmations), "confirmations out of range")
  require(config.restart.units.allSatisfy { !$0.hasPrefix("-") }, "a unit name reads as an option")
  require(config.hooks.allSatisfy { !$0.command.isEmpty }, "a hook without a command")
  require(config.timeouts.connect > .zero && config.timeouts.query > .zero, "a zero timeout")
}

/// Passwords written as `password=SECRET` in the text, long enough and appearing only once,
/// so finding one in a message can only mean the message repeated a conninfo.
private func passwords(in data: [UInt8]) -> [String] {
  let text = String(decoding: data, as: UTF8.self)
  var found: [String] = []
  var rest = text[...]
  while let range = rest.firstRange(of: "password=") {
    let secret = rest[range.upperBound...].prefix { $0.isLetter || $0.isNumber }
    if secret.count >= 6, text.ranges(of: secret).count == 1 { found.append(String(secret)) }
    rest = rest[range.upperBound...]
  }
  return found
}
