package import PGFollowCore
package import PGFollowSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Something pgfollow will need at a failover and may not do now, with how to fix it.
package struct PreflightProblem: Sendable, Equatable, CustomStringConvertible {
  package enum Area: Sendable, Equatable {
    case file, stateDirectory, restart, hook
  }

  package var area: Area
  package var problem: String
  package var remedy: String

  package var description: String { "\(problem); \(remedy)" }

  /// The exit code of `once` for a failure of this kind.
  package var status: CycleStatus {
    switch area {
    case .file: .writeFailed
    case .stateDirectory: .lockOrStateFailed
    case .restart: .restartFailed
    case .hook: .configError
    }
  }
}

/// Checks, as the user this process runs as, what a failover will need: creating files in the
/// application file's directory, giving a new file the current file's owner, group and mode,
/// and writing the state directory. Root may do all of that.
/// `unitGroups` are groups the service gets from its unit (`SupplementaryGroups=`) that this
/// process, run outside the unit as the same user, lacks.
package func preflight(_ config: Config, unitGroups: Set<UInt32> = []) -> [PreflightProblem] {
  config.apps.flatMap { app in
    checkApplicationFile(app.file, unitGroups: unitGroups).map { problem in
      var named = problem
      named.problem = app.logPrefix + problem.problem
      return named
    }
  } + checkStateDirectory(config.stateDirectory) + checkHookPrograms(config)
}

/// Each hook's and each check's program must exist and be executable by this user: a hook would
/// fail at the first failover, and a check would refuse every new file.
private func checkHookPrograms(_ config: Config) -> [PreflightProblem] {
  config.apps.flatMap { app in
    let programs =
      app.hooks.map { ("hook", $0.command.first, "hooks") }
      + (app.check.map { [("check", $0.command.first, "check")] } ?? [])
    return programs.compactMap { kind, program, key -> PreflightProblem? in
      guard let program, findExecutable(program) == nil else { return nil }
      return PreflightProblem(
        area: .hook,
        problem: "\(app.logPrefix)the \(kind)'s program \(program) "
          + (program.contains("/") ? "is missing or not executable" : "is not found in PATH")
          + " for \(currentUserName())",
        remedy: "install it, make it executable, or remove the \(kind) from \(app.key(key))")
    }
  }
}

/// The path a program runs from: itself when it names a path, else the first executable of that
/// name in PATH; nil when there is none this user may run.
func findExecutable(_ program: String) -> String? {
  if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
  let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
  return path.split(separator: ":").map { "\($0)/\(program)" }.first {
    access($0, X_OK) == 0
  }
}

/// Asks polkit, as root, whether `user` may restart each unit, acting on nothing. polkit answers
/// questions with the unit and verb in them only to root (pkcheck from another user is refused),
/// so this runs from the unit's `ExecStartPre=+`: a process of `user` stands in as the subject.
package func polkitPreflight(_ config: Config, user: String) -> [PreflightProblem] {
  guard geteuid() == 0 else {
    return [
      PreflightProblem(
        area: .restart, problem: "only root may ask polkit about \(user)'s rights",
        remedy: "run this check as root (ExecStartPre=+ in the unit)")
    ]
  }
  guard let subject = standIn(for: user) else {
    return [
      PreflightProblem(
        area: .restart, problem: "cannot start a process as \(user) to ask polkit about",
        remedy: "check that the user \(user) exists")
    ]
  }
  defer {
    kill(subject, SIGKILL)
    var status: Int32 = 0
    waitpid(subject, &status, 0)
  }
  return config.apps.flatMap { app in
    app.restart.units.compactMap { checkRestart($0, app.restart, subject, user) }
  }
}

/// A process running as `user` (setpriv, then sleep), once it has taken that user's identity.
private func standIn(for user: String) -> pid_t? {
  guard let account = getpwnam(user) else { return nil }
  let uid = account.pointee.pw_uid
  guard
    let pid = startChild([
      "setpriv", "--reuid=\(user)", "--regid=\(account.pointee.pw_gid)", "--init-groups", "--",
      "sleep", "60",
    ])
  else { return nil }
  for _ in 0..<200 {
    var info = stat()
    if stat("/proc/\(pid)", &info) == 0 && info.st_uid == uid { return pid }
    usleep(10_000)
  }
  kill(pid, SIGKILL)
  var status: Int32 = 0
  waitpid(pid, &status, 0)
  return nil
}

