public import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// One line per event on standard error: `pgfollow: LEVEL: message key=value …`, or with a
/// `<N>` syslog priority prefix that journald reads as the level.
public struct StderrLogHandler: LogHandler {
  public var logLevel: Logger.Level = .info
  public var metadata: Logger.Metadata = [:]
  let journald: Bool

  public init(label: String, journald: Bool) {
    self.journald = journald
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
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
