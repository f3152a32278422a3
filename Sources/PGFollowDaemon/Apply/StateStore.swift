package import PGFollowCore
package import PGFollowSystem
import PGFollowYAML

#if canImport(Glibc)
  import Glibc
#endif

/// An app's state file and the run lock, both in the state directory: `state.json` for the short
/// form's one app, `state.NAME.json` for each entry of `apps:`.
package struct StateStore: Sendable {
  package let directory: String
  package let app: String?

  package init(directory: String, app: String? = nil) {
    self.directory = directory
    self.app = app
  }

  package var statePath: String { directory + (app.map { "/state.\($0).json" } ?? "/state.json") }
  var lockPath: String { directory + "/lock" }

  package func load() throws(FileError) -> FollowState {
    guard access(statePath, F_OK) == 0 else { return FollowState() }
    let snapshot = try readSnapshot(statePath)
    do {
      return try FollowState(json: snapshot.bytes, file: statePath)
    } catch {
      throw FileError(
        path: statePath, message: "unreadable state (\(error.message)); remove it to start afresh")
    }
  }

  package func save(_ state: FollowState) throws(FileError) {
    try writeFileAtomically(statePath, Array(state.json.utf8), mode: 0o644)
  }

  /// Takes the exclusive run lock, waiting up to `wait`, and writes who holds it (`pid kind`)
  /// into the lock file. A lock held by the sidecar (`run`) is not waited for: it holds the lock
  /// for its lifetime. Released when the lock is dropped or the process ends, so a crashed run
  /// never leaves it held.
  package func lock(wait: Duration, kind: String) throws(LockError) -> RunLock {
    try ensureDirectory()
    let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw .unavailable(FileError(lockPath, "cannot open the lock")) }
    let deadline = ContinuousClock.now + wait
    while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
      let code = errno
      let holder = lockHolder(descriptor)
      guard code == EWOULDBLOCK || code == EINTR, ContinuousClock.now < deadline,
        holder?.kind != "run"
      else {
        close(descriptor)
        if code == EWOULDBLOCK { throw .busy(lockPath, holder: holder) }
        throw .unavailable(FileError(lockPath, "cannot lock", errno: code))
      }
      usleep(20_000)
    }
    let record = Array("\(getpid()) \(kind)\n".utf8)
    if ftruncate(descriptor, 0) == 0 { _ = pwrite(descriptor, record, record.count, 0) }
    return RunLock(descriptor: descriptor)
  }

  /// Who holds the lock, as its holder wrote: a pid still alive, and what runs there.
  private func lockHolder(_ descriptor: Int32) -> (pid: Int32, kind: String)? {
    var buffer = [UInt8](repeating: 0, count: 64)
    let count = pread(descriptor, &buffer, buffer.count, 0)
    guard count > 0 else { return nil }
    let words = String(decoding: buffer.prefix(count), as: UTF8.self).split(
      whereSeparator: \.isWhitespace)
    guard words.count == 2, let pid = Int32(words[0]), kill(pid, 0) == 0 || errno == EPERM else {
      return nil
    }
    return (pid, String(words[1]))
  }

  func ensureDirectory() throws(LockError) {
    if mkdir(directory, 0o755) != 0 && errno != EEXIST {
      throw .unavailable(FileError(directory, "cannot create the state directory"))
    }
  }
}

package enum LockError: Error, Sendable, CustomStringConvertible {
  case busy(String, holder: (pid: Int32, kind: String)?)
  case unavailable(FileError)

  package var description: String {
    switch self {
    case .busy(let path, let holder?) where holder.kind == "run":
      "the sidecar (pgfollow run, pid \(holder.pid)) holds \(path) and follows the leader "
        + "already; see `pgfollow status`"
    case .busy(let path, let holder):
      "another pgfollow run\(holder.map { " (pid \($0.pid))" } ?? "") holds \(path); gave up waiting"
    case .unavailable(let error): error.description
    }
  }
}

/// The held run lock; closing the descriptor releases it.
package final class RunLock: Sendable {
  let descriptor: Int32

  init(descriptor: Int32) {
    self.descriptor = descriptor
  }

  deinit {
    close(descriptor)
  }
}
