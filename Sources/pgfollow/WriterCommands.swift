import ArgumentParser
import PGFollowConfig
import PGFollowCore
import PGFollowDaemon
import PGFollowWriter

#if canImport(Glibc)
  import Glibc
#endif

/// Exit codes of `record` and `init`, beside 0 (done, or nothing to do) and 64 (usage).
enum WriterExit: Int32 {
  case timeout = 10
  case nameTooLong = 11
  case database = 12

  init(_ error: RecordError) {
    switch error {
    case .timeout: self = .timeout
    case .nameTooLong: self = .nameTooLong
    case .database: self = .database
    }
  }
}

struct Record: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Record this node as the new primary in the state table, once it is promoted.",
    discussion: """
      Waits (up to --wait) until the node is out of recovery, then inserts (now, NAME). If the \
      newest row already names this node nothing is inserted, so running it twice for one \
      promotion is harmless. If the newest row is newer than this host's clock, the row gets that \
      time plus one second, so the new row is always the newest. Works as pg_keeper's \
      after_command, as repmgr's event_notification_command (with --repmgr-event) and as a \
      Patroni on_role_change callback (with --patroni). Exit codes: 0 recorded, already recorded \
      or not a promotion; 10 not promoted in time; 11 name longer than the column; 12 database \
      error (connection, missing table, permission).
      """)

  @Option(name: [.short, .long], help: "A pgfollow configuration (nodes and state table).")
  var config: String?

  @Option(help: "The local node's conninfo (default: the configured node named --name).")
  var conninfo: String?

  @Option(help: "This node's name as the watchers know it (default: the host name).")
  var name: String?

  @Option(help: "The state table (default: the configuration's, or failover_log).")
  var table: String?

  @Option(help: "How long to wait for the promotion to finish, e.g. 60s.")
  var wait = "60s"

  @Option(help: "repmgr's %e: act only on a promotion event.")
  var repmgrEvent: String?

  @Option(help: "repmgr's %s: act only when the event succeeded (1).")
  var repmgrSuccess: String?

  @Flag(help: "Take Patroni's callback arguments (action role cluster); act on promotion only.")
  var patroni = false

  @Argument(help: .hidden)
  var callbackArguments: [String] = []

  func validate() throws {
    if parseDuration(wait) == nil { throw ValidationError("--wait must be a duration such as 60s") }
    if !patroni && !callbackArguments.isEmpty {
      throw ValidationError("unexpected arguments \(callbackArguments); did you mean --patroni?")
    }
  }

  func run() throws {
    if let reason = notAPromotion() {
      print("pgfollow record: \(reason); nothing to do")
      return
    }
    let settings = try loadSettings()
    let nodeName =
      name ?? settings.config?.nodes.first { $0.name == hostName() }?.name ?? hostName()
    guard let conninfo = conninfo ?? settings.config?.node(named: nodeName)?.conninfo else {
      throw ValidationError(
        "no conninfo: give --conninfo, or a --config with a node named \"\(nodeName)\"")
    }
    guard let waitLimit = parseDuration(wait) else {
      throw ValidationError("--wait must be a duration such as 60s")
    }
    let recorder = Recorder(
      conninfo: conninfo, name: nodeName, table: settings.table, wait: waitLimit)
    do {
      let outcome = try recorder.record { print("pgfollow record: \($0)") }
      switch outcome {
      case .recorded(let time):
        print("pgfollow record: recorded (\(time), \(nodeName)) in \(settings.table.table)")
      case .alreadyRecorded(let time):
        print("pgfollow record: the newest row (\(time), \(nodeName)) already names this node")
      }
    } catch {
      printError("pgfollow record: \(error)")
      throw ExitCode(WriterExit(error).rawValue)
    }
  }

  /// Why a hook invocation is not about this node becoming primary, if it is not.
  func notAPromotion() -> String? {
    let promotions = ["standby_promote", "repmgrd_failover_promote", "standby_switchover"]
    if let event = repmgrEvent {
      if !promotions.contains(event) { return "repmgr event \(event) is not a promotion" }
      if let success = repmgrSuccess, success != "1" { return "repmgr event \(event) failed" }
    }
    if patroni {
      let action = callbackArguments.first ?? ""
      let role = callbackArguments.count > 1 ? callbackArguments[1] : ""
      if !["on_role_change", "on_start"].contains(action) || !["master", "primary"].contains(role) {
        return "Patroni callback \(action) \(role) is not a promotion"
      }
    }
    return nil
  }

  func loadSettings() throws -> (config: Config?, table: FailoverTable) {
    let config = try self.config.map { try loadConfigOrExit($0) }
    var table = config?.failoverTable ?? FailoverTable()
    if let name = self.table { table.table = name }
    return (config, table)
  }
}

