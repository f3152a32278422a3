import Dispatch

#if canImport(Glibc)
  import Glibc
#endif

/// Serves `GET /metrics` on one IPv4 address, one request at a time, on a thread of its own.
public final class MetricsServer: Sendable {
  private let descriptor: Int32

  /// Binds `listen` (`host:port`, an IPv4 address or localhost) or says why it cannot.
  public init(listen: String, metrics: Metrics) throws(FileError) {
    let (host, port) = splitHostPort(listen)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(port).bigEndian
    guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1
    else { throw FileError(path: listen, message: "metrics.listen needs an IPv4 address") }
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var yes: Int32 = 1
    setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, Glibc.listen(descriptor, 16) == 0 else {
      let error = FileError(listen, "cannot listen for metrics")
      close(descriptor)
      throw error
    }
    self.descriptor = descriptor
    DispatchQueue(label: "pgfollow.metrics").async { [self] in serve(metrics) }
  }

  private func serve(_ metrics: Metrics) {
    while true {
      let client = accept(descriptor, nil, nil)
      if client < 0 { continue }
      _ = fcntl(client, F_SETFD, FD_CLOEXEC)
      var timeout = timeval(tv_sec: 2, tv_usec: 0)
      setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
      answer(client, metrics)
      close(client)
    }
  }

  private func answer(_ client: Int32, _ metrics: Metrics) {
    var request: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 2048)
    while request.count < 8192, !request.ends(with: Array("\r\n\r\n".utf8)) {
      let count = recv(client, &buffer, buffer.count, 0)
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
    _ = response.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
  }
}

private func splitHostPort(_ listen: String) -> (String, UInt16) {
  guard let colon = listen.lastIndex(of: ":") else { return (listen, 0) }
  return (String(listen[..<colon]), UInt16(listen[listen.index(after: colon)...]) ?? 0)
}

extension Array where Element == UInt8 {
  fileprivate func ends(with suffix: [UInt8]) -> Bool {
    count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
  }
}
