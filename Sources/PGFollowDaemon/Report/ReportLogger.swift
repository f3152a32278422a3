package import Logging
package import PGFollowCore
import PGFollowYAML

/// Logs what a cycle saw and did, one line per event. With `onlyChanges` (the sidecar), a
/// condition that persists is logged when it starts and when it ends, not every cycle.
package struct ReportLogger: Sendable {
  package var logger: Logger
  package let onlyChanges: Bool
  private var last: [String: String] = [:]
  /// Nodes already warned about for a superuser login: a reconnect does not repeat it.
  private var warnedSuperusers: Set<String> = []

  package init(logger: Logger, onlyChanges: Bool) {
    self.logger = logger
    self.onlyChanges = onlyChanges
  }

  package mutating func log(_ report: CycleReport, config: Config) {
    let decision = report.decision
    logCondition("warnings", .warning, warningsToLog(decision).joined(separator: "; "))
    for item in decision.evidence { logNode(item) }
    let split = decision.splitBrain.joined(separator: " and ")
    logCondition(
      "split", .critical,
      split.isEmpty
        ? ""
        : "SPLIT BRAIN: \(allWritable(decision.splitBrain)); policy "
          + config.policy.splitBrain.rawValue,
      cleared: "split brain over: at most one node is writable")
    logOutcome(report)
    for app in report.apps { log(app, dryRun: report.dryRun, config: config) }
    for app in report.apps {
      if let sessions = app.sessions { log(sessions, app: app.app, decision: decision) }
    }
  }

  /// The decision's warnings, less a superuser warning that names no node not warned about yet.
  private mutating func warningsToLog(_ decision: Decision) -> [String] {
    guard onlyChanges else { return decision.warnings }
    let superusers = Set(
      decision.evidence.filter { $0.observation?.superuser == true }.map(\.node))
    let new = !superusers.isSubset(of: warnedSuperusers)
    warnedSuperusers.formUnion(superusers)
    let superuserWarning = superuserWarnings(decision.evidence).first
    return decision.warnings.filter { new || $0 != superuserWarning }
  }

  /// An app's part: what it rewrote, restarted and ran, would do, waits for, and what failed.
  private mutating func log(_ report: AppReport, dryRun: Bool, config: Config) {
    let app = report.app
    let prefix = app.logPrefix
    for change in report.plan.map({ report.wroteFile ? $0.changes : [] }) ?? [] {
      logger.notice(
        "\(prefix)rewrote \(app.file): \(describe(change))",
        metadata: appMetadata(app, ["yaml.path": "\(change.path)"]))
    }
    for (unit, result) in report.restarts where result?.succeeded == true {
      logRestarted(unit, app: app)
    }
    for hook in report.hooks where hook.result != nil {
      logHook(command: hook.command, result: hook.result, followUp: hook.followUp, app: app)
    }
    if dryRun { logCondition("would." + app.label, .notice, wouldText(report)) }
    logCondition("settling." + app.label, .notice, settlingText(report, config: config))
    logDeferral(report.restartDeferred, app: app)
    logCondition(
      "errors." + app.label, .error, report.errors.map { prefix + $0 }.joined(separator: "; "))
  }

  /// What an app's sessions say: a verified or unverified switch once, sessions terminated each
  /// time, and sessions on a node that is not the leader when they are first found. A repeat is
  /// known by what it is about (the verdict, the nodes), never by counts that change.
  package mutating func log(_ sessions: SessionReport, app: AppConfig, decision: Decision) {
    let roles = nodeRoles(decision)
    let metadata = appMetadata(app)
    switch sessions.verdict {
    case .verified(let leader, _, let after)?:
      logCondition(
        "verdict." + app.label, .notice, sessions.verdictText(app) ?? "",
        identity: "verified \(leader) \(after)", metadata: metadata)
    case .unverified(let leader, let newSessions, let previous, let left, _)?:
      logCondition(
        "verdict." + app.label, .error, sessions.verdictText(app) ?? "",
        identity: "unverified \(leader) \(newSessions > 0) \(previous ?? "") \(left > 0)",
        metadata: metadata)
    case .cannotVerify(let node, let reason)?:
      logCondition(
        "verdict." + app.label, .warning, sessions.verdictText(app) ?? "",
        identity: "cannot \(node) \(reason)", metadata: metadata)
    case .waiting?, nil:
      break
    }
    logCondition(
      "hidden." + app.label, .warning, sessions.missingGrantText ?? "", metadata: metadata)
    for (node, count) in sessions.terminated {
      let message =
        "terminated \(count) session\(count == 1 ? "" : "s") of \(app.label) on \(node), "
        + "the previous leader (stale_sessions: terminate)"
      logger.notice("\(message)", metadata: metadata)
    }
    logCondition(
      "misplaced." + app.label, .warning, sessions.misplacedText(app, roles: roles) ?? "",
      cleared: "\(app.label): no session left on a node that is not the leader",
      identity: sessions.misplaced.map(\.node).joined(separator: " "), metadata: metadata)
  }

  /// A restart or hook that finished in the background.
  package mutating func log(_ outcome: WorkOutcome) {
    let app = outcome.app
    switch outcome.work {
    case .restart(let unit, _):
      guard let result = outcome.result else { return }
      if result.succeeded {
        logRestarted(unit, app: app)
      } else {
        let message =
          "\(app.logPrefix)\(restartFailure(unit, result)); still owed, tried again within the "
          + "restart limits"
        logger.error("\(message)", metadata: appMetadata(app, ["unit": "\(unit)"]))
      }
    case .hook(let key, _):
      logHook(
        command: key.description, result: outcome.result, followUp: outcome.followUp, app: app)
    }
  }

  private func logRestarted(_ unit: String, app: AppConfig) {
    logger.notice(
      "\(app.logPrefix)restarted \(unit)",
      metadata: appMetadata(app, ["unit": "\(unit)"]))
  }

  /// `metadata`, and the app's name for an entry of `apps:`.
  private func appMetadata(_ app: AppConfig, _ metadata: Logger.Metadata = [:]) -> Logger.Metadata {
    var metadata = metadata
    if let name = app.name { metadata["app"] = "\(name)" }
    return metadata
  }

  /// Why an owed restart waits (logged when the limit that bites changes): the 2 s spacing is
  /// routine (notice), the hourly cap is not (warning).
  package mutating func logDeferral(_ denial: RestartLimiter.Denial?, app: AppConfig) {
    var level = Logger.Level.notice
    if case .hourlyCap? = denial { level = .warning }
    logCondition(
      "deferred." + app.label, level, denial.map { app.logPrefix + $0.description } ?? "",
      identity: denial.map(\.kind))
  }

  private func logHook(
    command: String, result: ProcessResult?, followUp: FollowMachine.FollowUp?, app: AppConfig
  ) {
    guard let result, let followUp else { return }
    let level: Logger.Level = result.succeeded ? .notice : .warning
    let summary = result.succeeded ? "" : ": \(result.summary)"
    let message = "\(app.logPrefix)hook \(command)\(summary); \(followUp.text)"
    logger.log(level: level, "\(message)", metadata: appMetadata(app))
  }

  /// A change that keeps the leader, waiting to prove it lasts (logged when it starts).
  private func settlingText(_ report: AppReport, config: Config) -> String {
    guard report.settling != nil, let plan = report.plan else { return "" }
    return
      "\(report.app.logPrefix)a standby changed; waiting "
      + "\(formatDuration(config.run.standbySettle)) for this to last: "
      + plan.changes.map(describe).joined(separator: "; ")
  }

  /// `path "old" -> "new"`.
  private func describe(_ change: YAMLChange) -> String {
    "\(change.path) \(quotedForLog(change.oldValue)) -> \(quotedForLog(change.newValue))"
  }

  /// What a dry run would have done.
  private func wouldText(_ report: AppReport) -> String {
    var parts: [String] = []
    if let plan = report.plan, plan.changesFile, !report.wroteFile {
      parts += plan.changes.map(describe)
    }
    parts += report.hooks.filter { $0.result == nil }.map { "run hook \($0.command)" }
    let restarts = report.restarts.filter { $0.result == nil }.map(\.unit)
    if !restarts.isEmpty {
      parts.append("\(report.app.restart.action.rawValue) \(restarts.joined(separator: " "))")
    }
    return parts.isEmpty
      ? "" : "\(report.app.logPrefix)dry run, would change: " + parts.joined(separator: "; ")
  }

  private mutating func logOutcome(_ report: CycleReport) {
    let decision = report.decision
    if case .confirming(let leader, let sightings, let required) = report.confirming {
      logger.notice(
        "new leader \(leader) seen \(sightings) of \(required) times; confirming before switching",
        metadata: ["pg.leader": "\(leader)"])
      return
    }
    switch decision.outcome {
    case .follow(let leader, _):
      logCondition(
        "outcome", .info, "leader \(leader): \(decision.reason)",
        metadata: ["pg.leader": "\(leader)"])
    case .hold:
      logCondition("outcome", .warning, "holding: \(decision.reason)")
    }
  }

  private mutating func logNode(_ item: NodeEvidence) {
    let metadata: Logger.Metadata = ["pg.node": "\(item.node)"]
    switch item.result {
    case .failure(let failure):
      let key = "node." + item.node
      let wasDown = last[key] != nil && last[key] != ""
      last[key] = failure.message
      if !onlyChanges || !wasDown {
        let state = failure.stage == .slow ? "does not answer in time" : "unreachable"
        logger.warning(
          "node \(item.node) \(state): \(failure.message)",
          metadata: metadata.merging(["pg.stage": "\(failure.stage.rawValue)"]) { $1 })
      }
    case .success:
      logCondition("node." + item.node, .info, "", cleared: "node \(item.node) reachable again")
    }
  }

  /// Logs `message` unless it repeats the last one under `key`; an empty message ends the
  /// condition, logged as `cleared` when given.
  /// `identity`, when given, is what must change for a repeat to be logged.
  private mutating func logCondition(
    _ key: String, _ level: Logger.Level, _ message: String, cleared: String? = nil,
    identity: String? = nil, metadata: Logger.Metadata = [:]
  ) {
    let previous = last[key] ?? ""
    last[key] = identity ?? message
    if onlyChanges && previous == (identity ?? message) { return }
    if !message.isEmpty {
      logger.log(level: level, "\(message)", metadata: metadata)
    } else if let cleared, !previous.isEmpty {
      logger.info("\(cleared)")
    }
  }
}
