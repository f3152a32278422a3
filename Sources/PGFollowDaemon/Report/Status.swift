package import PGFollowCore
package import PGFollowSystem
import PGFollowYAML

/// What `pgfollow status` shows: one probe and decision (changing nothing), and for each app what
/// its file holds now and what its state file says.
package struct StatusReport: Sendable {
  package var report: CycleReport
  package var apps: [AppStatus]
  /// What a failover will need and the user running `status` may not do.
  package var preflight: [PreflightProblem] = []
  /// The unit's supplementary groups counted in the preflight, when run outside the unit.
  package var checkedWithGroups: [String] = []

  /// The host's grade and why (`Health`): the first condition that applies.
  package var health: Health {
    let decision = report.decision
    if !decision.splitBrain.isEmpty {
      return Health(.splitBrain, "split brain: " + decision.splitBrain.joined(separator: ", "))
    }
    if case .hold = decision.outcome { return Health(.holding, "holding: \(decision.reason)") }
    if let app = apps.first(where: { $0.fileError != nil }), let error = app.fileError {
      return Health(.fileError, app.app.logPrefix + error)
    }
    if let problem = preflight.first {
      return Health(.failoverWouldFail, "a failover would fail: \(problem.problem)")
    }
    if let sessions = sessionsHealth(decision) { return sessions }
    if report.confirming != nil { return Health(.confirming, "confirming a new leader") }
    if let app = apps.first(where: { $0.values.contains { $0.current != $0.wanted } }) {
      return Health(
        .fileNotSwitched,
        "\(app.app.logPrefix)the application's file does not point at the leader yet")
    }
    if let app = apps.first(where: { !$0.state.pendingRestart.isEmpty }) {
      return Health(
        .restartOwed,
        "\(app.app.logPrefix)restart owed: " + app.state.pendingRestart.joined(separator: " "))
    }
    if let app = apps.first(where: { $0.state.hooks != nil }), let debt = app.state.hooks {
      let owed = debt.owed.map(\.key.description).joined(separator: ", ")
      return Health(.hookOwed, "\(app.app.logPrefix)hook owed: \(owed)")
    }
    let following = "following \(decision.leader ?? "?")"
    if let silent = silentNodes { return Health(.nodesSilent, "\(following); \(silent)") }
    return Health(.following, following)
  }

  /// What the applications' sessions say against the decision (`verify:`), when it matters.
  private func sessionsHealth(_ decision: Decision) -> Health? {
    for app in apps {
      if let sessions = app.sessions, case .unverified? = sessions.verdict,
        let text = sessions.verdictText(app.app)
      {
        return Health(.sessionsUnverified, text)
      }
    }
    for app in apps {
      if let text = app.sessions?.misplacedText(app.app, roles: nodeRoles(decision)) {
        return Health(.sessionsMisplaced, text)
      }
    }
    return nil
  }

  /// The nodes that do not answer, or answer later than the query timeout, if any: a warning
  /// that does not make this host unhealthy.
  package var silentNodes: String? {
    let evidence = report.decision.evidence
    let slow = evidence.filter { $0.failure?.stage == .slow }.map(\.node)
    let down = evidence.filter { $0.observation == nil && !slow.contains($0.node) }.map(\.node)
    let parts =
      (down.isEmpty ? [] : ["unreachable: " + down.joined(separator: ", ")])
      + (slow.isEmpty ? [] : ["connected, no answer in time: " + slow.joined(separator: ", ")])
    return parts.isEmpty ? nil : parts.joined(separator: "; ")
  }
}

/// One app in `pgfollow status`.
package struct AppStatus: Sendable {
  package var app: AppConfig
  /// Each configured path with its current value and the value the decision wants there.
  package var values: [(path: String, current: String?, wanted: String?)]
  package var fileError: String?
  package var state: FollowState
  package var stateError: String?
  /// Where the app's sessions are, and what they say of the last switch (`verify:`).
  package var sessions: SessionReport?
}

/// Builds the status from a dry-run cycle: nothing is written, locked or restarted. `unit` is
/// the sidecar's unit, whose groups count when run outside it.
package func collectStatus(
  config: Config, unit: String = "pgfollow.service", prober: any Prober = LibPQProber()
) async -> StatusReport {
  let cycle = Cycle(config: config, prober: prober, dryRun: true)
  var machines = FollowMachines()
  var apps: [AppStatus] = []
  for app in config.apps {
    var status = AppStatus(app: app, values: [], state: FollowState())
    do { status.state = try cycle.environment.store(app).load() } catch {
      status.stateError = error.description
    }
    // Status reports what the nodes say now: no confirming cycles.
    var settings = FollowSettings(app, run: config.run)
    settings.confirmations = 1
    machines[app.label] = FollowMachine(state: status.state, settings: settings)
    apps.append(status)
  }
  var report = await cycle.run(&machines)
  await cycle.verifySessions(&machines, into: &report)
  for index in apps.indices {
    readValues(&apps[index], config: config, decision: report.decision)
    apps[index].sessions = report.apps.first { $0.app.label == apps[index].app.label }?.sessions
  }
  // Outside the unit (a monitoring check run as the service's user), the unit's own groups count.
  let unitGroups = unitGroupsOfThisUser(unit)
  var status = StatusReport(
    report: report, apps: apps, preflight: preflight(config, unitGroups: unitGroups.ids))
  status.checkedWithGroups = unitGroups.names
  return status
}

