package import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// One line per event on standard error: `2026-11-22T21:09:03.512Z pgfollow: LEVEL: message
/// key=value …`, or, under journald (which keeps its own time), a `<N>` syslog priority prefix
/// that it reads as the level.
package struct StderrLogHandler: LogHandler {
  package var logLevel: Logger.Level = .info
  package var metadata: Logger.Metadata = [:]
  let journald: Bool

  package init(label: String, journald: Bool) {
    self.journald = journald
  }

  package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  package func log(event: LogEvent) {
    let merged = metadata.merging(event.metadata ?? [:]) { $1 }
    let pairs = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
    let prefix =
      journald ? "<\(event.level.syslogPriority)>" : "\(timestamp()) pgfollow: \(event.level): "
    let line = prefix + "\(event.message)" + pairs + "\n"
    var bytes = Array(line.utf8)
    _ = write(2, &bytes, bytes.count)
  }
}

extension Logger.Level {
  var syslogPriority: Int {
    switch self {
    case .trace, .debug: 7
    case .info: 6
    case .notice: 5
    case .warning: 4
    case .error: 3
    case .critical: 2
    }
  }
}

/// The wall-clock time in UTC, to the millisecond: `2026-11-22T21:09:03.512Z`.
private func timestamp() -> String {
  var now = timespec()
  clock_gettime(CLOCK_REALTIME, &now)
  var parts = tm()
  var seconds = now.tv_sec
  gmtime_r(&seconds, &parts)
  func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
  let milliseconds = Int(now.tv_nsec / 1_000_000)
  let fraction = String(repeating: "0", count: 3 - String(milliseconds).count) + "\(milliseconds)"
  return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
    + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
}
