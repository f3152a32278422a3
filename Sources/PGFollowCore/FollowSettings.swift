/// What the follow machine needs from the configuration.
package struct FollowSettings: Sendable, Equatable {
  package var units: [String]
  package var hooks: [HookConfig]
  /// How long a change that keeps the leader must last; zero applies it at once.
  package var settle: Duration
  package var confirmations: Int
  package var restartMinimumInterval: Duration
  package var restartMaximumPerHour: Int
  /// A failing hook waits its `retryAfter` before its second try, twice as long before each
  /// next one, and never longer than this.
  package var hookRetryCap: Duration = .seconds(300)
  /// Whether the app's sessions verify each switch (`verify:`).
  package var verifies = false

  /// One app's settings: its units and hooks, and the pacing every app shares.
  package init(_ app: AppConfig, run: RunConfig) {
    self.init(
      units: app.restart.units, hooks: app.hooks, settle: run.standbySettle,
      confirmations: run.confirmations, restartMinimumInterval: run.restartMinimumInterval,
      restartMaximumPerHour: run.restartMaximumPerHour)
    verifies = app.verify != nil
  }

  package init(
    units: [String], hooks: [HookConfig] = [], settle: Duration = .seconds(10),
    confirmations: Int = 2, restartMinimumInterval: Duration = .seconds(2),
    restartMaximumPerHour: Int = 20
  ) {
    self.units = units
    self.hooks = hooks
    self.settle = settle
    self.confirmations = confirmations
    self.restartMinimumInterval = restartMinimumInterval
    self.restartMaximumPerHour = restartMaximumPerHour
  }
}

/// The file edit a decision leads to, as the machine needs to know it.
package struct PlannedChange: Sendable, Equatable {
  /// Whether the file's bytes would change.
  package var changesFile: Bool
  /// Whether a value that names the leader would change (never delayed by settling).
  package var changesLeaderValues: Bool
  /// The values the file would hold, as text: what a settling change is known by.
  package var target: String

  package init(changesFile: Bool, changesLeaderValues: Bool, target: String) {
    self.changesFile = changesFile
    self.changesLeaderValues = changesLeaderValues
    self.target = target
  }
}
