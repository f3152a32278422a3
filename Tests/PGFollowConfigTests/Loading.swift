import PGFollowCore

@testable import PGFollowConfig

/// The configuration in `text`, read as if from `file`.
func load(_ text: String, file: String = "/etc/pgfollow/pgfollow.yaml") throws(ConfigError)
  -> Config
{
  try loadConfig(bytes: Array(text.utf8), file: file)
}

/// Every problem `load` finds in `text`, as printed; none when it loads.
func problems(_ text: String, file: String = "/etc/pgfollow/pgfollow.yaml") -> [String] {
  do {
    _ = try load(text, file: file)
    return []
  } catch {
    return error.problems.map(\.description)
  }
}
