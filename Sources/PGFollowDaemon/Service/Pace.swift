import PGFollowCore

/// The time to the next decision if no evidence comes first: the jittered interval, the hold
/// pace while no leader is confirmed (a failover may be under way), and, while a new leader is
/// confirmed, as long as its last answer counts (its next answer normally comes much sooner).
func decisionPace(_ report: CycleReport, _ config: Config, late: [String]) -> Duration {
  if report.confirming != nil { return config.freshness }
  if case .hold = report.decision.outcome { return config.run.holdInterval }
  if !late.isEmpty { return config.run.holdInterval }
  return config.run.interval * Double.random(in: 0.9...1.1)
}

/// How often the watchers probe: every interval (± 10 %); while no leader is confirmed or a
/// node is late (a failover may be under way), every `hold_interval`, ± 50 % so that a fleet
/// that lost its primary at once does not probe the new one in step; while a new leader is
/// confirmed, `confirm_after` after its last answer.
func watchPace(_ report: CycleReport?, _ config: Config, late: [String] = []) -> Pace {
  guard let report else { return Pace(every: config.run.interval, jitter: 0.1) }
  if report.confirming != nil {
    return Pace(every: config.run.confirmAfter, jitter: 0, urgent: true, failover: true)
  }
  if case .hold = report.decision.outcome {
    return Pace(every: config.run.holdInterval, jitter: 0.5, urgent: true, failover: true)
  }
  if !late.isEmpty { return Pace(every: config.run.holdInterval, jitter: 0.5, urgent: true) }
  return Pace(every: config.run.interval, jitter: 0.1)
}
