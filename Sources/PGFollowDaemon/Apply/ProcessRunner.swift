import PGFollowCore

#if canImport(Glibc)
  import Glibc
#endif

/// How a child process ended.
package struct ProcessResult: Sendable, Equatable {
  package enum Termination: Sendable, Equatable {
    case exited(Int32)
    case signalled(Int32)
    case timedOut
    case couldNotStart(String)
  }

  package var termination: Termination
  /// Standard output and error together, at most a few kilobytes.
  package var output: String

  package var succeeded: Bool { termination == .exited(0) }

  package var summary: String {
    switch termination {
    case .exited(let code): "exited with status \(code)"
    case .signalled(let signal): "killed by signal \(signal)"
    case .timedOut: "timed out and was killed"
    case .couldNotStart(let reason): "could not start: \(reason)"
    }
  }
}

/// Runs a program from an argv (never through a shell), with a timeout after which its process
/// group is killed. The program is looked up in PATH when it has no slash. Output past
/// `outputLimit` bytes is read and dropped. `environment` is added to pgfollow's own.
package func runProcess(
  _ argv: [String], timeout: Duration, outputLimit: Int = 4096,
  environment: [String: String] = [:]
) -> ProcessResult {
  var pipeEnds: [Int32] = [0, 0]
  guard pipe(&pipeEnds) == 0 else {
    return ProcessResult(termination: .couldNotStart("pipe: errno \(errno)"), output: "")
  }
  for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
  let spawned = spawn(argv, environment: environment, outputDescriptor: pipeEnds[1])
  close(pipeEnds[1])
  defer { close(pipeEnds[0]) }
  guard case .success(let pid) = spawned else {
    if case .failure(let reason) = spawned {
      return ProcessResult(termination: .couldNotStart(reason.message), output: "")
    }
    return ProcessResult(termination: .couldNotStart("unknown"), output: "")
  }
  var output = OutputCollector(descriptor: pipeEnds[0], limit: outputLimit)
  let deadline = ContinuousClock.now + timeout
  let exit = exitDescriptor(pid)
  defer { if exit >= 0 { close(exit) } }
  while true {
    var status: Int32 = 0
    let waited = waitpid(pid, &status, WNOHANG)
    if waited == pid {
      output.drain()
      return ProcessResult(termination: termination(status), output: output.text)
    }
    if ContinuousClock.now >= deadline {
      kill(-pid, SIGKILL)
      kill(pid, SIGKILL)
      waitpid(pid, &status, 0)
      return ProcessResult(termination: .timedOut, output: output.text)
    }
    // With a pidfd the wait ends at output, the exit or the deadline; without one, every 10 ms.
    let remaining = ContinuousClock.now.duration(to: deadline)
    let wait = exit >= 0 ? Int32(clamping: remaining.wholeMilliseconds + 1) : 10
    output.read(waitingMilliseconds: wait, orExitOf: exit)
  }
}

/// A descriptor that becomes readable when `pid` exits (Linux's pidfd, glibc 2.36 and later,
/// found at run time), or -1 where the C library or the kernel has none, or a seccomp filter
/// refuses it with an error (the shipped unit's `SystemCallErrorNumber=EPERM`; a filter that
/// kills instead would end pgfollow, as for any call it forbids).
private func exitDescriptor(_ pid: pid_t) -> Int32 {
  guard let symbol = dlsym(nil, "pidfd_open") else { return -1 }
  typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
  return unsafeBitCast(symbol, to: PidfdOpen.self)(pid, 0)
}

/// Starts a program from an argv and returns its pid without waiting; its output is dropped.
/// The caller ends it and reaps it (`kill`, `waitpid`).
func startChild(_ argv: [String]) -> pid_t? {
  let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
  guard null >= 0 else { return nil }
  defer { close(null) }
  guard case .success(let pid) = spawn(argv, environment: [:], outputDescriptor: null) else {
    return nil
  }
  return pid
}

private struct SpawnFailure: Error {
  var message: String
}

