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
        + "split_brain \(policy.splitBrain.rawValue)")
    lines.append("app file: \(app.file)")
    lines += app.values.map { "  \($0.path) = \($0.template)" }
    let units = restart.units.isEmpty ? "(none)" : restart.units.joined(separator: " ")
    lines.append(
      "restart: \(restart.systemctl) \(restart.action.rawValue) \(units), "
        + "timeout \(formatDuration(restart.timeout))")
    lines.append(
      "timeouts: connect \(formatDuration(timeouts.connect)), query \(formatDuration(timeouts.query))"
        + ", lock wait \(formatDuration(timeouts.lockWait))")
    lines.append("state directory: \(stateDirectory)")
    return lines.joined(separator: "\n")
  }
}

/// The database a conninfo names, if any.
package func databaseName(_ conninfo: String) -> String? {
  Conninfo.database(conninfo)
}
