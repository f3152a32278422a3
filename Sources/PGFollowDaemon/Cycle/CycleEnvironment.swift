package import PGFollowCore
package import PGFollowSystem

/// What a cycle stands in: the wall clock and the way to wait (a simulation gives its own), a
/// dry run or not, and where each app's state lives. The runner of restarts and hooks is not
/// part of it; it uses it.
package struct CycleEnvironment: Sendable {
  package let stateDirectory: String
  package let dryRun: Bool
  package let clock: @Sendable () -> WallSeconds
  package let sleep: @Sendable (Duration) async -> Void

  package init(
    stateDirectory: String, dryRun: Bool,
    clock: @escaping @Sendable () -> WallSeconds = wallClockNow,
    sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
  ) {
    self.stateDirectory = stateDirectory
    self.dryRun = dryRun
    self.clock = clock
    self.sleep = sleep
  }

  /// Where an app's state lives.
  package func store(_ app: AppConfig) -> StateStore {
    StateStore(directory: stateDirectory, app: app.name)
  }

  /// A follow machine on the app's saved state and these settings.
  package func loadMachine(_ app: AppConfig, run: RunConfig) throws(FileError) -> FollowMachine {
    FollowMachine(state: try store(app).load(), settings: FollowSettings(app, run: run))
  }

  /// Saves an app's state if it changed (never in a dry run).
  package func save(_ state: FollowState, changedFrom before: FollowState?, app: AppConfig)
    throws(FileError)
  {
    guard !dryRun, state != before else { return }
    try store(app).save(state)
  }
}
