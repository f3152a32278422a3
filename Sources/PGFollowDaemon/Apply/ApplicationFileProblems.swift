package import PGFollowCore
import PGFollowSystem
import PGFollowYAML

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