/// The app's values as its file holds them, and as the decision wants them.
func readValues(_ status: inout AppStatus, config: Config, decision: Decision) {
  let app = status.app
  let wanted = decision.leader.map {
    config.edits(app, leader: $0, standbys: decision.standbys).map(\.value)
  }
  do {
    let snapshot = try readSnapshot(app.file)
    let current = try readYAMLValues(snapshot.bytes, paths: app.values.map(\.path), file: app.file)
    status.values = app.values.enumerated().map { index, value in
      ("\(value.path)", current[index], wanted?[index])
    }
  } catch {
    status.fileError = "\(error)"
    status.values = app.values.enumerated().map { ("\($1.path)", nil, wanted?[$0]) }
  }
}

extension StatusReport {
  package func text(config: Config) -> String {
    let health = self.health
    var lines = ["\(health.word): \(health.reason)"]
    switch report.decision.outcome {
    case .follow(let leader, let standby):
      lines.append("leader:   \(leader) (\(config.node(named: leader)?.address ?? "?"))")
      lines.append("standby:  \(standby ?? "none healthy")")
    case .hold:
      lines.append("leader:   none confirmed")
    }
    lines.append("decision: \(report.decision.reason)")
    lines += report.decision.warnings.map { "warning:  \($0.text)" }
    lines.append("")
    lines += report.evidenceTable(config: config)
    for app in apps {
      lines.append("")
      lines += app.text(now: wallClockNow())
      lines += app.sessionLines(roles: nodeRoles(report.decision))
    }
    let groups = checkedWithGroups.joined(separator: " ")
    let checked =
      "checked as \(currentUserName())"
      + (groups.isEmpty ? "" : " with the unit's SupplementaryGroups=\(groups)")
    lines += preflight.map { "preflight: \($0) (\(checked))" }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The same as JSON, for machines.
  package func json(config: Config) -> String {
    let health = self.health
    var members: [(String, JSON)] = [
      ("health", .string(health.word)),
      ("reason", .string(health.reason)),
      ("leader", .string(report.decision.leader)),
      ("decision", .string(report.decision.reason)),
      ("split_brain", .array(report.decision.splitBrain.map(JSON.string))),
      ("unrecorded_promotion", .string(report.decision.unrecordedPromotion?.node)),
      ("warnings", .array(report.decision.warnings.map { .string($0.text) })),
      ("nodes", .array(report.decision.evidence.map { nodeJSON($0, config: config) })),
      ("preflight", .array(preflight.map { .string($0.description) })),
      ("apps", .array(apps.map { .object($0.jsonMembers + $0.sessionMembers) })),
    ]
    // The short form's one app is also given at the top level, as before `apps:` existed.
    if config.apps.count == 1, config.apps[0].name == nil, let app = apps.first {
      members += app.jsonMembers.dropFirst()
    }
    return JSON.object(members).text + "\n"
  }

  private func nodeJSON(_ item: NodeEvidence, config: Config) -> JSON {
    var members: [(String, JSON)] = [
      ("name", .string(item.node)),
      ("address", .string(config.node(named: item.node)?.address ?? "")),
      ("reachable", .bool(item.observation != nil)),
      ("latency_ms", .integer(Int64(item.latencyMilliseconds))),
    ]
    switch item.result {
    case .success(let observation):
      members.append(("role", .string(observation.inRecovery ? "standby" : "primary")))
      members.append(("receiving_wal", .bool(observation.walReceiverActive)))
      if let position = observation.position {
        members.append(("timeline", .integer(position.timeline)))
        members.append(("wal_lsn", .string(position.lsnText)))
        members.append(("system_identifier", .string(position.systemIdentifier)))
      }
      if let row = observation.newestRow {
        var fields: [(String, JSON)] = [
          ("unixtime", .integer(row.unixtime)), ("host", .string(row.host)),
        ]
        if let recorded = row.recorded { fields.append(("timeline", .integer(recorded.timeline))) }
        members.append(("newest_row", .object(fields)))
      }
    case .failure(let failure):
      members.append(("error", .string("\(failure.stage.rawValue): \(failure.message)")))
    }
    return .object(members)
  }
}

extension AppStatus {
  /// The file and its values, what was applied, and what is owed.
  func text(now: WallSeconds) -> [String] {
    var lines = app.name.map { ["app \($0):"] } ?? []
    lines.append("file:     \(app.file)" + (fileError.map { " (\($0))" } ?? ""))
    for value in values {
      let current = value.current.map { quotedForLog($0) } ?? "?"
      let want = value.wanted.map {
        $0 == value.current ? "" : " (the leader wants \(quotedForLog($0)))"
      }
      lines.append("  \(value.path) = \(current)\(want ?? "")")
    }
    let applied = state.applied.map { "\($0.name) (row of \($0.unixtime))" } ?? "none yet"
    lines.append("applied:  \(applied)")
    let owed = state.pendingRestart.isEmpty ? "none" : state.pendingRestart.joined(separator: " ")
    lines.append(
      "restart owed: \(owed)" + (state.lastRestartError.map { "; last error: \($0)" } ?? ""))
    lines += hookLines(now: now)
    if let unsettled = state.unsettled {
      let since = max(0, Int64(now - unsettled.since))
      lines.append("settling: a standby change seen \(since)s ago waits for run.standby_settle")
    }
    if let stateError { lines.append("state:    \(stateError)") }
    return lines
  }

