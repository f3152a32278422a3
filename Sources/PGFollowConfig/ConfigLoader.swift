package import PGFollowCore
import PGFollowPostgres
import PGFollowSystem
package import PGFollowYAML

#if canImport(Glibc)
  import Glibc
#endif

/// Every problem found in a configuration file, each with file:line:column.
package struct ConfigError: Error, Sendable, CustomStringConvertible {
  package var problems: [YAMLError]

  /// The problems in the order of their places in the file (those with no place first).
  package init(problems: [YAMLError]) {
    self.problems = problems.enumerated().sorted { left, right in
      let a = left.element.mark.map { ($0.line, $0.column) } ?? (0, 0)
      let b = right.element.mark.map { ($0.line, $0.column) } ?? (0, 0)
      return a != b ? a < b : left.offset < right.offset
    }.map(\.element)
  }

  package var description: String {
    let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
    return "invalid configuration (\(count)):\n"
      + problems.map { "  \($0)" }.joined(separator: "\n")
  }
}

/// Reads and checks a configuration file; conninfo strings are checked by libpq.
/// `defaultStateDirectory` is the state directory when the file names none.
package func loadConfigFile(
  _ path: String, defaultStateDirectory: String = Config.defaultStateDirectory
) throws(ConfigError) -> Config {
  let snapshot: FileSnapshot
  do {
    snapshot = try readSnapshot(path)
  } catch {
    let denied = error.code == EACCES
    let message =
      denied
      ? error.message + " (as \(currentUserName()): the file should be root:pgfollow 0640, "
        + "chgrp pgfollow \(path) && chmod 0640 \(path), or readable by the user it runs as)"
      : error.message
    throw ConfigError(problems: [YAMLError(file: path, mark: nil, message: message)])
  }
  return try loadConfig(
    bytes: snapshot.bytes, file: path, baseDirectory: parentDirectory(snapshot.realPath),
    defaultStateDirectory: defaultStateDirectory)
}

/// Reads a configuration's text, as if from `file`; relative paths in it are taken from
/// `baseDirectory`, by default the file's directory.
package func loadConfig(
  bytes: [UInt8], file: String, baseDirectory: String? = nil,
  defaultStateDirectory: String = Config.defaultStateDirectory
) throws(ConfigError) -> Config {
  var reader = ConfigReader(
    file: file, baseDirectory: baseDirectory ?? parentDirectory(file),
    defaultStateDirectory: defaultStateDirectory)
  let config = reader.read(bytes)
  if var config, reader.problems.isEmpty {
    config.warnings = reader.warnings.map(\.description)
    return config
  }
  throw ConfigError(problems: reader.problems)
}

private let topLevelKeys = [
  "nodes", "state_table", "policy", "app", "apps", "restart", "timeouts", "run", "hooks",
  "metrics", "state_directory",
]

struct ConfigReader {
  let file: String
  let baseDirectory: String
  var defaultStateDirectory = Config.defaultStateDirectory
  var problems: [YAMLError] = []
  var warnings: [YAMLError] = []

  mutating func read(_ bytes: [UInt8]) -> Config? {
    let root: YAMLNode
    do {
      let events = try parseYAMLEvents(bytes, file: file)
      try checkAliases(events, file: file)
      guard let document = parseYAMLDocuments(events).first else {
        problems.append(YAMLError(file: file, mark: nil, message: "the file is empty"))
        return nil
      }
      root = document.resolvingAliases()
    } catch {
      problems.append(error)
      return nil
    }
    guard let top = fields(root, in: "the configuration", allowed: topLevelKeys) else { return nil }
    var nodes: [NodeConfig]?
    if let node = require(top, "nodes", in: "the configuration") { nodes = readNodes(node) }
    let apps = readApplications(top)
    var config = Config(nodes: nodes ?? [], apps: apps.map(\.app))
    config.stateDirectory = defaultStateDirectory
    if let node = top["state_table"] { readStateTable(node, into: &config.failoverTable) }
    if let node = top["policy"] { readPolicy(node, into: &config.policy) }
    if let node = top["timeouts"] { readTimeouts(node, into: &config.timeouts) }
    if let node = top["run"] { readRun(node, into: &config.run) }
    if let node = top["metrics"] { readMetrics(node, into: &config.metrics) }
    if let path = string(top["state_directory"], "state_directory") {
      config.stateDirectory = resolvePath(path)
    }
    for (app, node) in apps { checkPorts(app, nodes: config.nodes, appNode: node) }
    return nodes == nil || apps.isEmpty ? nil : config
  }

