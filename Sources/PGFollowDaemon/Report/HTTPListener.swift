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

/// What the listener answers: a status code, a content type and a body.
package struct HTTPAnswer: Sendable {
  package var status: String
  package var contentType: String
  package var body: String

  package init(status: String = "200 OK", contentType: String, body: String) {
    self.status = status
    self.contentType = contentType
    self.body = body
  }
}

/// Serves HTTP GET (and HEAD) on one IPv4 address from one thread: an event loop over
/// non-blocking sockets answers every client concurrently, so a client that connects and sends
/// nothing, or reads slowly, costs only its own socket. A client has 2 s to send its request and
/// 5 s more to take the answer; at most 64 are served at once, the oldest dropped for a new one.
/// Every system call is checked; a failing `accept` (out of descriptors, say) pauses accepting
/// rather than spinning; `stop()` ends the thread and closes every socket.
package final class HTTPListener: Sendable {
  private let listener: Int32
  /// Closing the write end wakes the serving thread's poll and ends it.
  private let stopWriter: Locked<Int32>

  /// Binds `listen` (`host:port`, an IPv4 address or localhost) or says why it cannot; `answer`
  /// maps a request's path to its answer, on the serving thread.
  package init(listen: String, answer: @escaping @Sendable (String) -> HTTPAnswer)
    throws(SocketError)
  {
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
    startThread {
      var loop = EventLoop(listener: listener, stopReader: stopReader, answer: answer)
      loop.run()
    }
  }

  deinit { stop() }

  /// Ends the serving thread, which closes the sockets.
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
    // Before bind, or it does nothing: the connections the last process closed (TIME_WAIT)
    // would hold the port for a minute after every restart.
    var yes: Int32 = 1
    let reusable = setsockopt(
      descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard reusable == 0, bound == 0, Glibc.listen(descriptor, 128) == 0,
      fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) == 0
    else {
      let error = SocketError(listen, "cannot listen for metrics")
      close(descriptor)
      throw error
    }
    return descriptor
  }
}

/// One client: what it has sent, and the answer it is taking.
private struct Client {
  let descriptor: Int32
  var deadline: ContinuousClock.Instant
  var request: [UInt8] = []
  var response: [UInt8]?
  var sent = 0
}

private struct EventLoop: @unchecked Sendable {
  static let maximumClients = 64
  let listener: Int32
  let stopReader: Int32
  let answer: @Sendable (String) -> HTTPAnswer
  var clients: [Client] = []
  /// Set while `accept` fails for want of descriptors: the listener is left alone until then.
  var acceptPausedUntil: ContinuousClock.Instant?

  mutating func run() {
    defer {
      for client in clients { close(client.descriptor) }
      close(listener)
      close(stopReader)
    }
    while true {
      var watched = [
        pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
        pollfd(fd: stopReader, events: Int16(POLLIN), revents: 0),
      ]
      if let paused = acceptPausedUntil, paused > .now { watched[0].fd = -1 }
      watched += clients.map {
        pollfd(fd: $0.descriptor, events: Int16($0.response == nil ? POLLIN : POLLOUT), revents: 0)
      }
      let ready = poll(&watched, nfds_t(watched.count), pollTimeout())
      if ready < 0 && errno == EINTR { continue }
      if ready < 0 || watched[1].revents != 0 { return }
      serveClients(watched.dropFirst(2).map(\.revents))
      if watched[0].revents != 0 { acceptClients() }
    }
  }

  /// Milliseconds until the nearest deadline (or the end of a pause), -1 for none.
  private func pollTimeout() -> Int32 {
    let instants = clients.map(\.deadline) + (acceptPausedUntil.map { [$0] } ?? [])
    guard let nearest = instants.min() else { return -1 }
    let milliseconds = ContinuousClock.now.duration(to: nearest).wholeMilliseconds
    return Int32(clamping: max(0, milliseconds + 1))
  }

  private mutating func serveClients(_ events: [Int16]) {
    var kept: [Client] = []
    for (index, var client) in clients.enumerated() {
      var open = true
      if events[index] != 0 {
        open = client.response == nil ? read(&client) : write(&client)
      }
      if open && ContinuousClock.now >= client.deadline { open = false }
      if open { kept.append(client) } else { close(client.descriptor) }
    }
    clients = kept
  }

  private mutating func acceptClients() {
    for _ in 0..<16 {
      let descriptor = accept(listener, nil, nil)
      guard descriptor >= 0 else {
        // EMFILE and its kind do not clear by retrying at once.
        if errno != EINTR && errno != ECONNABORTED && errno != EAGAIN && errno != EWOULDBLOCK {
          acceptPausedUntil = .now + .milliseconds(100)
        }
        return
      }
      acceptPausedUntil = nil
      _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
      _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
      if clients.count >= Self.maximumClients { close(clients.removeFirst().descriptor) }
      clients.append(Client(descriptor: descriptor, deadline: .now + .seconds(2)))
    }
  }

  /// Takes in what the client sent; once the request is whole, makes the answer and starts
  /// sending it. Returns false when the client is done with.
  private func read(_ client: inout Client) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 2048)
    while true {
      let count = recv(client.descriptor, &buffer, buffer.count, 0)
      if count < 0 && errno == EINTR { continue }
      if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return true }
      if count <= 0 { return false }
      client.request += buffer[..<count]
      if client.request.count > 8192 || client.request.containsHeaderEnd {
        client.response = response(to: client.request)
        client.deadline = .now + .seconds(5)
        return write(&client)
      }
    }
  }

  /// Sends what the socket takes; returns false once all is sent or the client is gone.
  private func write(_ client: inout Client) -> Bool {
    guard let response = client.response else { return false }
    while client.sent < response.count {
      let count = response[client.sent...].withUnsafeBytes {
        send(client.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
      }
      if count < 0 && errno == EINTR { continue }
      if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return true }
      if count <= 0 { return false }
      client.sent += count
    }
    return false
  }

  private func response(to request: [UInt8]) -> [UInt8] {
    let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
    let parts = line.split(separator: " ")
    let method = parts.first.map(String.init) ?? ""
    let target = parts.count > 1 ? String(parts[1]) : ""
    let path = String(target.prefix { $0 != "?" })
    let reply =
      ["GET", "HEAD"].contains(method)
      ? answer(path)
      : HTTPAnswer(status: "405 Method Not Allowed", contentType: "text/plain", body: "GET only\n")
    let body = method == "HEAD" ? "" : reply.body
    return Array(
      ("HTTP/1.1 \(reply.status)\r\nContent-Type: \(reply.contentType)\r\n"
        + "Content-Length: \(reply.body.utf8.count)\r\nConnection: close\r\n\r\n" + body).utf8)
  }
}

extension Array where Element == UInt8 {
  /// Whether the headers are complete: an empty line, wherever it falls in what was read
  /// (a client may send a body or a second request in the same packet).
  fileprivate var containsHeaderEnd: Bool {
    let end: [UInt8] = Array("\r\n\r\n".utf8)
    guard count >= end.count else { return false }
    return (0...(count - end.count)).contains { self[$0..<($0 + end.count)].elementsEqual(end) }
  }
}