struct Init: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Create the state database and table if absent, and grant access to them.",
    discussion: """
      Run it against the primary as a role that may create databases. Idempotent. The table is \
      the original (unixtime int, host varchar(10)), or with --wide (unixtime bigint, host text). \
      It gains the columns timeline_id, wal_lsn and system_identifier, which the server fills at \
      each insert, whoever inserts, so that failovers are ordered by timeline rather than by \
      clock; an existing table gains them too, its rows and writers unchanged.
      """)

  @Option(help: "Conninfo of the primary, as an administrator (its dbname is used to connect).")
  var conninfo: String

  @Option(name: [.short, .long], help: "A pgfollow configuration, for the state table's names.")
  var config: String?

  @Option(help: "The state database (default: the configured nodes' dbname, or pg_state).")
  var database: String?

  @Flag(help: "Use 64-bit seconds and a text host column.")
  var wide = false

  @Option(name: .customLong("grant"), help: "A role the watchers use: SELECT (repeatable).")
  var readers: [String] = []

  @Option(name: .customLong("grant-writer"), help: "A role `record` uses: INSERT (repeatable).")
  var writers: [String] = []

  @Option(
    help: ArgumentHelp(
      "Create each --grant role if absent (LOGIN, not a superuser) and cap its connections at N.",
      valueName: "N"))
  var connectionLimit: Int?

  @Flag(
    help: ArgumentHelp(
      "Let each --grant role see and end the applications' sessions (pg_read_all_stats, "
        + "pg_signal_backend), for an app's verify: section."))
  var grantSessions = false

  @Flag(help: "Print the SQL; run nothing.")
  var dryRun = false

  func run() throws {
    var table = FailoverTable()
    var configuredDatabase: String?
    if let path = config {
      let loaded = try loadConfigOrExit(path)
      table = loaded.failoverTable
      configuredDatabase = loaded.nodes.first.flatMap { databaseName($0.conninfo) }
    }
    var setup = FailoverTableSetup(
      conninfo: conninfo, database: database ?? configuredDatabase ?? "pg_state", table: table,
      wide: wide, readers: readers, writers: writers)
    setup.connectionLimit = connectionLimit
    setup.sessionGrants = grantSessions
    if grantSessions && readers.isEmpty {
      printError("pgfollow init: --grant-sessions needs a --grant role")
      throw ExitCode.validationFailure
    }
    if let connectionLimit, connectionLimit < 1 || readers.isEmpty {
      printError("pgfollow init: --connection-limit needs a number above 0 and a --grant role")
      throw ExitCode.validationFailure
    }
    if dryRun {
      print(setup.script, terminator: "")
      return
    }
    do {
      for line in try setup.run() { print("pgfollow init: \(line)") }
    } catch {
      printError("pgfollow init: \(error)")
      throw ExitCode(WriterExit(error).rawValue)
    }
  }
}

/// The short host name, as `hostname -s` prints it.
func hostName() -> String {
  var buffer = [CChar](repeating: 0, count: 256)
  gethostname(&buffer, buffer.count)
  let full = textBeforeNUL(buffer)
  return String(full.split(separator: ".").first ?? Substring(full))
}
