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

/// What the configuration names in the application's file and is not there: the file itself,
/// or a path that does not resolve in it. Each problem starts at the configuration's line, and
/// carries the application file's own place and any "did you mean".
package func applicationFileProblems(_ config: Config) -> [String] {
  let filePlace = config.app.filePlace.map { "\($0): " } ?? ""
  let document: YAMLNode
  do {
    let snapshot = try readSnapshot(config.app.file)
    let events = try parseYAMLEvents(snapshot.bytes, file: config.app.file)
    guard let first = parseYAMLDocuments(events).first else {
      return ["\(filePlace)app.file: \(config.app.file) holds no YAML document"]
    }
    document = first
  } catch {
    return ["\(filePlace)app.file: \(error)"]
  }
  return config.app.values.compactMap { value in
    do {
      _ = try document.scalar(at: value.path, file: config.app.file)
      return nil
    } catch {
      let place = value.place.map { "\($0): " } ?? ""
      return "\(place)app.set: \(value.path) is not in the application's file: \(error)"
    }
  }
}
