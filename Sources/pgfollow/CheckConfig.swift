import ArgumentParser
import PGFollowConfig
import PGFollowCore
import PGFollowDaemon
import PGFollowSystem

struct CheckConfig: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check-config", abstract: "Validate a configuration file and summarize it.")

  @OptionGroup var options: ConfigOptions

  @Flag(help: "Print nothing when all is well (for ExecStartPre).")
  var quiet = false

  @Flag(
    help: "Check only the file: not what this user may do at a failover, nor how the nodes see it.")
  var skipPreflight = false

  @Flag(
    help: "Do not log in to the nodes (for ExecStartPre: a node may be down when pgfollow starts).")
  var skipNodes = false

  @Option(
    help: ArgumentHelp(
      "As root: ask polkit whether USER may restart the units (and check nothing else).",
      valueName: "USER"))
  var polkitFor: String?

  func run() async throws {
    let config = try options.load()
    let missing = polkitFor == nil ? applicationFileProblems(config) : []
    if !missing.isEmpty {
      printError("\(options.configPath): the application's file does not have what it names:")
      for problem in missing { printError("  \(problem)") }
      throw ExitCode(CycleStatus.configError.exitCode)
    }
    if polkitFor == nil {
      try refuse(sharedWithOtherInstances(config))
      try refuse(tooSlowChecks(config))
    }
    if !quiet && polkitFor == nil {
      print("\(options.configPath): the file is valid; checking what it names")
      print(config.summary)
    }
    guard !skipPreflight else { return sayValid() }
    if polkitFor == nil && !skipNodes {
      if let passfile = useTheServicePassfile(config), !quiet {
        print("(root: using the service's password file \(passfile))")
      }
      let evidence = try await checkTheNodes(config)
      await showSessions(config, evidence: evidence)
    }
    let problems = polkitFor.map { polkitPreflight(config, user: $0) } ?? preflight(config)
    for problem in problems { printError("pgfollow cannot follow a failover: \(problem)") }
    if let worst = problems.map(\.status).max() {
      if polkitFor == nil { printError("(checked as \(currentUserName()))") }
      throw ExitCode(worst.exitCode)
    }
    guard !quiet else { return }
    print(
      polkitFor.map {
        "preflight: polkit lets \($0) restart \(config.allUnits.joined(separator: " "))"
      }
        ?? "preflight: \(currentUserName()) may replace \(config.apps.map(\.file).joined(separator: " ")) "
        + "and write the state")
    sayValid()
  }

  /// Each problem as an error, and exit code 5 if there is one.
  private func refuse(_ problems: [String]) throws {
    for problem in problems { printError("error: \(problem)") }
    if !problems.isEmpty { throw ExitCode(CycleStatus.configError.exitCode) }
  }

  /// Checks whose timeouts add up to more than half the unit's WatchdogSec (systemd is asked
  /// only when an app has a check).
  private func tooSlowChecks(_ config: Config) -> [String] {
    guard config.apps.contains(where: { $0.check != nil }) else { return [] }
    let watchdog = SystemdNotifier.watchdogInterval ?? unitWatchdog(options.unit)
    return checkTimeoutProblems(config, watchdog: watchdog)
  }

  /// What this file shares with another pgfollow's in the same directory (/etc/pgfollow): a
  /// listener, a state directory (and so a lock), or an application's file.
  private func sharedWithOtherInstances(_ config: Config) -> [String] {
    let path = options.configPath
    let directory = parentDirectory(path)
    guard directory == Instance.configDirectory else { return [] }
    return directoryEntries(directory).filter {
      $0.hasSuffix(".yaml") && directory + "/" + $0 != path
    }.sorted()
      .flatMap { name -> [String] in
        let other = directory + "/" + name
        let instance = String(name.dropLast(5))
        let defaultState = Instance.defaultStateDirectory(instance == "pgfollow" ? nil : instance)
        guard let theirs = try? loadConfigFile(other, defaultStateDirectory: defaultState) else {
          return []
        }
        return sharedParts(config, theirs, other)
      }
  }

  private func sharedParts(_ ours: Config, _ theirs: Config, _ other: String) -> [String] {
    var shared: [String] = []
    if let listen = ours.metrics.listen, listen == theirs.metrics.listen {
      shared.append(
        "metrics.listen \(listen) is also \(other)'s: give each pgfollow a port of its own "
          + "(or listen: off)")
    }
    if ours.stateDirectory == theirs.stateDirectory {
      shared.append(
        "state_directory \(ours.stateDirectory) is also \(other)'s: each pgfollow needs its own "
          + "(its lock is there)")
    }
    let files = Set(ours.apps.map(\.file)).intersection(theirs.apps.map(\.file))
    for file in files.sorted() {
      shared.append("\(file) is also followed by \(other): one pgfollow per application file")
    }
    return shared
  }

  /// The last line of a check that found nothing wrong.
  private func sayValid() {
    if !quiet && polkitFor == nil { print("\(options.configPath): valid") }
  }
}

