import PGFollowCore
import PGFollowYAML

#if canImport(Glibc)
  import Glibc
#endif

/// The applications: `apps:`, a list of named entries, or the short form, `app:` with top-level
/// `restart:` and `hooks:`.
extension ConfigReader {
  /// Each app with the configuration node that holds it; empty when none could be read.
  mutating func readApplications(_ top: ConfigFields) -> [(app: AppConfig, node: YAMLNode)] {
    guard let list = top["apps"] else {
      guard let node = top["app"] else {
        problems.append(
          YAMLError(
            file: file, mark: top.mark,
            message: "the configuration needs \"app\" (one application) or \"apps\" (a list)"))
        return []
      }
      guard
        let map = fields(node, in: "app", allowed: ["file", "set", "check", "backup", "verify"]),
        var app = readApp(map, context: "app", name: nil)
      else { return [] }
      if let restart = top["restart"] {
        readRestart(restart, context: "restart", into: &app.restart)
      }
      if let hooks = top["hooks"] { app.hooks = readHooks(hooks, context: "hooks") }
      return [(app, node)]
    }
    for key in ["app", "restart", "hooks"] {
      guard let node = top[key] else { continue }
      let own = key == "app" ? "file and set" : key
      fail(node, "\(key) is for the short form; with apps, give each entry its own \(own)")
    }
    return readAppList(list)
  }

  private mutating func readAppList(_ list: YAMLNode) -> [(app: AppConfig, node: YAMLNode)] {
    guard case .sequence(let items, _) = list, !items.isEmpty else {
      fail(list, "apps must be a non-empty list of applications, each with name, file and set")
      return []
    }
    var result: [(app: AppConfig, node: YAMLNode)] = []
    var names: [String: YAMLMark] = [:]
    var files: [String: String] = [:]
    for (index, item) in items.enumerated() {
      let name = entryName(item, index: index, seen: &names)
      let context = name.map { "apps[\($0)]" } ?? "apps[\(index)]"
      let keys = ["name", "file", "set", "restart", "hooks", "check", "backup", "verify"]
      guard let fields = fields(item, in: context, allowed: keys),
        var app = readApp(fields, context: context, name: name)
      else { continue }
      if let other = files[app.file] {
        fail(
          fields["file"],
          "\(context).file: \(app.file) is also the file of \(other); each app needs its own")
      }
      files[app.file] = files[app.file] ?? context
      if let restart = fields["restart"] {
        readRestart(restart, context: "\(context).restart", into: &app.restart)
      }
      if let hooks = fields["hooks"] { app.hooks = readHooks(hooks, context: "\(context).hooks") }
      if name != nil { result.append((app, item)) }
    }
    return result.count == items.count ? result : []
  }

  /// An entry's name, checked: a word that can name a state file and a metrics label, used once.
  private mutating func entryName(_ item: YAMLNode, index: Int, seen: inout [String: YAMLMark])
    -> String?
  {
    guard case .mapping(let pairs, _) = item,
      let node = pairs.first(where: { $0.keyText == "name" })?.value
    else {
      if case .mapping = item { fail(item, "apps[\(index)] is missing the key \"name\"") }
      return nil
    }
    guard let name = string(node, "apps[\(index)].name") else { return nil }
    guard isValidAppName(name) else {
      fail(
        node,
        "apps[\(index)].name \"\(name)\" must be letters, digits, '.', '_' or '-' "
          + "(up to 64, not starting with '.' or '-'): it names the app's state file")
      return nil
    }
    if let first = seen[name] {
      fail(node, "app name \"\(name)\" is used twice (first at \(first))")
      return nil
    }
    seen[name] = node.start
    return name
  }

  /// `file` and `set` of an app, its own or the short form's.
  mutating func readApp(_ map: ConfigFields, context: String, name: String?) -> AppConfig? {
    let file = string(require(map, "file", in: context), "\(context).file")
    guard let setNode = require(map, "set", in: context) else { return nil }
    let values = readValues(setNode, context: "\(context).set")
    guard let file else { return nil }
    var app = AppConfig(
      name: name, file: resolvePath(file), values: values,
      filePlace: map["file"].map(place(of:)))
    if let node = map["check"] { app.check = readCheck(node, context: "\(context).check") }
    app.backup = bool(map["backup"], "\(context).backup") ?? false
    if let node = map["verify"] { app.verify = readVerify(node, context: "\(context).verify") }
    return app
  }

  /// `verify: {role: shop, application_name: shop-web, address: 10.0.0.5, within: 30s,
  /// every: 15s, stale_sessions: leave}`: role or application_name is needed.
  private mutating func readVerify(_ node: YAMLNode, context: String) -> VerifyConfig? {
    let keys = ["role", "application_name", "address", "within", "every", "stale_sessions"]
    guard let map = fields(node, in: context, allowed: keys) else { return nil }
    var verify = VerifyConfig(
      role: string(map["role"], "\(context).role"),
      applicationName: string(map["application_name"], "\(context).application_name"))
    if verify.role == nil && verify.applicationName == nil {
      fail(
        node, "\(context) needs role or application_name: who the application is on the database")
    }
    verify.address = string(map["address"], "\(context).address")
    if let address = verify.address, !isIPAddress(address) {
      fail(map["address"], "\(context).address must be an IP address, as the nodes see this host")
    }
    let range = Duration.seconds(1) ... .seconds(3600)
    verify.within = duration(map["within"], "\(context).within", within: range) ?? verify.within
    verify.every = duration(map["every"], "\(context).every", within: range) ?? verify.every
    let stale = choice(
      map["stale_sessions"], "\(context).stale_sessions", VerifyConfig.StaleSessions.self)
    verify.staleSessions = stale ?? verify.staleSessions
    return verify
  }

  /// `check: {command: [PROGRAM, ARG, "{file}"], timeout: 10s}`.
  private mutating func readCheck(_ node: YAMLNode, context: String) -> FileCheck? {
    guard let map = fields(node, in: context, allowed: ["command", "timeout"]),
      let commandNode = require(map, "command", in: context)
    else { return nil }
    guard case .sequence = commandNode, let command = stringList(commandNode, "\(context).command"),
      !command.isEmpty
    else {
      fail(commandNode, "\(context).command must be a list: the program, then its arguments")
      return nil
    }
    if !command.contains(where: { $0.contains("{file}") }) {
      fail(commandNode, "\(context).command must name the new file as {file}")
    }
    var check = FileCheck(
      command: [command[0].contains("/") ? resolvePath(command[0]) : command[0]]
        + command.dropFirst())
    check.timeout =
      duration(map["timeout"], "\(context).timeout", within: .milliseconds(100) ... .seconds(600))
      ?? check.timeout
    return check
  }
}

/// An IPv4 or IPv6 address, as inet_pton reads it (and PostgreSQL's inet with it).
func isIPAddress(_ text: String) -> Bool {
  var buffer = [UInt8](repeating: 0, count: 16)
  return inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
}

func isValidAppName(_ name: String) -> Bool {
  guard let first = name.first, first != ".", first != "-", name.count <= 64 else { return false }
  return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
}
