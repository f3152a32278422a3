internal import CLibPQ

#if canImport(Glibc)
  import Glibc
#endif

/// One libpq connection, driven with libpq's non-blocking calls so that every step honours a
/// deadline. Not thread-safe: use it from one thread at a time. Its calls block that thread, so
/// never call them on Swift's cooperative pool.
package final class PostgresConnection {
  private let connection: OpaquePointer

  private init(_ connection: OpaquePointer) {
    self.connection = connection
  }

  deinit {
    PQfinish(connection)
  }

  /// TCP liveness for an established connection, set before the conninfo is read so that the
  /// conninfo's own values win: a peer that goes silent (a blackholed network, a dead VM) is
  /// dropped within about 10 s, whether the connection is idle (keepalives: 5 s, then 3 probes
  /// 2 s apart) or has data unacknowledged (`tcp_user_timeout`). libpq ignores both on Unix
  /// sockets.
  package static let livenessDefaults = [
    ("keepalives", "1"), ("keepalives_idle", "5"), ("keepalives_interval", "2"),
    ("keepalives_count", "3"), ("tcp_user_timeout", "10000"),
  ]

  /// Connects, giving up at `deadline`. `conninfo` may be a keyword string or a URI.
  /// `database`, when given, replaces the conninfo's own dbname.
  package static func connect(
    conninfo: String, database: String? = nil, applicationName: String = "pgfollow",
    deadline: ContinuousClock.Instant
  ) throws(PostgresError) -> PostgresConnection {
    // libpq keeps the last value of a repeated keyword: defaults before the expanded conninfo,
    // overrides after it.
    let keys =
      livenessDefaults.map(\.0) + ["dbname", "fallback_application_name"]
      + (database == nil ? [] : ["dbname"])
    let values =
      livenessDefaults.map(\.1) + [conninfo, applicationName] + (database.map { [$0] } ?? [])
    let raw = withCStringArray(keys) { keyPointers in
      withCStringArray(values) { valuePointers in
        PQconnectStartParams(keyPointers, valuePointers, 1)
      }
    }
    guard let raw else { throw PostgresError(kind: .connect, message: "out of memory") }
    PQsetNoticeProcessor(raw, { _, _ in }, nil)  // server notices are not pgfollow's to print
    let connection = PostgresConnection(raw)
    try connection.finishConnecting(deadline: deadline)
    return connection
  }

  private func finishConnecting(deadline: ContinuousClock.Instant) throws(PostgresError) {
    if PQstatus(connection) == CONNECTION_BAD { throw failure(.connect) }
    var wait = PGRES_POLLING_WRITING
    while true {
      switch wait {
      case PGRES_POLLING_OK:
        guard PQsetnonblocking(connection, 1) == 0 else { throw failure(.connect) }
        retransmitLinearly()
        return
      case PGRES_POLLING_FAILED:
        throw failure(.connect)
      default:
        try waitForSocket(reading: wait == PGRES_POLLING_READING, deadline: deadline, .connect)
        wait = PQconnectPoll(connection)
      }
    }
  }

  /// A probe is a thin stream (one small packet in flight): Linux then retransmits a lost one
  /// at a steady interval instead of doubling it each time, so a lossy link delays an answer by
  /// a fraction of a second rather than by seconds. Nothing happens on a Unix socket.
  private func retransmitLinearly() {
    var on: Int32 = 1
    _ = setsockopt(
      PQsocket(connection), Int32(IPPROTO_TCP), TCP_THIN_LINEAR_TIMEOUTS, &on,
      socklen_t(MemoryLayout<Int32>.size))
  }

  /// The connection's socket, for watching it between queries (never read from it directly).
  package var socket: Int32 { PQsocket(connection) }

  /// Whether the peer's host has acknowledged all that was sent (TCP_INFO): a query that is
  /// acknowledged and unanswered is the server's, not the network's. True when TCP cannot tell
  /// (not over TCP).
  package var sentIsAcknowledged: Bool {
    var info = tcp_info()
    var size = socklen_t(MemoryLayout<tcp_info>.size)
    guard socket >= 0, getsockopt(socket, Int32(IPPROTO_TCP), TCP_INFO, &info, &size) == 0 else {
      return true
    }
    return info.tcpi_unacked == 0
  }

  /// The connection is still usable (no broken socket, no protocol failure).
  package var isHealthy: Bool { PQstatus(connection) == CONNECTION_OK }

  /// Runs one query with text parameters and returns its rows as text (nil for NULL).
  package func query(_ sql: String, parameters: [String?] = [], deadline: ContinuousClock.Instant)
    throws(PostgresError) -> [[String?]]
  {
    let sent = withOptionalCStringArray(parameters) { pointers in
      PQsendQueryParams(
        connection, sql, Int32(parameters.count), nil, pointers, nil, nil, 0)
    }
    guard sent == 1 else { throw failure(.query) }
    try flush(deadline: deadline)
    return try collectRows(deadline: deadline)
  }

  private func flush(deadline: ContinuousClock.Instant, interruption: Int32 = -1)
    throws(PostgresError)
  {
    while true {
      let flushed = PQflush(connection)
      if flushed == 0 { return }
      if flushed < 0 { throw failure(.query) }
      try waitForSocket(reading: false, deadline: deadline, .query, interruption: interruption)
    }
  }

  /// After a query timed out: waits until `deadline` for its answer, so that a slow link costs
  /// a late answer rather than the connection. The connection is usable again once this returns.
  /// A readable `interruption` descriptor ends the wait early with `.interrupted`; the answer
  /// may then be waited for again.
  package func awaitLateAnswer(deadline: ContinuousClock.Instant, interruption: Int32 = -1)
    throws(PostgresError) -> [[String?]]
  {
    try flush(deadline: deadline, interruption: interruption)
    return try collectRows(deadline: deadline, interruption: interruption)
  }

  private func collectRows(deadline: ContinuousClock.Instant, interruption: Int32 = -1)
    throws(PostgresError) -> [[String?]]
  {
    var rows: [[String?]] = []
    var error: PostgresError?
    while true {
      while PQisBusy(connection) == 1 {
        try waitForSocket(
          reading: true, deadline: deadline, .query, interruption: interruption)
        guard PQconsumeInput(connection) == 1 else { throw failure(.query) }
      }
      guard let result = PQgetResult(connection) else { break }
      defer { PQclear(result) }
      switch PQresultStatus(result) {
      case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
        rows += Self.rows(of: result)
      default:
        error = error ?? Self.resultError(result)
      }
    }
    if let error { throw error }
    return rows
  }

  private static func rows(of result: OpaquePointer) -> [[String?]] {
    let columns = PQnfields(result)
    return (0..<PQntuples(result)).map { row in
      (0..<columns).map { column in
        PQgetisnull(result, row, column) == 1
          ? nil : String(cString: PQgetvalue(result, row, column))
      }
    }
  }

  private static func resultError(_ result: OpaquePointer) -> PostgresError {
    let message = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
    let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
    let fallback = String(cString: PQresultErrorMessage(result))
    return PostgresError(kind: .query, message: oneLine(message ?? fallback), sqlState: state)
  }

  /// Waits until the socket is ready, or `interruption` (when not -1) is readable.
  private func waitForSocket(
    reading: Bool, deadline: ContinuousClock.Instant, _ stage: PostgresError.Kind,
    interruption: Int32 = -1
  ) throws(PostgresError) {
    let socket = PQsocket(connection)
    guard socket >= 0 else { throw failure(stage) }
    while true {
      let remaining = ContinuousClock.now.duration(to: deadline)
      guard remaining > .zero else {
        throw PostgresError(kind: .timeout, message: "no answer within the \(stage) deadline")
      }
      // poll ignores a negative descriptor.
      var descriptors = [
        pollfd(fd: socket, events: Int16(reading ? POLLIN : POLLOUT), revents: 0),
        pollfd(fd: interruption, events: Int16(POLLIN), revents: 0),
      ]
      let milliseconds = Int32(
        clamping: remaining.components.seconds * 1000
          + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
      let ready = poll(&descriptors, 2, milliseconds)
      if ready > 0 && descriptors[1].revents != 0 {
        throw PostgresError(kind: .interrupted, message: "the wait was interrupted")
      }
      if ready > 0 { return }
      if ready < 0 && errno != EINTR {
        throw PostgresError(kind: stage, message: "poll failed: errno \(errno)")
      }
    }
  }

  private func failure(_ kind: PostgresError.Kind) -> PostgresError {
    PostgresError(kind: kind, message: oneLine(String(cString: PQerrorMessage(connection))))
  }
}

private func withCStringArray<R>(
  _ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R
) -> R {
  withOptionalCStringArray(strings) { pointer in
    // The array always holds at least its terminating NULL, so it has an address.
    guard let pointer else { preconditionFailure("an array's storage has no address") }
    return body(pointer)
  }
}

/// A NULL-terminated array of C strings (nil entries stay NULL), valid during `body`.
private func withOptionalCStringArray<R>(
  _ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R
) -> R {
  let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
  defer { copies.forEach { free($0) } }
  let pointers = copies.map { UnsafePointer($0) } + [nil]
  return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
