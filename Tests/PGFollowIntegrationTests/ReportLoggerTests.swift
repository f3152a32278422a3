import Logging
import PGFollowCore
import PGFollowSystem
import Testing

@testable import PGFollowDaemon

/// Collects what is logged, level and message.
private struct CollectingHandler: LogHandler {
  let lines: Locked<[String]>
  var metadata: Logger.Metadata = [:]
  var logLevel: Logger.Level = .trace

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    lines.withLock { $0.append("\(event.level): \(event.message)") }
  }
}

/// The sidecar's log says a condition when it starts and when it ends: a repeat is known by what
/// it is about (typed), not by its words, so figures that move in the words repeat nothing.
@Suite struct ReportLoggerTests {
  private func logger() -> (ReportLogger, Locked<[String]>) {
    let lines = Locked<[String]>([])
    let logger = Logger(label: "test") { _ in CollectingHandler(lines: lines) }
    return (ReportLogger(logger: logger, onlyChanges: true), lines)
  }

  private func report(warnings: [DecisionWarning]) -> CycleReport {
    var decision = decide(evidence: [], nodes: ["node1"], previous: nil, policy: .init())
    decision.warnings = warnings
    return CycleReport(decision: decision, dryRun: false)
  }

  private func tableWarning(rows: String, nodes: String = "node1") -> DecisionWarning {
    DecisionWarning(
      .tableLacksIndexes, about: nodes,
      "failover_log has about \(rows) rows on \(nodes) and lacks an index the probe needs")
  }

  @Test func aWarningWhoseFiguresMoveIsLoggedOnceUntilWhatItIsAboutChanges() {
    var (reportLogger, lines) = logger()
    let config = Config(nodes: [], apps: [])
    for rows in ["1.0 M", "1.1 M", "1.2 M"] {
      reportLogger.log(report(warnings: [tableWarning(rows: rows)]), config: config)
    }
    let logged = lines.withLock { $0 }.filter { $0.contains("lacks an index") }
    #expect(
      logged == [
        "warning: failover_log has about 1.0 M rows on node1 and lacks an index the probe needs"
      ])

    reportLogger.log(
      report(warnings: [tableWarning(rows: "1.2 M", nodes: "node1, node2")]), config: config)
    #expect(lines.withLock { $0 }.filter { $0.contains("lacks an index") }.count == 2)
    // The hold that every report here carries is said once.
    #expect(lines.withLock { $0 }.filter { $0.contains("holding: ") }.count == 1)
  }
}
