public import Logging
public import PGFollowCore
public import PGFollowYAML

/// How a cycle ended, from best to worst; `once` exits with `exitCode`.
public enum CycleStatus: Int32, Sendable, Comparable {
  case inSync = 0
  case changed = 2
  case held = 3
  case splitBrain = 4
  case configError = 5
  case writeFailed = 6
  case restartFailed = 7
  case lockOrStateFailed = 8

  public var exitCode: Int32 { rawValue }

  var severity: Int { [0: 0, 2: 1, 3: 2, 4: 3, 7: 4, 6: 5, 8: 6, 5: 7][rawValue] ?? 7 }

  public static func < (lhs: Self, rhs: Self) -> Bool { lhs.severity < rhs.severity }
}

/// Everything one cycle saw, decided and did.
public struct CycleReport: Sendable {
  public var decision: Decision
  public var plan: YAMLEditPlan?
  /// Units restarted (or, in a dry run, that would be) with their results.
  public var restarts: [(unit: String, result: ProcessResult?)] = []
  public var errors: [String] = []
  public var status: CycleStatus = .inSync
  public var wroteFile = false
}

/// One cycle: probe, decide, plan the file edit, write it atomically, restart, remember.
/// The same code serves `once`, `run` and `--dry-run`; a dry run stops after planning.
public struct Cycle: Sendable {
  public var config: Config
  public var prober: any Prober
  public var restarter: any Restarter
  public var store: StateStore
  public var logger: Logger
  public var dryRun: Bool

  public init(
    config: Config, prober: any Prober = LibPQProber(),
    restarter: any Restarter = SystemctlRestarter(), logger: Logger, dryRun: Bool
  ) {
    self.config = config
    self.prober = prober
    self.restarter = restarter
    self.store = StateStore(directory: config.stateDirectory)
    self.logger = logger
    self.dryRun = dryRun
  }

  public func run() async -> CycleReport {
    var state = FollowState()
    var loadError: String?
    do { state = try store.load() } catch { loadError = error.description }
    let evidence = await prober.probe(config)
    let decision = decide(
      evidence: evidence, nodes: config.nodeNames, previous: state.applied, policy: config.policy)
    var report = CycleReport(decision: decision)
    if let loadError { fail(&report, .lockOrStateFailed, loadError) }
    log(decision)
    if case .follow(let leader, let standby) = decision.outcome, loadError == nil {
      apply(leader: leader, standby: standby, row: decision.newestRow, &state, &report)
    } else if case .hold = decision.outcome {
      report.status = max(report.status, .held)
    }
    if !decision.splitBrain.isEmpty { report.status = max(report.status, .splitBrain) }
    if loadError == nil { restartPending(&state, &report) }
    return report
  }

  private func apply(
    leader: String, standby: String?, row: LogRow?, _ state: inout FollowState,
    _ report: inout CycleReport
  ) {
    let snapshot: FileSnapshot
    let plan: YAMLEditPlan
    do {
      snapshot = try readSnapshot(config.app.file)
      plan = try planYAMLEdits(
        snapshot.bytes, edits: config.edits(leader: leader, standby: standby),
        file: config.app.file)
    } catch {
      return fail(&report, .writeFailed, "\(error)")
    }
    report.plan = plan
    var next = state
    if let row { next.applied = AppliedLeader(name: leader, unixtime: row.unixtime) }
    if plan.changesFile { next.pendingRestart = config.restart.units }
    guard !dryRun else {
      if plan.changesFile { report.status = max(report.status, .changed) }
      state = next
      return
    }
    do {
      if next != state { try store.save(next) }
      state = next
      if plan.changesFile {
        try replaceAtomically(snapshot, with: plan.updated)
        report.wroteFile = true
        report.status = max(report.status, .changed)
        logChanges(plan)
      }
    } catch {
      fail(&report, .writeFailed, error.description)
    }
  }

  private func restartPending(_ state: inout FollowState, _ report: inout CycleReport) {
    let units = config.restart.units.filter(state.pendingRestart.contains)
    guard !units.isEmpty else { return }
    if dryRun {
      report.restarts = units.map { ($0, nil) }
      return
    }
    for unit in units {
      let result = restarter.restart(unit, with: config.restart)
      report.restarts.append((unit, result))
      if result.succeeded {
        state.pendingRestart.removeAll { $0 == unit }
        logger.notice("restarted \(unit)", metadata: ["unit": "\(unit)"])
      } else {
        state.restartFailures += 1
        state.lastRestartError = "\(unit): \(result.summary)"
        fail(
          &report, .restartFailed, "restart of \(unit) failed: \(result.summary)" + detail(result))
      }
    }
    if state.pendingRestart.isEmpty {
      state.restartFailures = 0
      state.lastRestartError = nil
    }
    report.status = max(report.status, .changed)
    do { try store.save(state) } catch { fail(&report, .lockOrStateFailed, error.description) }
  }

  private func fail(_ report: inout CycleReport, _ status: CycleStatus, _ message: String) {
    report.errors.append(message)
    report.status = max(report.status, status)
    logger.error("\(message)")
  }

  private func log(_ decision: Decision) {
    for warning in decision.warnings { logger.warning("\(warning)") }
    for item in decision.evidence {
      if case .failure(let failure) = item.result {
        logger.warning(
          "node \(item.node) unreachable: \(failure.message)",
          metadata: ["pg.node": "\(item.node)", "pg.stage": "\(failure.stage.rawValue)"])
      }
    }
    if !decision.splitBrain.isEmpty {
      let nodes = decision.splitBrain.joined(separator: " and ")
      logger.critical(
        "SPLIT BRAIN: \(nodes) are all writable; policy \(config.policy.splitBrain.rawValue)")
    }
    switch decision.outcome {
    case .follow(let leader, _):
      logger.info("leader \(leader): \(decision.reason)", metadata: ["pg.leader": "\(leader)"])
    case .hold:
      logger.warning("holding: \(decision.reason)")
    }
  }

  private func logChanges(_ plan: YAMLEditPlan) {
    for change in plan.changes {
      let values = "\(quotedForLog(change.oldValue)) -> \(quotedForLog(change.newValue))"
      logger.notice(
        "rewrote \(config.app.file): \(change.path) \(values)",
        metadata: ["yaml.path": "\(change.path)"])
    }
  }
}

private func detail(_ result: ProcessResult) -> String {
  let firstLine = result.output.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
  return firstLine.isEmpty ? "" : " (\(quotedForLog(firstLine, limit: 200)))"
}