private func checkApplicationFile(_ file: String, unitGroups: Set<UInt32>) -> [PreflightProblem] {
  let real = realPath(file) ?? file
  let directory = parentDirectory(real)
  var problems: [PreflightProblem] = []
  if let error = tryCreatingAFile(in: directory) {
    problems.append(
      PreflightProblem(
        area: .file,
        problem: "cannot create files in \(directory) (\(error)), where the new \(file) is written",
        remedy: "let \(currentUserName()) write \(directory) (for example chgrp "
          + "\(groupName(getegid())) \(directory) && chmod g+w \(directory)), and list it in the "
          + "unit's ReadWritePaths="))
  }
  var info = stat()
  guard stat(real, &info) == 0 else { return problems }
  guard geteuid() != 0 else { return problems }
  if info.st_uid != geteuid() {
    problems.append(
      PreflightProblem(
        area: .file,
        problem: "\(file) belongs to \(userName(info.st_uid)), and only root may give a new file "
          + "to another user",
        remedy: "chown \(currentUserName()) \(file)"))
  }
  if !memberOf(info.st_gid) && !unitGroups.contains(info.st_gid) {
    let group = groupName(info.st_gid)
    problems.append(
      PreflightProblem(
        area: .file,
        problem: "\(file) has the group \(group), which \(currentUserName()) is not a member of, "
          + "so its new file could not keep that group",
        remedy: info.st_gid == 0
          ? "give the file the application's own group (chgrp APPGROUP \(file)), then add "
            + "SupplementaryGroups=APPGROUP to the unit; never the group root"
          : "add SupplementaryGroups=\(group) to the unit (the application keeps reading the "
            + "file through its group)"))
  }
  return problems
}

private func checkStateDirectory(_ directory: String) -> [PreflightProblem] {
  if mkdir(directory, 0o755) != 0 && errno != EEXIST {
    return [stateProblem(directory, String(cString: strerror(errno)))]
  }
  return tryCreatingAFile(in: directory).map { [stateProblem(directory, $0)] } ?? []
}

private func stateProblem(_ directory: String, _ error: String) -> PreflightProblem {
  PreflightProblem(
    area: .stateDirectory,
    problem: "cannot write the state directory \(directory) (\(error))",
    remedy: "keep StateDirectory=pgfollow in the unit, or chown \(currentUserName()) \(directory)")
}

/// Asks polkit whether the process `subject` may run `systemctl ACTION UNIT`, without doing it.
private func checkRestart(
  _ unit: String, _ restart: RestartConfig, _ subject: pid_t, _ user: String
) -> PreflightProblem? {
  let verb = restart.action.rawValue
  let result = runProcess(
    [
      "pkcheck", "--action-id", "org.freedesktop.systemd1.manage-units", "--process",
      String(subject), "--detail", "unit", unit, "--detail", "verb", verb,
    ], timeout: .seconds(10))
  switch result.termination {
  case .exited(0): return nil
  case .exited(1), .exited(2), .exited(3):  // not authorized, needs a password, dismissed
    return PreflightProblem(
      area: .restart,
      problem: "\(user) may not \(verb) \(unit): polkit says no",
      remedy: "list \(unit) in `var units` of /etc/polkit-1/rules.d/50-pgfollow.rules (the "
        + "package installs it; otherwise copy examples/50-pgfollow.rules there)")
  case .couldNotStart:
    return PreflightProblem(
      area: .restart, problem: "cannot ask polkit whether \(unit) may be restarted (no pkcheck)",
      remedy: "install polkitd, or run pgfollow as root")
  default:
    let said = result.output.split(separator: "\n").first.map { ": \($0)" } ?? ""
    return PreflightProblem(
      area: .restart,
      problem: "cannot ask polkit whether \(user) may \(verb) \(unit) (pkcheck\(said))",
      remedy: "start the system bus, which polkit and systemctl need (systemctl start dbus; "
        + "a dbus that apt has just installed runs only after that or a reboot)")
  }
}

/// Nil if a file could be created (and was removed again) in `directory`; else the error.
private func tryCreatingAFile(in directory: String) -> String? {
  var template = Array((directory + "/.pgfollow-preflight-XXXXXX").utf8CString)
  let descriptor = mkstemp(&template)
  guard descriptor >= 0 else { return String(cString: strerror(errno)) }
  close(descriptor)
  unlink(textBeforeNUL(template))
  return nil
}

private func memberOf(_ group: gid_t) -> Bool {
  if group == getegid() { return true }
  var groups = [gid_t](repeating: 0, count: 256)
  let count = getgroups(Int32(groups.count), &groups)
  return count > 0 && groups.prefix(Int(count)).contains(group)
}

