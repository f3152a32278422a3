#if canImport(Glibc)
  package import Glibc
#endif

/// Who this process is, as a user name.
package func currentUserName() -> String { userName(geteuid()) }

/// A user's name, or its number when it has none.
package func userName(_ uid: uid_t) -> String {
  getpwuid(uid).map { String(cString: $0.pointee.pw_name) } ?? String(uid)
}

/// A group's name, or its number when it has none.
package func groupName(_ gid: gid_t) -> String {
  getgrgid(gid).map { String(cString: $0.pointee.gr_name) } ?? String(gid)
}
