package import PGFollowCore
import PGFollowSystem

/// What the sidecar last saw and did, kept for its HTTP listener: `/status` gives the same JSON
/// as `status --json`, `/healthz` says in a status code whether this host follows a confirmed
/// writable leader with nothing owed. Updated by the loop, read by the listener's thread.
package final class LiveStatus: Sendable {
  private struct Latest {
    var config: Config
    var report: CycleReport
    var states: [String: FollowState]
    var preflight: [PreflightProblem]
    var sessions: [SessionReport] = []
  }

  private let latest = Locked<Latest?>(nil)

  package init() {}

  /// After a cycle, or after work finished: the report and every app's state.
  package func update(
    config: Config, report: CycleReport, machines: FollowMachines, preflight: [PreflightProblem]
  ) {
    let states = machines.mapValues(\.state)
    latest.withLock {
      let sessions = $0?.sessions ?? []
      $0 = Latest(
        config: config, report: report, states: states, preflight: preflight, sessions: sessions)
    }
  }

  /// After a count of the applications' sessions.
  package func update(sessions: [SessionReport], machines: FollowMachines) {
    let states = machines.mapValues(\.state)
    latest.withLock {
      $0?.sessions = sessions
      $0?.states = states
    }
  }

  /// The states alone, when work finished between cycles.
  package func update(machines: FollowMachines) {
    let states = machines.mapValues(\.state)
    latest.withLock { $0?.states = states }
  }

  /// The status as `status` builds it, each app's file read now; nil before the first cycle.
  package func statusReport() -> (StatusReport, Config)? {
    guard let latest = latest.withLock({ $0 }) else { return nil }
    let apps = latest.config.apps.map { app in
      var status = AppStatus(
        app: app, values: [], state: latest.states[app.label] ?? FollowState())
      status.sessions = latest.sessions.first { $0.app == app.label }
      readValues(&status, config: latest.config, decision: latest.report.decision)
      return status
    }
    return (
      StatusReport(report: latest.report, apps: apps, preflight: latest.preflight), latest.config
    )
  }

  static let starting = Health(.starting, "starting: no cycle yet")

  /// `/healthz`, `/status` and `/metrics`; anything else is 404.
  package func answer(_ path: String, metrics: Metrics) -> HTTPAnswer {
    switch path {
    case "/metrics":
      let health = statusReport()?.0.health ?? Self.starting
      return HTTPAnswer(
        contentType: "text/plain; version=0.0.4; charset=utf-8",
        body: metrics.render() + health.metric)
    case "/healthz":
      let health = statusReport()?.0.health ?? Self.starting
      return HTTPAnswer(
        status: health.httpStatus, contentType: "text/plain; charset=utf-8",
        body: health.reason + "\n")
    case "/status":
      guard let (status, config) = statusReport() else {
        let starting = JSON.object([
          ("health", .string(Self.starting.word)), ("reason", .string(Self.starting.reason)),
        ])
        return HTTPAnswer(
          status: Self.starting.httpStatus, contentType: "application/json",
          body: starting.text + "\n")
      }
      return HTTPAnswer(contentType: "application/json", body: status.json(config: config))
    default:
      return HTTPAnswer(
        status: "404 Not Found", contentType: "text/plain; charset=utf-8",
        body: "not found; try /healthz, /status or /metrics\n")
    }
  }
}
