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

  /// `/healthz`, `/status` and `/metrics`; anything else is 404.
  package func answer(_ path: String, metrics: Metrics) -> HTTPAnswer {
    switch path {
    case "/metrics":
      return HTTPAnswer(
        contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render())
    case "/healthz":
      let (healthy, reason) =
        statusReport().map { $0.0.followsWithNothingOwed }
        ?? (false, "starting: no cycle yet")
      return HTTPAnswer(
        status: healthy ? "200 OK" : "503 Service Unavailable",
        contentType: "text/plain; charset=utf-8", body: reason + "\n")
    case "/status":
      guard let (status, config) = statusReport() else {
        return HTTPAnswer(
          status: "503 Service Unavailable", contentType: "application/json",
          body: "{\"health\": \"STARTING\", \"reason\": \"no cycle yet\"}\n")
      }
      return HTTPAnswer(contentType: "application/json", body: status.json(config: config))
    default:
      return HTTPAnswer(
        status: "404 Not Found", contentType: "text/plain; charset=utf-8",
        body: "not found; try /healthz, /status or /metrics\n")
    }
  }
}

extension StatusReport {
  /// Whether every app follows a confirmed writable leader with nothing owed, and why not. A node
  /// that does not answer (a standby) is named but does not make this host unhealthy.
  package var followsWithNothingOwed: (Bool, String) {
    let health = self.health
    if report.confirming != nil { return (false, "confirming a new leader") }
    if let app = apps.first(where: { $0.state.hooks != nil }), let debt = app.state.hooks {
      let owed = debt.owed.map(\.key.description).joined(separator: ", ")
      return (false, "\(app.app.logPrefix)hook owed: \(owed)")
    }
    switch health.code {
    case 0: return (true, health.reason)
    case 1 where health.reason == silentNodes:
      return (true, "following \(report.decision.leader ?? "?"); \(health.reason)")
    default: return (false, health.reason)
    }
  }
}
