#if canImport(Glibc)
  import Glibc
#endif

/// sd_notify without libsystemd: datagrams to the socket named by NOTIFY_SOCKET. Without that
/// variable (not started by systemd with Type=notify) every call does nothing.
package struct SystemdNotifier: Sendable {
  let socketPath: String?

  package init(socketPath: String? = environment("NOTIFY_SOCKET")) {
    self.socketPath = socketPath.flatMap { $0.isEmpty ? nil : $0 }
  }

  /// The watchdog period systemd expects pings within, when the watchdog is on for this process.
  package static var watchdogInterval: Duration? {
    guard let text = environment("WATCHDOG_USEC"), let usec = Int64(text), usec > 0 else {
      return nil
    }
    if let pid = environment("WATCHDOG_PID"), pid != String(getpid()) { return nil }
    return .microseconds(usec)
  }

  /// Sends `KEY=value` lines, for example `["READY=1", "STATUS=following db01"]`. Never blocks:
  /// a reader that stops reading loses messages rather than stalling the sidecar.
  @discardableResult
  package func notify(_ assignments: [String]) -> Bool {
    guard let socketPath else { return false }
    let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var path = Array(socketPath.utf8)
    if path.first == UInt8(ascii: "@") { path[0] = 0 }
    guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      buffer.copyBytes(from: path)
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
    let message = Array(assignments.joined(separator: "\n").utf8)
    let sent = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
        sendto(
          descriptor, message, message.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT),
          socketAddress, length)
      }
    }
    return sent == message.count
  }
}

package func environment(_ name: String) -> String? {
  getenv(name).map { String(cString: $0) }
}
