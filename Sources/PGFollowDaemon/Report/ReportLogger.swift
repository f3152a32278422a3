package import Logging
package import PGFollowCore
import PGFollowYAML

/// Logs what a cycle saw and did, one line per event. With `onlyChanges` (the sidecar), a
/// condition that persists is logged when it starts and when it ends, not every cycle.
package struct ReportLogger: Sendable {
  package var logger: Logger
  package let onlyChanges: Bool
  /// Each condition in effect, by topic: what it is about, never its words.
  private var last: [LogTopic: LogIdentity] = [:]
  /// Nodes already warned about for a superuser login: a reconnect does not repeat it.
  private var warnedSuperusers: Set<String> = []

  package init(logger: Logger, onlyChanges: Bool) {
    self.logger = logger
    self.onlyChanges = onlyChanges
  }

  package mutating func log(_ report: CycleReport, config: Config) {
    let decision = report.decision
    let warnings = warningsToLog(decision)
    logCondition(
      .warnings, .warning, warnings.map(\.text).joined(separator: "; "),
      identity: .parts(warnings.flatMap(\.identity)))
    for item in decision.evidence { logNode(item) }
    logCondition(
      .splitBrain, .critical,
      decision.splitBrain.isEmpty
        ? ""
        : "SPLIT BRAIN: \(allWritable(decision.splitBrain)); policy "
          + config.policy.splitBrain.rawValue,
      identity: .parts(decision.splitBrain),
      cleared: "split brain over: at most one node is writable")
    logOutcome(report)
    for app in report.apps { log(app, dryRun: report.dryRun, config: config) }
    for app in report.apps {
      if let sessions = app.sessions { log(sessions, app: app.app, decision: decision) }
    }
  }

  /// The decision's warnings, less a superuser warning that names no node not warned about yet.
  private mutating func warningsToLog(_ decision: Decision) -> [DecisionWarning] {
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
    if dryRun {
      logCondition(
        .wouldChange(app.label), .notice, wouldText(report), identity: .parts(wouldParts(report)))
    }
    let changes = LogIdentity.parts(report.plan?.changes.map(describe) ?? [])
    logCondition(
      .settling(app.label), .notice, settlingText(report, config: config), identity: changes)
    logDeferral(report.restartDeferred, app: app)
    let checking =
      report.checking
      ? "\(prefix)checking the new \(app.file) (in the background; the sidecar keeps watching)"
      : ""
    logCondition(
      .checking(app.label), .notice, checking, identity: changes)
    logCondition(
      .errors(app.label), .error, report.errors.map { prefix + $0 }.joined(separator: "; "),
      identity: .parts(report.errors))
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
        .verdict(app.label), .notice, sessions.verdictText(app) ?? "",
        identity: .parts(["verified", leader, "\(after)"]), metadata: metadata)
    case .unverified(let leader, let newSessions, let previous, let left, _)?:
      logCondition(
        .verdict(app.label), .error, sessions.verdictText(app) ?? "",
        identity: .parts([
          "unverified", leader, "\(newSessions > 0)", previous ?? "", "\(left > 0)",
        ]),
        metadata: metadata)
    case .cannotVerify(let node, let reason)?:
      logCondition(
        .verdict(app.label), .warning, sessions.verdictText(app) ?? "",
        identity: .parts(["cannot", node, "\(reason)"]), metadata: metadata)
    case .waiting?, nil:
      break
    }
    logCondition(
      .hiddenSessions(app.label), .warning, sessions.missingGrantText ?? "",
      identity: .parts(sessions.missingGrantNodes),
      metadata: metadata)
    for (node, count) in sessions.terminated {
      let message =
        "terminated \(count) session\(count == 1 ? "" : "s") of \(app.label) on \(node), "
        + "the previous leader (stale_sessions: terminate)"
      logger.notice("\(message)", metadata: metadata)
    }
    logCondition(
      .misplacedSessions(app.label), .warning, sessions.misplacedText(app, roles: roles) ?? "",
      identity: .parts(sessions.misplaced.map(\.node)),
      cleared: "\(app.label): no session left on a node that is not the leader",
      metadata: metadata)
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
      .deferred(app.label), level, denial.map { app.logPrefix + $0.description } ?? "",
      identity: .parts(denial.map { [$0.kind] } ?? []))
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
    let parts = wouldParts(report)
    return parts.isEmpty
      ? "" : "\(report.app.logPrefix)dry run, would change: " + parts.joined(separator: "; ")
  }

  private func wouldParts(_ report: AppReport) -> [String] {
    var parts: [String] = []
    if let plan = report.plan, plan.changesFile, !report.wroteFile {
      parts += plan.changes.map(describe)
    }
    parts += report.hooks.filter { $0.result == nil }.map { "run hook \($0.command)" }
    let restarts = report.restarts.filter { $0.result == nil }.map(\.unit)
    if !restarts.isEmpty {
      parts.append("\(report.app.restart.action.rawValue) \(restarts.joined(separator: " "))")
    }
    return parts
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
        .outcome, .info, "leader \(leader): \(decision.reason)",
        identity: .follow(leader, decision.newestRow),
        metadata: ["pg.leader": "\(leader)"])
    case .hold(let reason):
      logCondition(.outcome, .warning, "holding: \(decision.reason)", identity: .hold(reason))
    }
  }

  private mutating func logNode(_ item: NodeEvidence) {
    let metadata: Logger.Metadata = ["pg.node": "\(item.node)"]
    switch item.result {
    case .failure(let failure):
      let wasDown = last[.node(item.node)] != nil
      last[.node(item.node)] = .parts([failure.stage.rawValue])
      if !onlyChanges || !wasDown {
        let state = failure.stage == .slow ? "does not answer in time" : "unreachable"
        logger.warning(
          "node \(item.node) \(state): \(failure.message)",
          metadata: metadata.merging(["pg.stage": "\(failure.stage.rawValue)"]) { $1 })
      }
    case .success:
      logCondition(
        .node(item.node), .info, "", identity: .parts([]),
        cleared: "node \(item.node) reachable again")
    }
  }

  /// Logs `message` unless the condition under `topic` is the same as last time, which
  /// `identity` says (what it is about, never its words); an empty message ends the condition,
  /// logged as `cleared` when given.
  private mutating func logCondition(
    _ topic: LogTopic, _ level: Logger.Level, _ message: String, identity: LogIdentity,
    cleared: String? = nil, metadata: Logger.Metadata = [:]
  ) {
    let previous = last[topic]
    let current = message.isEmpty ? nil : identity
    last[topic] = current
    if onlyChanges && previous == current { return }
    if !message.isEmpty {
      logger.log(level: level, "\(message)", metadata: metadata)
    } else if let cleared, previous != nil {
      logger.info("\(cleared)")
    }
  }
}

/// What a logged condition is about: one per kind of condition, and per node or app.
enum LogTopic: Hashable, Sendable {
  case warnings, splitBrain, outcome
  case node(String)
  case wouldChange(String), settling(String), errors(String), deferred(String), checking(String)
  case verdict(String), hiddenSessions(String), misplacedSessions(String)
}

/// What tells a condition from the last one under its topic: the decision, or the names and
/// kinds it is about (nodes, paths, units), never a rendered message or a count that moves.
enum LogIdentity: Hashable, Sendable {
  case follow(String, FailoverRow?)
  case hold(HoldReason)
  case parts([String])
}
