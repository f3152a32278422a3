#if canImport(Glibc)
  package import Glibc
#endif

/// A file-system failure, naming the path and the system's reason.
package struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
  package var path: String
  package var message: String
  /// The errno of the call that failed, when one did.
  package var code: Int32?
  /// Set when the new version was renamed into place before the failure (its directory could not
  /// be fsynced): the file is the new one, though a crash could still bring the old one back.
  package var replaced = false

  package var description: String { "\(path): \(message)" }

  package init(_ path: String, _ action: String, errno code: Int32 = errno) {
    self.path = path
    self.message = "\(action): \(String(cString: strerror(code)))"
    self.code = code
  }

  package init(path: String, message: String) {
    self.path = path
    self.message = message
  }
}

/// Enough of a file's metadata to notice that someone else replaced or changed it.
package struct FileIdentity: Equatable, Sendable {
  package var device: UInt64
  package var inode: UInt64
  package var size: Int64
  package var modified: Int64
  package var modifiedNanoseconds: Int64
  package var mode: UInt32
  package var owner: UInt32
  package var group: UInt32

  package init(_ info: stat) {
    device = UInt64(info.st_dev)
    inode = UInt64(info.st_ino)
    size = Int64(info.st_size)
    modified = Int64(info.st_mtim.tv_sec)
    modifiedNanoseconds = Int64(info.st_mtim.tv_nsec)
    mode = UInt32(info.st_mode)
    owner = UInt32(info.st_uid)
    group = UInt32(info.st_gid)
  }
}

/// A file read whole, with the real path behind any symlink and its identity at reading time.
package struct FileSnapshot: Sendable {
  package var path: String
  package var realPath: String
  package var bytes: [UInt8]
  package var identity: FileIdentity
}

package func readSnapshot(_ path: String) throws(FileError) -> FileSnapshot {
  guard let realPath = realPath(path) else { throw FileError(path, "cannot resolve") }
  let descriptor = open(realPath, O_RDONLY | O_CLOEXEC)
  guard descriptor >= 0 else { throw FileError(path, "cannot open") }
  defer { close(descriptor) }
  var info = stat()
  guard fstat(descriptor, &info) == 0 else { throw FileError(path, "cannot stat") }
  guard info.st_mode & S_IFMT == S_IFREG else {
    throw FileError(path: path, message: "not a regular file")
  }
  var bytes: [UInt8] = []
  bytes.reserveCapacity(Int(info.st_size))
  var buffer = [UInt8](repeating: 0, count: 65536)
  while true {
    let count = read(descriptor, &buffer, buffer.count)
    if count < 0 && errno == EINTR { continue }
    guard count >= 0 else { throw FileError(path, "cannot read") }
    if count == 0 { break }
    bytes += buffer[..<count]
  }
  return FileSnapshot(path: path, realPath: realPath, bytes: bytes, identity: FileIdentity(info))
}

/// The path with every symlink, `.` and `..` resolved; nil if it does not resolve.
package func realPath(_ path: String) -> String? {
  guard let resolved = realpath(path, nil) else { return nil }
  defer { free(resolved) }
  return String(cString: resolved)
}
