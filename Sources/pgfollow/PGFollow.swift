import ArgumentParser
import Logging
import PGFollowConfig
import PGFollowCore
import PGFollowDaemon
import PGFollowSystem
import ServiceLifecycle
import UnixSignals

@main
struct PGFollow: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "pgfollow",
    abstract: "Follow the PostgreSQL primary named in pg_state.failover_log: rewrite the "
      + "application's YAML and restart it.",
    discussion: """
      Exit codes of `once`: 0 in sync, 2 changed (file rewritten or restart done), 3 held (no \
      confirmed leader), 4 split brain, 5 configuration error, 6 application file error or write \
      failure, 7 restart failure, 8 lock busy or state directory unusable, 9 switched but the \
      application did not reach the new leader within verify.within. check-config: 0 valid, \
      5 the file or a node cannot work, 6 the application's file cannot be replaced, 7 a unit may \
      not be restarted, 8 the state directory is unusable. No subcommand: 64.

      Files: /etc/pgfollow/pgfollow.yaml (the configuration, root:pgfollow 0640); \
      /var/lib/pgfollow (the state, one file per app, and the service's home: its .pgpass \
      holds the nodes' passwords); /etc/polkit-1/rules.d/50-pgfollow.rules (the units the \
      service may restart); pgfollow.service and the pgfollow-once timer. Several clusters on \
      one host: pgfollow@NAME.service (--instance NAME) reads /etc/pgfollow/NAME.yaml and keeps \
      its state in /var/lib/pgfollow/NAME.

      Environment: PGPASSFILE (where libpq finds the passwords; with systemd's LoadCredential=, \
      PGPASSFILE=%d/pgpass), the other PG* variables of libpq, NOTIFY_SOCKET and WATCHDOG_USEC \
      (set by systemd), JOURNAL_STREAM (logs without timestamps under journald).
      """,
    version: pgfollowVersion,
    subcommands: [
      Once.self, Run.self, Status.self, CheckConfig.self, Record.self, Init.self,
    ])

  /// No subcommand is a usage error (64, EX_USAGE): a failover hook whose arguments were lost
  /// must not report success.
  func run() async throws {
    printError(Self.helpMessage())
    throw ExitCode(64)
  }
}

struct ConfigOptions: ParsableArguments {
  @Option(
    name: [.short, .long],
    help: "The pgfollow configuration file (default: /etc/pgfollow/pgfollow.yaml).")
  var config: String?

  @Option(
    help: ArgumentHelp(
      "One of several pgfollow on this host, one per cluster, as pgfollow@NAME.service runs it: "
        + "the configuration /etc/pgfollow/NAME.yaml, the state /var/lib/pgfollow/NAME unless "
        + "the file names its state_directory.", valueName: "name"))
  var instance: String?

  @Option(help: "Least severe log level shown: debug, info, notice, warning, error.")
  var logLevel: LogLevelArgument = .info

  func validate() throws {
    if let instance, let problem = Instance.problem(instance) {
      throw ValidationError("--instance \(instance): \(problem)")
    }
  }

  var configPath: String {
    config ?? Instance.configPath(instance)
  }

  /// The sidecar's unit for this configuration.
  var unit: String { instance.map { "pgfollow@\($0).service" } ?? "pgfollow.service" }

  var defaultStateDirectory: String { Instance.defaultStateDirectory(instance) }

  func load() throws -> Config {
    let config = try loadConfigOrExit(configPath, defaultStateDirectory: defaultStateDirectory)
    if let instance, config.stateDirectory == Config.defaultStateDirectory {
      printError(
        "\(configPath): state_directory \(config.stateDirectory) is the unnamed pgfollow's; "
          + "instance \(instance) keeps its state and lock in \(Instance.stateDirectory(instance)) "
          + "unless the file names another: remove the line, or name a directory of its own")
      throw ExitCode(CycleStatus.configError.exitCode)
    }
    return config
  }

  /// The run lock shared by `once` and `run`; exit code 8 if it cannot be had.
  func lock(_ config: Config, kind: String, logger: Logger) throws -> RunLock {
    do {
      return try StateStore(directory: config.stateDirectory).lock(
        wait: config.timeouts.lockWait, kind: kind)
    } catch {
      logger.error("\(error)")
      throw ExitCode(CycleStatus.lockOrStateFailed.exitCode)
    }
  }

  func bootstrapLogging() -> Logger {
    let journald = environment("JOURNAL_STREAM") != nil
    let level = logLevel.level
    LoggingSystem.bootstrap { label in
      var handler = StderrLogHandler(label: label, journald: journald)
      handler.logLevel = level
      return handler
    }
    return Logger(label: "pgfollow")
  }
}

