import PGFollowCore

/// "restarting app.service", "running hook /usr/lib/pgfollow/hooks/move-elastic-ip".
func describeStart(_ work: FollowMachine.Work) -> String {
  switch work {
  case .restart(let unit, _): "restarting \(unit)"
  case .hook(let key, _): "running hook \(key)"
  }
}

/// One line for systemd's STATUS and `systemctl status`.
func statusLine(_ report: CycleReport) -> String {
  var line: String
  if case .confirming(let leader, let sightings, let required) = report.confirming {
    line = "confirming new leader \(leader) (\(sightings)/\(required))"
  } else {
    switch report.decision.outcome {
    case .follow(let leader, _): line = "following \(leader)"
    case .hold: line = "holding: \(report.decision.reason)"
    }
  }
  if !report.decision.splitBrain.isEmpty {
    line += "; SPLIT BRAIN: " + report.decision.splitBrain.joined(separator: ", ")
  }
  if let error = report.errors.first { line += "; error: \(error)" }
  return line
}
