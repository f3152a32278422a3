import PGFollowCore
import PGFollowYAML

/// The state file is JSON, written here and read back with the project's YAML layer (the JSON
/// written is valid YAML), which keeps Foundation out of the binary.
extension FollowState {
  var json: String {
    var members: [(String, JSON)] = []
    if let applied {
      var fields: [(String, JSON)] = [
        ("name", .string(applied.name)), ("unixtime", .integer(applied.unixtime)),
      ]
      if let recorded = applied.recorded { fields.append(("recorded", recorded.json)) }
      if let position = applied.position { fields.append(("position", position.json)) }
      if let over = applied.overTimeline { fields.append(("overTimeline", .integer(over))) }
      members.append(("applied", .object(fields)))
    }
    members.append(("pendingRestart", .array(pendingRestart.map(JSON.string))))
    members.append(("restartFailures", .integer(Int64(restartFailures))))
    if let lastRestartError { members.append(("lastRestartError", .string(lastRestartError))) }
    if let hooks { members.append(("hooks", hooks.json)) }
    members.append(("restartAttempts", .array(restartAttempts.map(JSON.seconds))))
    if let unsettled {
      members.append(
        (
          "unsettled",
          .object([("target", .string(unsettled.target)), ("since", .seconds(unsettled.since))])
        ))
    }
    if let seen = unrecordedPromotion {
      members.append(
        (
          "unrecordedPromotion",
          .object([
            ("node", .string(seen.node)), ("timeline", .integer(seen.timeline)),
            ("since", .seconds(seen.since)),
          ])
        ))
    }
    if let verification { members.append(("verification", verification.json)) }
    return JSON.object(members).lines
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
        let name = field("name", fields).flatMap(scalarText)
        let time = field("unixtime", fields).flatMap(scalarText)
        if let name, let time, let unixtime = Int64(time) {
          applied = AppliedLeader(
            name: name, unixtime: unixtime, recorded: field("recorded", fields).flatMap(position),
            position: field("position", fields).flatMap(position),
            overTimeline: field("overTimeline", fields).flatMap(scalarText).flatMap { Int64($0) })
        }
      case ("pendingRestart", let value):
        pendingRestart = texts(value)
      case ("restartFailures", let value):
        restartFailures = scalarText(value).flatMap { Int($0) } ?? 0
      case ("lastRestartError", let value):
        lastRestartError = scalarText(value)
      case ("hooks", .mapping(let fields, _)):
        hooks = HookDebt(fields).flatMap { $0.owed.isEmpty ? nil : $0 }
      case ("restartAttempts", let value):
        restartAttempts = texts(value).compactMap { Double($0) }
      case ("unsettled", .mapping(let fields, _)):
        let target = field("target", fields).flatMap(scalarText)
        let since = field("since", fields).flatMap(scalarText).flatMap { Double($0) }
        if let target, let since { unsettled = UnsettledChange(target: target, since: since) }
      case ("unrecordedPromotion", .mapping(let fields, _)):
        let node = field("node", fields).flatMap(scalarText)
        let timeline = field("timeline", fields).flatMap(scalarText).flatMap { Int64($0) }
        let since = field("since", fields).flatMap(scalarText).flatMap { Double($0) }
        if let node, let timeline, let since {
          unrecordedPromotion = SeenPromotion(node: node, timeline: timeline, since: since)
        }
      case ("verification", .mapping(let fields, _)):
        verification = PendingVerification(fields)
      default:
        // A field of a newer pgfollow is ignored: its state file still works after a downgrade.
        continue
      }
    }
  }
}

extension HookDebt {
  var json: JSON {
    let owed = self.owed.map { hook in
      JSON.object([
        ("when", .string(hook.key.when.rawValue)),
        ("command", .array(hook.key.command.map(JSON.string))),
        ("failures", .integer(Int64(hook.failures))),
        ("nextAttempt", hook.nextAttempt.map(JSON.seconds) ?? .null),
      ])
    }
    return .object([
      ("leader", .string(leader)), ("previous", .string(previous)), ("reason", .string(reason)),
      ("owed", .array(owed)),
    ])
  }

  /// Hooks owed by an older pgfollow (by position in the list) are not carried over.
  fileprivate init?(_ fields: [YAMLPair]) {
    guard let leader = field("leader", fields).flatMap(scalarText) else { return nil }
    var owed: [OwedHook] = []
    if case .sequence(let items, _)? = field("owed", fields) {
      owed = items.compactMap(OwedHook.init)
    }
    self.init(
      leader: leader, previous: field("previous", fields).flatMap(scalarText),
      reason: field("reason", fields).flatMap(scalarText) ?? "", owed: owed)
  }
}

extension PendingVerification {
  var json: JSON {
    .object([
      ("leader", .string(leader)), ("previous", .string(previous)),
      ("since", since.map(JSON.seconds) ?? .null),
      ("verifiedAfter", verifiedAfter.map(JSON.seconds) ?? .null),
      ("sessions", sessions.map { .integer(Int64($0)) } ?? .null),
    ])
  }

  fileprivate init?(_ fields: [YAMLPair]) {
    guard let leader = field("leader", fields).flatMap(scalarText) else { return nil }
    self.init(
      leader: leader, previous: field("previous", fields).flatMap(scalarText),
      since: field("since", fields).flatMap(scalarText).flatMap { Double($0) })
    verifiedAfter = field("verifiedAfter", fields).flatMap(scalarText).flatMap { Double($0) }
    sessions = field("sessions", fields).flatMap(scalarText).flatMap { Int($0) }
  }
}

extension OwedHook {
  fileprivate init?(_ node: YAMLNode) {
    guard case .mapping(let fields, _) = node,
      let when = field("when", fields).flatMap(scalarText).flatMap(HookConfig.Timing.init),
      let command = field("command", fields).map(texts), !command.isEmpty
    else { return nil }
    self.init(
      key: HookKey(when: when, command: command),
      failures: field("failures", fields).flatMap(scalarText).flatMap { Int($0) } ?? 0,
      nextAttempt: field("nextAttempt", fields).flatMap(scalarText).flatMap { Double($0) })
  }
}

extension HistoryPosition {
  var json: JSON {
    .object([
      ("systemIdentifier", .string(systemIdentifier)), ("timeline", .integer(timeline)),
      ("lsn", .string(lsnText)),
    ])
  }
}

private func position(_ node: YAMLNode) -> HistoryPosition? {
  guard case .mapping(let fields, _) = node else { return nil }
  return HistoryPosition(
    systemIdentifier: field("systemIdentifier", fields).flatMap(scalarText),
    timeline: field("timeline", fields).flatMap(scalarText),
    lsn: field("lsn", fields).flatMap(scalarText))
}

private func field(_ key: String, _ fields: [YAMLPair]) -> YAMLNode? {
  fields.first { $0.keyText == key }?.value
}

private func texts(_ node: YAMLNode) -> [String] {
  guard case .sequence(let items, _) = node else { return [] }
  return items.compactMap(scalarText)
}

/// A scalar's text; JSON's null (a plain `null`) is nil.
private func scalarText(_ node: YAMLNode) -> String? {
  guard case .scalar(let scalar) = node else { return nil }
  return scalar.style == .plain && scalar.value == "null" ? nil : scalar.value
}