  // MARK: sections

  mutating func readNodes(_ node: YAMLNode) -> [NodeConfig]? {
    guard case .sequence(let items, _) = node, !items.isEmpty else {
      fail(node, "nodes must be a non-empty list of nodes")
      return nil
    }
    var result: [NodeConfig] = []
    var seen: [String: YAMLMark] = [:]
    for (index, item) in items.enumerated() {
      let context = "nodes[\(index)]"
      guard let map = fields(item, in: context, allowed: ["name", "conninfo", "address"]) else {
        continue
      }
      let name = string(require(map, "name", in: context), "\(context).name")
      let conninfo = readConninfo(require(map, "conninfo", in: context), context)
      let address = string(require(map, "address", in: context), "\(context).address")
      if let name, let nameNode = map["name"] {
        if let first = seen[name] {
          fail(nameNode, "node name \"\(name)\" is used twice (first at \(first))")
        }
        seen[name] = nameNode.start
      }
      if let name, let conninfo, let address {
        result.append(NodeConfig(name: name, conninfo: conninfo, address: address))
      }
    }
    return result
  }

  mutating func readConninfo(_ node: YAMLNode?, _ context: String) -> String? {
    guard let node else { return nil }
    guard case .scalar(let scalar) = node, !scalar.value.isEmpty else {
      fail(node, "\(context).conninfo must be a non-empty string")
      return nil
    }
    if let problem = Conninfo.problem(scalar.value) {
      fail(node, "\(context).conninfo is invalid: \(problem)")
      return nil
    }
    return scalar.value
  }

  /// The set of values an app keeps in its file: `set:`, paths to templates.
  mutating func readValues(_ setNode: YAMLNode, context: String) -> [AppConfig.Value] {
    guard case .mapping(let pairs, _) = setNode, !pairs.isEmpty else {
      fail(setNode, "\(context) must map paths in the application's file to values")
      return []
    }
    var values: [AppConfig.Value] = []
    for pair in pairs {
      guard let pathText = string(pair.key, "a path in \(context)"),
        let templateText = string(pair.value, "\(context)[\(pathText)]")
      else { continue }
      do {
        let path = try YAMLPath(parsing: pathText)
        do throws(TemplateSyntaxError) {
          values.append(
            .init(
              path: path, template: try ValueTemplate(parsing: templateText),
              place: place(of: pair.key)))
        } catch {
          fail(pair.value, "\(context)[\(pathText)]: \(error.message)")
        }
      } catch {
        fail(pair.key, "\(context): \(error.message)")
      }
    }
    return values
  }

  func place(of node: YAMLNode) -> ConfigPlace {
    ConfigPlace(file: file, line: node.start.line, column: node.start.column)
  }

  mutating func checkPorts(_ app: AppConfig, nodes: [NodeConfig], appNode: YAMLNode?) {
    guard app.values.contains(where: \.template.usesPort) else { return }
    for node in nodes where node.port == nil {
      fail(
        appNode,
        "\(app.key("set")): a value uses {…port} but node \"\(node.name)\" has no port in its "
          + "address")
    }
  }

  /// Relative paths are taken from the configuration file's directory.
  /// An absolute path without `.` and `..` (taken lexically: `/etc/pgfollow/../billing/x`
  /// is `/etc/billing/x`); a relative one is taken from the configuration file's directory.
  func resolvePath(_ path: String) -> String {
    let absolute = path.hasPrefix("/") ? path : baseDirectory + "/" + path
    var parts: [Substring] = []
    for part in absolute.split(separator: "/") where part != "." {
      if part == ".." { _ = parts.popLast() } else { parts.append(part) }
    }
    return (absolute.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
  }
}

func isValidUnitName(_ unit: String) -> Bool {
  guard let first = unit.first, first != "-", unit.count <= 255 else { return false }
  return unit.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ":_.\\@-".contains($0)) }
}