/// The groups that `unit` gives its service through `SupplementaryGroups=`, when systemd says
/// so and the service runs as this user: what `status` run outside the unit may count as its
/// own. Empty when systemd cannot be asked.
package func unitGroupsOfThisUser(_ unit: String = "pgfollow.service") -> (
  names: [String], ids: Set<UInt32>
) {
  let result = runProcess(
    ["systemctl", "show", unit, "--property=User", "--property=SupplementaryGroups"],
    timeout: .seconds(5))
  guard case .exited(0) = result.termination else { return ([], []) }
  var properties: [String: String] = [:]
  for line in result.output.split(separator: "\n") {
    let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
    if parts.count == 2 { properties[parts[0]] = parts[1] }
  }
  guard properties["User"] == currentUserName() else { return ([], []) }
  let names = (properties["SupplementaryGroups"] ?? "").split(separator: " ").map(String.init)
  let ids = names.compactMap { name in getgrnam(name).map { $0.pointee.gr_gid } }
  return (names, Set(ids))
}

/// Root has a home of its own, so libpq would not find the service's `~/.pgpass`: when root
/// has neither PGPASSFILE nor a `.pgpass`, and the state directory or the pgfollow user's home
/// (an instance's state directory is below it) holds one, `status`, `check-config` and `once`'s
/// dry run use it, as the service does. Returns its path when so.
package func useTheServicePassfile(_ config: Config) -> String? {
  let home = getpwnam("pgfollow").map { String(cString: $0.pointee.pw_dir) }
  // The service reads its home's (~/.pgpass); a state directory elsewhere is tried after it.
  let candidates = (home.map { [$0 + "/.pgpass"] } ?? []) + [config.stateDirectory + "/.pgpass"]
  guard geteuid() == 0, getenv("PGPASSFILE") == nil,
    access((getenv("HOME").map { String(cString: $0) } ?? "/root") + "/.pgpass", F_OK) != 0,
    let servicePassfile = candidates.first(where: { access($0, R_OK) == 0 })
  else { return nil }
  setenv("PGPASSFILE", servicePassfile, 1)
  return servicePassfile
}

/// Whether the apps' checks together may outlive half of `watchdog` (the unit's `WatchdogSec`):
/// every switch waits for its check (`once` within its run, the sidecar in the background), so
/// checks that slow would hold a failover back that long, and `once` past a watchdog.
package func checkTimeoutProblems(_ config: Config, watchdog: Duration?) -> [String] {
  let checks = config.apps.compactMap { app in app.check.map { (app, $0.timeout) } }
  let total = checks.map(\.1).reduce(.zero, +)
  guard let watchdog, total * 2 > watchdog else { return [] }
  let what =
    checks.count == 1
    ? "\(checks[0].0.logPrefix)check.timeout \(formatDuration(total)) is"
    : "the apps' check timeouts add up to \(formatDuration(total)), which is"
  return [
    "\(what) more than half the unit's WatchdogSec=\(formatDuration(watchdog)): every switch "
      + "waits for its check, so checks that hang would hold a failover back that long; keep "
      + "the checks' timeouts to \(formatDuration(watchdog / 2)) in all"
  ]
}

/// `unit`'s `WatchdogSec=`, when systemd can be asked and the watchdog is on.
package func unitWatchdog(_ unit: String) -> Duration? {
  let result = runProcess(
    ["systemctl", "show", unit, "--property=WatchdogUSec", "--value"], timeout: .seconds(5))
  guard case .exited(0) = result.termination else { return nil }
  return parseSystemdTimespan(String(result.output.trimming { $0.isWhitespace }))
}

/// systemd's timespan as `systemctl show` prints it ("10s", "1min 30s", "500ms", or a bare
/// number of microseconds); nil for zero, infinity or what it cannot read.
package func parseSystemdTimespan(_ text: String) -> Duration? {
  if let microseconds = Int64(text) { return microseconds > 0 ? .microseconds(microseconds) : nil }
  let units: [(String, Duration)] = [
    ("min", .seconds(60)), ("ms", .milliseconds(1)), ("us", .microseconds(1)),
    ("h", .seconds(3600)), ("s", .seconds(1)),
  ]
  var total = Duration.zero
  for token in text.split(separator: " ") {
    guard let (suffix, unit) = units.first(where: { token.hasSuffix($0.0) }),
      let value = Double(token.dropLast(suffix.count))
    else { return nil }
    total += unit * value
  }
  return total > .zero ? total : nil
}
