public import PGFollowCore

/// Restarts one systemd unit.
public protocol Restarter: Sendable {
  func restart(_ unit: String, with config: RestartConfig) -> ProcessResult
}

/// Runs `systemctl ACTION -- UNIT` as an argv, killed at the configured timeout.
public struct SystemctlRestarter: Restarter {
  public init() {}

  public func restart(_ unit: String, with config: RestartConfig) -> ProcessResult {
    runProcess([config.systemctl, config.action.rawValue, "--", unit], timeout: config.timeout)
  }
}