extension CheckConfig {
  /// Logs in to every node as configured and says what each answered; a node that cannot work
  /// as configured, or no node answering at all, is exit code 5.
  func checkTheNodes(_ config: Config) async throws -> [NodeEvidence] {
    var evidence = await LibPQProber().probe(config)
    // A database or role just created on the primary takes a moment to reach the standbys: such
    // a refusal is asked again, for up to 5 s, before it counts.
    for _ in 0..<5 where checkNodes(evidence).contains(where: \.mayBeReplicationLag) {
      try await Task.sleep(for: .seconds(1))
      evidence = await LibPQProber().probe(config)
    }
    let checks = checkNodes(evidence)
    for check in checks {
      switch check.verdict {
      case .answers: if !quiet { print(check) }
      case .cannotWork: printError("error: \(check)")
      case .unreachable, .slow: printError("warning: \(check)")
      }
    }
    for warning in superuserWarnings(evidence) { printError("warning: \(warning)") }
    for warning in tableWarnings(evidence + (await askSlowNodesAgain(evidence, config))) {
      printError("warning: \(warning)")
    }
    let noneAnswers = !checks.contains { $0.verdict == .answers }
    if noneAnswers { printError("error: no node answers: pgfollow would see nothing") }
    if noneAnswers || checks.contains(where: { $0.verdict == .cannotWork }) {
      throw ExitCode(CycleStatus.configError.exitCode)
    }
    return evidence
  }

  /// Asks the nodes slower than the query timeout again, waiting up to 10 s, and says how long
  /// each took: their answers say whether the failover table is why.
  private func askSlowNodesAgain(_ evidence: [NodeEvidence], _ config: Config) async
    -> [NodeEvidence]
  {
    let slow = Set(evidence.filter { $0.failure?.stage == .slow }.map(\.node))
    guard !slow.isEmpty else { return [] }
    var patient = config
    patient.timeouts.query = max(config.timeouts.query, .seconds(10))
    let again = await LibPQProber().probe(patient, only: slow)
    for item in again where item.observation != nil {
      printError(
        "warning: node \(item.node) answered in \(item.latencyMilliseconds)ms when given 10s, "
          + "more than timeouts.query (\(formatDuration(config.timeouts.query)))")
    }
    return again
  }

  /// Where each app with `verify:` has its sessions now, so that an operator sees on the first
  /// day where it is connected; a grant the watchers' role lacks is a warning naming it.
  func showSessions(_ config: Config, evidence: [NodeEvidence]) async {
    let check = SessionCheck(config: config)
    guard !check.apps.isEmpty else { return }
    let counter = SessionCounter()
    defer { counter.closeAll() }
    let counts = await counter.count(
      check.requests([:], dryRun: true, now: wallClockNow()), timeouts: config.timeouts)
    var machines = FollowMachines()
    let roles = nodeRoles(evidence)
    for report in check.judge(counts, &machines, now: wallClockNow()) {
      guard let app = config.apps.first(where: { $0.label == report.app }) else { continue }
      if !quiet { print("app \(app.label): sessions: \(report.placesText(roles: roles))") }
      if let text = report.missingGrantText { printError("warning: \(text)") }
    }
  }
}
