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
    let denied = error.message.contains("Permission denied")
    let message =
      denied
      ? error.message + " (as \(currentUserName()): the file should be root:pgfollow 0640, "
        + "chgrp pgfollow \(path) && chmod 0640 \(path), or readable by the user it runs as)"
      : error.message
    throw ConfigError(problems: [YAMLError(file: path, mark: nil, message: message)])
  }
  return try loadConfig(
    bytes: snapshot.bytes, file: path, baseDirectory: parentDirectory(snapshot.realPath),
    checkConninfo: Conninfo.problem)
}

/// What the configuration names in each app's file and is not there, app after app.
package func applicationFileProblems(_ config: Config) -> [String] {
  config.apps.flatMap(applicationFileProblems)
}

/// What the configuration names in the app's file and is not there: the file itself, or a path
/// that does not resolve in it. Each problem starts at the configuration's line, and carries the
/// application file's own place and any "did you mean".
package func applicationFileProblems(_ app: AppConfig) -> [String] {
  let filePlace = app.filePlace.map { "\($0): " } ?? ""
  let document: YAMLNode
  do {
    let snapshot = try readSnapshot(app.file)
    let events = try parseYAMLEvents(snapshot.bytes, file: app.file)
    guard let first = parseYAMLDocuments(events).first else {
      return ["\(filePlace)\(app.key("file")): \(app.file) holds no YAML document"]
    }
    document = first
  } catch {
    return ["\(filePlace)\(app.key("file")): \(error)"]
  }
  return app.values.compactMap { value in
    do {
      _ = try document.scalar(at: value.path, file: app.file)
      return nil
    } catch {
      let place = value.place.map { "\($0): " } ?? ""
      return "\(place)\(app.key("set")): \(value.path) is not in the application's file: \(error)"
    }
  }
}
