package import PGFollowCore

/// Restarts one systemd unit.
package protocol Restarter: Sendable {
  func restart(_ unit: String, with config: RestartConfig) -> ProcessResult
}

/// Runs `systemctl ACTION -- UNIT` as an argv, killed at the configured timeout.
package struct SystemctlRestarter: Restarter {
  package init() {}

  package func restart(_ unit: String, with config: RestartConfig) -> ProcessResult {
    runProcess([config.systemctl, config.action.rawValue, "--", unit], timeout: config.timeout)
  }
}