/// glibc's posix_spawn_file_actions_addclosefrom_np (2.34 and later), which Swift's Glibc
/// module does not declare.
private let closeFrom:
  (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
    dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
      unsafeBitCast(
        $0,
        to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self
      )
    }

private func spawn(_ argv: [String], environment: [String: String], outputDescriptor: Int32)
  -> Result<pid_t, SpawnFailure>
{
  guard let program = argv.first else { return .failure(SpawnFailure(message: "empty argv")) }
  var actions = posix_spawn_file_actions_t()
  var attributes = posix_spawnattr_t()
  posix_spawn_file_actions_init(&actions)
  posix_spawnattr_init(&attributes)
  defer {
    posix_spawn_file_actions_destroy(&actions)
    posix_spawnattr_destroy(&attributes)
  }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
  posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 1)
  posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 2)
  // Only those three: a descriptor pgfollow inherited without close-on-exec must not outlive it
  // in a unit, hook or application it starts.
  _ = closeFrom.map { $0(&actions, 3) }
  posix_spawnattr_setpgroup(&attributes, 0)
  var defaultSignals = sigset_t()
  sigemptyset(&defaultSignals)
  for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGUSR1] { sigaddset(&defaultSignals, signal) }
  posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
  var noSignals = sigset_t()
  sigemptyset(&noSignals)
  posix_spawnattr_setsigmask(&attributes, &noSignals)
  posix_spawnattr_setflags(
    &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
  let arguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
  defer { arguments.forEach { free($0) } }
  let variables: [UnsafeMutablePointer<CChar>?] =
    childEnvironment(adding: environment).map { strdup($0) } + [nil]
  defer { variables.forEach { free($0) } }
  var pid: pid_t = 0
  let result = posix_spawnp(&pid, program, &actions, &attributes, arguments, variables)
  guard result == 0 else {
    return .failure(SpawnFailure(message: "\(program): \(String(cString: strerror(result)))"))
  }
  return .success(pid)
}

private func termination(_ status: Int32) -> ProcessResult.Termination {
  let signal = status & 0x7F
  if signal == 0 { return .exited((status >> 8) & 0xFF) }
  return .signalled(signal)
}

/// Keeps the first few kilobytes a child writes, and discards the rest so it never blocks.
private struct OutputCollector {
  let descriptor: Int32
  var bytes: [UInt8] = []
  let limit: Int
  var open = true

  var text: String {
    var result = String(decoding: bytes, as: UTF8.self)
    while result.last?.isNewline == true { result.removeLast() }
    return result
  }

  /// Reads what the child wrote, waiting at most `waitingMilliseconds` for it or for `exit`
  /// (a pidfd, or -1) to become readable.
  mutating func read(waitingMilliseconds: Int32, orExitOf exit: Int32) {
    guard open || exit >= 0 else {
      usleep(UInt32(waitingMilliseconds) * 1000)
      return
    }
    // poll ignores a negative descriptor: a closed pipe, or no pidfd.
    var descriptors = [
      pollfd(fd: open ? descriptor : -1, events: Int16(POLLIN), revents: 0),
      pollfd(fd: exit, events: Int16(POLLIN), revents: 0),
    ]
    if poll(&descriptors, 2, waitingMilliseconds) > 0 && descriptors[0].revents != 0 {
      readAvailable()
    }
  }

  mutating func drain() {
    var descriptor = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
    while open, poll(&descriptor, 1, 0) > 0 { readAvailable() }
  }

  private mutating func readAvailable() {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = Glibc.read(descriptor, &buffer, buffer.count)
    if count <= 0 {
      open = false
      return
    }
    bytes += buffer.prefix(max(0, min(count, limit - bytes.count)))
  }
}

/// This process's environment as NAME=value strings, with `extra` added or replacing.
private func childEnvironment(adding extra: [String: String]) -> [String] {
  var entries: [String] = []
  var pointer = environ
  while let entry = pointer.pointee {
    let text = String(cString: entry)
    let name = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text
    if extra[name] == nil { entries.append(text) }
    pointer += 1
  }
  return entries + extra.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
}
