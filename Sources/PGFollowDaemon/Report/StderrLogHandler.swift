package import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// One line per event on standard error: `pgfollow: LEVEL: message key=value …`, or with a
/// `<N>` syslog priority prefix that journald reads as the level.
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
    let prefix = journald ? "<\(event.level.syslogPriority)>" : "pgfollow: \(event.level): "
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
