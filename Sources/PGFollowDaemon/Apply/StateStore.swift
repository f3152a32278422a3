package import PGFollowCore
import PGFollowYAML

#if canImport(Glibc)
  import Glibc
#endif

/// The state file and the run lock, both in the state directory.
package struct StateStore: Sendable {
  package let directory: String

  package init(directory: String) {
    self.directory = directory
  }

  var statePath: String { directory + "/state.json" }
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

  /// Takes the exclusive run lock, waiting up to `wait`. Released when the lock is dropped or the
  /// process ends, so a crashed run never leaves it held.
  package func lock(wait: Duration) throws(LockError) -> RunLock {
    try ensureDirectory()
    let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw .unavailable(FileError(lockPath, "cannot open the lock")) }
    let deadline = ContinuousClock.now + wait
    while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
      let code = errno
      guard code == EWOULDBLOCK || code == EINTR, ContinuousClock.now < deadline else {
        close(descriptor)
        if code == EWOULDBLOCK { throw .busy(lockPath) }
        throw .unavailable(FileError(lockPath, "cannot lock", errno: code))
      }
      usleep(20_000)
    }
    return RunLock(descriptor: descriptor)
  }

  func ensureDirectory() throws(LockError) {
    if mkdir(directory, 0o755) != 0 && errno != EEXIST {
      throw .unavailable(FileError(directory, "cannot create the state directory"))
    }
  }
}

package enum LockError: Error, Sendable, CustomStringConvertible {
  case busy(String)
  case unavailable(FileError)

  package var description: String {
    switch self {
    case .busy(let path): "another pgfollow run holds \(path); gave up waiting"
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
