package import PGFollowConfig
package import PGFollowCore
import PGFollowPostgres
import PGFollowYAML

/// Reads and checks a configuration file; conninfo strings are checked by libpq.
package func loadConfigFile(_ path: String) throws(ConfigError) -> Config {
  let snapshot: FileSnapshot
  do {
    snapshot = try readSnapshot(path)
  } catch {
    throw ConfigError(problems: [YAMLError(file: path, mark: nil, message: error.message)])
  }
  return try loadConfig(
    bytes: snapshot.bytes, file: path, baseDirectory: parentDirectory(snapshot.realPath),
    checkConninfo: Conninfo.problem)
}
