import PGFollowCore
import PGFollowSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Replaces the file behind `snapshot` with `bytes`, atomically: a temporary file in the same
/// directory, written and fsynced, given the old mode and owner, renamed over the old one, and
/// the directory fsynced. Refuses if the file changed since it was read. `beforeRename` runs once
/// the new file is written and only the rename is left. On failure the old file is untouched,
/// except when only the directory's fsync failed: that error comes with `replaced` set.
func replaceAtomically(
  _ snapshot: FileSnapshot, with bytes: [UInt8],
  beforeRename: () throws(FileError) -> Void = {}
) throws(FileError) {
  let directory = parentDirectory(snapshot.realPath)
  let name = String(snapshot.realPath.dropFirst(directory.count + 1))
  removeLeftovers(in: directory, prefix: ".\(name).pgfollow-")
  let notDurable = try replace(
    snapshot.realPath, temporaryPrefix: "\(directory)/.\(name).pgfollow-", bytes: bytes,
    prepare: { descriptor, path throws(FileError) in
      try matchOwnership(descriptor, snapshot.identity, path: path)
    },
    beforeRename: { () throws(FileError) in
      try ensureUnchanged(snapshot)
      try beforeRename()
    })
  if var error = notDurable {
    error.replaced = true
    throw error
  }
}

/// Writes `bytes` beside the file behind `snapshot`, with its mode and owner and its name at the
/// end (so that a checker that goes by the extension sees the same one), for `check` to read.
/// Returns the path; the caller removes it.
func writeCandidate(_ snapshot: FileSnapshot, _ bytes: [UInt8]) throws(FileError) -> String {
  let directory = parentDirectory(snapshot.realPath)
  let name = String(snapshot.realPath.dropFirst(directory.count + 1))
  let suffix = "-" + name
  var template = Array("\(directory)/.pgfollow-check-XXXXXX\(suffix)".utf8CString)
  let descriptor = mkstemps(&template, Int32(suffix.utf8.count))
  guard descriptor >= 0 else { throw FileError(directory, "cannot create a file to check") }
  let path = textBeforeNUL(template)
  defer { close(descriptor) }
  do throws(FileError) {
    try writeAll(bytes, to: descriptor, path: path)
    try matchOwnership(descriptor, snapshot.identity, path: path)
  } catch {
    unlink(path)
    throw error
  }
  return path
}

/// Keeps the file behind `snapshot` as it was read, as FILE.pgfollow-previous beside it:
/// atomically, with its mode and owner.
func keepPrevious(_ snapshot: FileSnapshot) throws(FileError) {
  let backup = snapshot.realPath + ".pgfollow-previous"
  let notDurable = try replace(
    backup, temporaryPrefix: "\(backup).tmp-", bytes: snapshot.bytes,
    prepare: { descriptor, path throws(FileError) in
      try matchOwnership(descriptor, snapshot.identity, path: path)
    },
    beforeRename: {})
  if let notDurable { throw notDurable }
}

/// Writes `bytes` to a new file or replaces an old one atomically (for pgfollow's own files).
func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(FileError) {
  let notDurable = try replace(
    path, temporaryPrefix: "\(path).tmp-", bytes: bytes,
    prepare: { descriptor, path throws(FileError) in
      guard fchmod(descriptor, mode) == 0 else { throw FileError(path, "cannot set the mode") }
    },
    beforeRename: {})
  if let notDurable { throw notDurable }
}

/// Returns, rather than throws, a failure after the rename (the directory's fsync): the new
/// version is in place by then, and only the caller knows what that means.
private func replace(
  _ target: String, temporaryPrefix: String, bytes: [UInt8],
  prepare: (Int32, String) throws(FileError) -> Void,
  beforeRename: () throws(FileError) -> Void
) throws(FileError) -> FileError? {
  let directory = parentDirectory(target)
  var template = Array("\(temporaryPrefix)XXXXXX".utf8CString)
  let descriptor = mkstemp(&template)
  guard descriptor >= 0 else { throw FileError(directory, "cannot create a temporary file") }
  _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
  let temporary = textBeforeNUL(template)
  var renamed = false
  defer { if !renamed { unlink(temporary) } }
  do throws(FileError) {
    try writeAll(bytes, to: descriptor, path: temporary)
    try prepare(descriptor, temporary)
    guard fsync(descriptor) == 0 else { throw FileError(temporary, "cannot fsync") }
  } catch {
    close(descriptor)
    throw error
  }
  guard close(descriptor) == 0 else { throw FileError(temporary, "cannot close") }
  try beforeRename()
  guard rename(temporary, target) == 0 else {
    throw FileError(target, "cannot rename the new version into place")
  }
  renamed = true
  do throws(FileError) { try syncDirectory(directory) } catch { return error }
  return nil
}

/// Removes temporary files an earlier run left when it was killed mid-write. Runs hold the run
/// lock, so no other pgfollow is writing one now.
private func removeLeftovers(in directory: String, prefix: String) {
  let names = directoryEntries(directory).filter {
    $0.hasPrefix(prefix) && $0.count == prefix.count + 6
  }
  for name in names { unlink(directory + "/" + name) }
}

/// The names in `directory` (none if it cannot be read).
package func directoryEntries(_ directory: String) -> [String] {
  guard let stream = opendir(directory) else { return [] }
  defer { closedir(stream) }
  var names: [String] = []
  while let entry = readdir(stream) {
    names.append(
      withUnsafeBytes(of: entry.pointee.d_name) { bytes in
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
      })
  }
  return names
}

private func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(FileError) {
  var offset = 0
  while offset < bytes.count {
    let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    if written < 0 && errno == EINTR { continue }
    guard written > 0 else { throw FileError(path, "cannot write") }
    offset += written
  }
}

private func matchOwnership(_ descriptor: Int32, _ identity: FileIdentity, path: String)
  throws(FileError)
{
  guard fchmod(descriptor, mode_t(identity.mode & 0o7777)) == 0 else {
    throw FileError(path, "cannot set the mode")
  }
  var info = stat()
  guard fstat(descriptor, &info) == 0 else { throw FileError(path, "cannot stat") }
  if info.st_uid != identity.owner || info.st_gid != identity.group {
    guard fchown(descriptor, identity.owner, identity.group) == 0 else {
      throw FileError(
        path, "cannot give the new file the old owner \(identity.owner):\(identity.group)")
    }
  }
}

private func ensureUnchanged(_ snapshot: FileSnapshot) throws(FileError) {
  var info = stat()
  guard stat(snapshot.realPath, &info) == 0 else {
    throw FileError(snapshot.realPath, "cannot stat")
  }
  guard FileIdentity(info) == snapshot.identity else {
    throw FileError(
      path: snapshot.realPath,
      message: "changed by someone else while pgfollow edited it; not replaced")
  }
}

private func syncDirectory(_ directory: String) throws(FileError) {
  let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  guard descriptor >= 0 else { throw FileError(directory, "cannot open the directory") }
  defer { close(descriptor) }
  guard fsync(descriptor) == 0 else { throw FileError(directory, "cannot fsync the directory") }
}
