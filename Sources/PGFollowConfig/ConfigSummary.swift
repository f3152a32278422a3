package import PGFollowCore
import PGFollowPostgres

extension Config {
  /// A summary for `check-config`, with conninfo secrets left out.
  package var summary: String {
    var lines = ["nodes:"]
    for node in nodes {
      lines.append("  \(node.name): address \(node.address); \(Conninfo.summary(node.conninfo))")
    }
    lines.append(
      "state table: \(failoverTable.table) (\(failoverTable.timestampColumn), \(failoverTable.hostColumn))"
    )
    lines.append(
      "policy: require_writable_leader \(policy.requireWritableLeader), "
        + "split_brain \(policy.splitBrain.rawValue), follow_unrecorded_promotion "
        + (policy.followUnrecordedPromotion.map(formatDuration) ?? "off"))
    for app in apps { lines += app.summary }
    lines.append(
      "timeouts: connect \(formatDuration(timeouts.connect)), query \(formatDuration(timeouts.query))"
        + ", lock wait \(formatDuration(timeouts.lockWait))")
    lines.append("state directory: \(stateDirectory)")
    return lines.joined(separator: "\n")
  }
}

extension AppConfig {
  /// The file, its values, the restart and the hooks; an entry of `apps:` under its name.
  var summary: [String] {
    let indent = name == nil ? "" : "  "
    var lines = name.map { ["app \($0):"] } ?? []
    lines.append("\(indent)app file: \(file)")
    lines += values.map { "\(indent)  \($0.path) = \($0.template)" }
    let units = restart.units.isEmpty ? "(none)" : restart.units.joined(separator: " ")
    lines.append(
      "\(indent)restart: \(restart.systemctl) \(restart.action.rawValue) \(units), "
        + "timeout \(formatDuration(restart.timeout))")
    lines += hooks.map {
      "\(indent)hook (\($0.when.rawValue)): \($0.command.joined(separator: " "))"
    }
    if let check {
      lines.append(
        "\(indent)check: \(check.command.joined(separator: " ")), timeout "
          + formatDuration(check.timeout))
    }
    if backup { lines.append("\(indent)backup: \(file).pgfollow-previous") }
    return lines
  }
}

/// The database a conninfo names, if any.
package func databaseName(_ conninfo: String) -> String? {
  Conninfo.database(conninfo)
}