struct Once: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run one cycle: probe every node, decide, rewrite the file and restart if needed.")

  @OptionGroup var options: ConfigOptions

  @Flag(help: "Print the chosen primary, the evidence and the diff; change nothing.")
  var dryRun = false

  func run() async throws {
    let logger = options.bootstrapLogging()
    let config = try options.load()
    let lock = dryRun ? nil : try options.lock(config, kind: "once", logger: logger)
    // Root (a cron loop, the timer, a dry run) logs in as the service would, as `status` and
    // `check-config` do.
    if let passfile = useTheServicePassfile(config), dryRun {
      printError("(root: using the service's password file \(passfile))")
    }
    let started = ContinuousClock.now
    let report = await Cycle(config: config, prober: ConfirmingProber(), dryRun: dryRun).once()
    if let textfile = config.metrics.textfile, !dryRun {
      do {
        try writeMetricsTextfile(
          textfile, report: report, duration: started.duration(to: .now), config: config)
      } catch {
        logger.warning("no metrics textfile: \(error)")
      }
    }
    withExtendedLifetime(lock) {}
    var reportLogger = ReportLogger(logger: logger, onlyChanges: false)
    reportLogger.log(report, config: config)
    if dryRun { print(report.text(config: config, dryRun: true), terminator: "") }
    if report.status != .inSync { throw ExitCode(report.status.exitCode) }
  }
}

struct Run: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run as a sidecar: repeat the cycle over persistent connections until stopped.",
    discussion: """
      SIGTERM or SIGINT stops between cycles, SIGHUP reloads the configuration (all of it but \
      state_directory, which needs a restart and says so), SIGUSR1 probes every node at once. \
      Under systemd (Type=notify) it reports READY, STATUS and WATCHDOG.
      """)

  @OptionGroup var options: ConfigOptions

  @Flag(help: "Log each decision and what it would change; change nothing.")
  var dryRun = false

  func run() async throws {
    let logger = options.bootstrapLogging()
    let config = try options.load()
    let lock = dryRun ? nil : try options.lock(config, kind: "run", logger: logger)
    let sidecar = Sidecar(
      configPath: options.configPath, config: config, dryRun: dryRun, logger: logger,
      reload: { [defaultStateDirectory = options.defaultStateDirectory] path in
        let config = try loadConfigFile(path, defaultStateDirectory: defaultStateDirectory)
        for warning in config.warnings { logger.warning("\(warning)") }
        return config
      })
    let group = ServiceGroup(
      services: [sidecar], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
    withExtendedLifetime(lock) {}
  }
}

struct Status: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show what pgfollow sees and why it decides what it does; change nothing.",
    discussion: """
      Exit codes follow monitoring plugins: 0 OK (following a leader, file in sync, no restart \
      owed, every node reachable), 1 WARNING (a node unreachable, the file not yet switched, a \
      restart owed, or an app's sessions on a node that is not the leader), 2 CRITICAL (holding, \
      split brain, the file unreadable, or an app that did not reach the new leader within \
      verify.within), 3 UNKNOWN (configuration error).
      """)

  @OptionGroup var options: ConfigOptions

  @Flag(help: "Print JSON instead of a table.")
  var json = false

  @Option(
    help: ArgumentHelp(
      "As root: also ask polkit whether USER may restart the units.", valueName: "USER"))
  var polkitFor: String?

  func run() async throws {
    _ = options.bootstrapLogging()
    let config: Config
    do { config = try options.load() } catch { throw ExitCode(3) }
    if let passfile = useTheServicePassfile(config) {
      printError("(root: using the service's password file \(passfile))")
    }
    var status = await collectStatus(config: config, unit: options.unit)
    if let user = polkitFor { status.preflight += polkitPreflight(config, user: user) }
    print(json ? status.json(config: config) : status.text(config: config), terminator: "")
    let code = status.health.exitCode
    if code != 0 { throw ExitCode(code) }
  }
}

/// The configuration at `path`, or its problems printed and exit code 5: the one way every
/// command loads a configuration.
func loadConfigOrExit(
  _ path: String, defaultStateDirectory: String = Config.defaultStateDirectory
) throws -> Config {
  do {
    let config = try loadConfigFile(path, defaultStateDirectory: defaultStateDirectory)
    for warning in config.warnings { printError("warning: \(warning)") }
    return config
  } catch {
    printError(error.description)
    throw ExitCode(CycleStatus.configError.exitCode)
  }
}

enum LogLevelArgument: String, ExpressibleByArgument, CaseIterable {
  case debug, info, notice, warning, error

  var level: Logger.Level {
    switch self {
    case .debug: .debug
    case .info: .info
    case .notice: .notice
    case .warning: .warning
    case .error: .error
    }
  }
}

/// A named pgfollow among several on one host (pgfollow@NAME.service), and where its files are;
/// nil names the unnamed one (pgfollow.service).
enum Instance {
  static let configDirectory = "/etc/pgfollow"

  static func configPath(_ name: String?) -> String {
    "\(configDirectory)/\(name ?? "pgfollow").yaml"
  }

  static func stateDirectory(_ name: String) -> String { "/var/lib/pgfollow/\(name)" }

  /// Where the state goes when the file names no state_directory.
  static func defaultStateDirectory(_ name: String?) -> String {
    name.map(stateDirectory) ?? Config.defaultStateDirectory
  }

  /// Why `name` cannot name an instance: it becomes a file name and a directory name.
  static func problem(_ name: String) -> String? {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
    if name.isEmpty || name.hasPrefix(".") || name.hasPrefix("-")
      || !name.allSatisfy(allowed.contains)
    {
      return "an instance name is letters, digits, '_', '.' and '-', not starting with '.' or '-'"
    }
    // The unnamed instance's files in /var/lib/pgfollow, where an instance's directory goes.
    if name == "pgfollow" || name == "lock" || name.hasPrefix("state.") {
      return "\(name) is a name the unnamed pgfollow uses for its own files; pick another"
    }
    return nil
  }
}
