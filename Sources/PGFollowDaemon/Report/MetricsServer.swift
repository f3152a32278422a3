import PGFollowCore
package import PGFollowSystem

#if canImport(Glibc)
  import Glibc
#endif

/// A socket call that failed, with the call and what the system said.
package struct SocketError: Error, Sendable, CustomStringConvertible {
  package var address: String
  package var message: String

  init(_ address: String, _ call: String, errno code: Int32 = errno) {
    self.address = address
    self.message = "\(call): \(String(cString: strerror(code)))"
  }

  package var description: String { "\(address): \(message)" }
}

/// Serves `GET /metrics` on one IPv4 address, one request at a time, on a thread of its own.
/// Every system call is checked; a failing `accept` (out of descriptors, say) backs off rather
/// than spinning; `stop()` ends the thread and closes the socket.
package final class MetricsServer: Sendable {
  private let listener: Int32
  /// Closing the write end wakes the serving thread's poll and ends it.
  private let stopWriter: Locked<Int32>

  /// Binds `listen` (`host:port`, an IPv4 address or localhost) or says why it cannot.
  package init(listen: String, metrics: Metrics) throws(SocketError) {
    let (host, port) = splitAddress(listen)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(port.flatMap { UInt16($0) } ?? 0).bigEndian
    guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1
    else { throw SocketError(listen, "metrics.listen needs an IPv4 address", errno: EINVAL) }
    listener = try Self.listeningSocket(&address, listen)
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else {
      let error = SocketError(listen, "pipe")
      close(listener)
      throw error
    }
    for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    stopWriter = Locked(ends[1])
    let (listener, stopReader) = (listener, ends[0])
    startThread { serve(listener, stopReader, metrics) }
  }

  deinit { stop() }

  /// Ends the serving thread, which closes the socket.
  package func stop() {
    stopWriter.withLock { writer in
      if writer >= 0 { close(writer) }
      writer = -1
    }
  }

  private static func listeningSocket(_ address: inout sockaddr_in, _ listen: String)
    throws(SocketError) -> Int32
  {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { throw SocketError(listen, "socket") }
    var yes: Int32 = 1
    let size = socklen_t(MemoryLayout<Int32>.size)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, size) == 0, bound == 0,
      Glibc.listen(descriptor, 16) == 0
    else {
      let error = SocketError(listen, "cannot listen for metrics")
      close(descriptor)
      throw error
    }
    return descriptor
  }
}

/// Answers one client at a time until `stopReader` reports its other end closed.
private func serve(_ listener: Int32, _ stopReader: Int32, _ metrics: Metrics) {
  defer {
    close(listener)
    close(stopReader)
  }
  var backoff: UInt32 = 0
  while true {
    var watched = [
      pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
      pollfd(fd: stopReader, events: Int16(POLLIN), revents: 0),
    ]
    let ready = poll(&watched, 2, -1)
    if ready < 0 && errno == EINTR { continue }
    if ready < 0 || watched[1].revents != 0 { return }
    let client = accept(listener, nil, nil)
    guard client >= 0 else {
      // EMFILE and its kind do not clear by retrying at once: wait, longer each time.
      if errno != EINTR && errno != ECONNABORTED && errno != EAGAIN {
        backoff = min(max(backoff * 2, 10_000), 1_000_000)
        usleep(backoff)
      }
      continue
    }
    backoff = 0
    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    if setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
      == 0
    {
      answer(client, metrics)
    }
    close(client)
  }
}

private func answer(_ client: Int32, _ metrics: Metrics) {
  var request: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 2048)
  while request.count < 8192, !request.ends(with: Array("\r\n\r\n".utf8)) {
    let count = recv(client, &buffer, buffer.count, 0)
    if count < 0 && errno == EINTR { continue }
    if count <= 0 { break }
    request += buffer[..<count]
  }
  let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
  let isMetrics = line.hasPrefix("GET /metrics ") || line.hasPrefix("GET /metrics?")
  let body = isMetrics ? metrics.render() : "not found; try /metrics\n"
  let status = isMetrics ? "200 OK" : "404 Not Found"
  let response = Array(
    ("HTTP/1.1 \(status)\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
      + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body).utf8)
  var sent = 0
  while sent < response.count {
    let count = response[sent...].withUnsafeBytes {
      send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
    }
    if count < 0 && errno == EINTR { continue }
    if count <= 0 { return }
    sent += count
  }
}

extension Array where Element == UInt8 {
  fileprivate func ends(with suffix: [UInt8]) -> Bool {
    count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
  }
}