  /// "hook owed: ./hook failing (failure 1 of 2; next try in 4s)".
  private func hookLines(now: WallSeconds) -> [String] {
    guard let debt = state.hooks else { return [] }
    return debt.owed.map { owed in
      let attempts = app.hooks.hook(owed.key)?.attempts ?? 1
      var detail = owed.failures == 0 ? "not tried yet" : "failure \(owed.failures) of \(attempts)"
      if let next = owed.nextAttempt {
        let wait = max(0, next - now)
        detail +=
          wait > 0 ? "; next try in \(formatDuration(.seconds(wait.rounded(.up))))" : "; due now"
      }
      return "hook owed: \(owed.key) (\(detail)) for the change to \(debt.leader)"
    }
  }

  /// The app as JSON members, its name first.
  var jsonMembers: [(String, JSON)] {
    let values = self.values.map { value in
      JSON.object([
        ("path", .string(value.path)), ("current", .string(value.current)),
        ("wanted", .string(value.wanted)),
      ])
    }
    let hooks = (state.hooks?.owed ?? []).map { hook in
      JSON.object([
        ("command", .array(hook.key.command.map(JSON.string))),
        ("when", .string(hook.key.when.rawValue)), ("failures", .integer(Int64(hook.failures))),
        (
          "next_attempt_unixtime",
          hook.nextAttempt.map { .integer(Int64($0.rounded(.up))) } ?? .null
        ),
      ])
    }
    var members: [(String, JSON)] = [
      ("name", .string(app.label)),
      ("file", .string(app.file)),
      ("values", .array(values)),
      ("applied", .string(state.applied?.name)),
      ("restart_owed", .array(state.pendingRestart.map(JSON.string))),
      ("hooks_owed", .array(hooks)),
    ]
    if let fileError { members.append(("file_error", .string(fileError))) }
    if let stateError { members.append(("state_error", .string(stateError))) }
    return members
  }
}

extension AppStatus {
  /// "sessions: 5 on node2 (the leader), 0 on node1 (a standby)", and the last switch's verdict.
  func sessionLines(roles: [String: String]) -> [String] {
    guard let sessions else { return [] }
    var lines = ["sessions: " + sessions.placesText(roles: roles)]
    if let text = sessions.verdictText(app) {
      lines.append("switch:   \(text)")
    } else if case .waiting(let leader, _, _)? = sessions.verdict {
      lines.append("switch:   waiting for \(app.label) to reach \(leader)")
    }
    if let text = sessions.misplacedText(app, roles: roles) { lines.append("warning:  \(text)") }
    if let text = sessions.missingGrantText { lines.append("warning:  \(text)") }
    return lines
  }

  /// `sessions` (by node, null where not counted), `verification` and `misplaced`.
  var sessionMembers: [(String, JSON)] {
    guard let sessions else { return [] }
    let counts = sessions.counts.sorted { $0.key < $1.key }.map { node, count in
      (node, count.sessions.map { JSON.integer(Int64($0)) } ?? .null)
    }
    var verification: [(String, JSON)] = []
    switch sessions.verdict {
    case .verified(let leader, let count, let after)?:
      verification = [
        ("state", .string("verified")), ("leader", .string(leader)),
        ("sessions", .integer(Int64(count))), ("after_seconds", .seconds(after)),
      ]
    case .waiting(let leader, _, let left)?:
      verification = [
        ("state", .string("waiting")), ("leader", .string(leader)),
        ("left_on_previous", .integer(Int64(left))),
      ]
    case .unverified(let leader, let new, let previous, let left, let after)?:
      verification = [
        ("state", .string("unverified")), ("leader", .string(leader)),
        ("new_sessions", .integer(Int64(new))), ("previous", .string(previous)),
        ("left_on_previous", .integer(Int64(left))), ("after_seconds", .seconds(after)),
      ]
    case .cannotVerify(let node, let reason)?:
      verification = [
        ("state", .string("cannot_verify")), ("node", .string(node)), ("reason", .string(reason)),
      ]
    case nil:
      break
    }
    let misplaced = sessions.misplaced.map {
      JSON.object([("node", .string($0.node)), ("sessions", .integer(Int64($0.sessions)))])
    }
    return [
      ("sessions", .object(counts)),
      ("verification", verification.isEmpty ? .null : .object(verification)),
      ("misplaced_sessions", .array(misplaced)),
    ]
  }
}
