import Foundation
import PGFollowTestSupport
import Testing

/// The Debian package as an administrator meets it: built by scripts/package, checked by
/// lintian, installed with apt on a clean Debian 12 root booted with systemd, configured against
/// the test cluster, following a failover, upgraded, removed and purged.
@Suite(.serialized, Needs.debianPackage) struct DebianPackageTests {
  struct Packages {
    var version: String
    var first: String
    var upgrade: String
    var upgradeVersion: String
  }

  @Test func installFollowUpgradeRemoveAndPurgeOnACleanDebian12() throws {
    let fixture = try Fixture()
    let packages = try Self.build(into: fixture.directory)
    try Self.expectNoLintianErrors(fixture.directory + "/" + packages.first)
    #expect(try fixture.pgfollow("once").status == 2, "the file is in sync before the install")
    let container = try Container(debianRootFor: fixture)
    defer { container.powerOff() }
    let machine = Machine(container: container)

    try machine.install(packages.first, version: packages.version)
    try machine.configure(fixture)
    try machine.followFailover(fixture)
    try machine.upgrade(to: packages.upgrade, version: packages.upgradeVersion)
    try machine.removeAndPurge()
  }

  /// The package, and a rebuild of it with a newer version.
  static func build(into directory: String) throws -> Packages {
    let script = Fixture.packageRoot.path + "/scripts/package"
    let version = try run(Fixture.binary, ["--version"], timeout: 30).output
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let first = try run(script, ["--output", directory], timeout: 1800)
    #expect(first.status == 0, "\(first.output)")
    let upgradeVersion = version + "+rebuild1"
    let second = try run(
      script,
      [
        "--output", directory, "--version", upgradeVersion, "--binary",
        Fixture.packageRoot.path + "/.build-static/release/pgfollow",
      ], timeout: 600)
    #expect(second.status == 0, "\(second.output)")
    try expectAManPageWithoutWarnings(directory + "/pgfollow_\(version)_amd64.deb")
    // A version the binary does not say is refused: the package and `--version` agree.
    let other = try run(
      script,
      [
        "--output", directory, "--version", "99.0.0", "--binary",
        Fixture.packageRoot.path + "/.build-static/release/pgfollow",
      ], timeout: 600)
    #expect(other.status == 2 && other.output.contains("but the binary says \(version)"))
    return Packages(
      version: version, first: "pgfollow_\(version)_amd64.deb",
      upgrade: "pgfollow_\(upgradeVersion)_amd64.deb", upgradeVersion: upgradeVersion)
  }

  /// The packaged man page, formatted with every groff warning on, gives none.
  static func expectAManPageWithoutWarnings(_ package: String) throws {
    let unpacked = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: unpacked) }
    #expect(try run("/usr/bin/dpkg-deb", ["-x", package, unpacked], timeout: 60).status == 0)
    let page = unpacked + "/usr/share/man/man1/pgfollow.1"
    #expect(try run("/bin/gzip", ["-d", page + ".gz"], timeout: 60).status == 0)
    let formatted = try run("/usr/bin/groff", ["-man", "-ww", "-z", page], timeout: 60)
    #expect(formatted.status == 0 && formatted.output.isEmpty, "\(formatted.output)")
  }

  static func expectNoLintianErrors(_ package: String) throws {
    let result = try run("/usr/bin/lintian", ["--fail-on", "error", package], timeout: 600)
    #expect(result.status == 0, "\(result.output)")
    let errors = result.output.split(separator: "\n").filter { $0.hasPrefix("E: ") }
    #expect(errors.isEmpty, "\(errors)")
  }
}

/// The booted Debian 12 root and what an administrator does in it.
struct Machine {
  let container: Container

  @discardableResult
  func root(_ arguments: String..., timeout: TimeInterval = 300) throws -> String {
    let result = try container.execResult(arguments, timeout: timeout)
    guard result.status == 0 else {
      let journal = arguments.first == "systemctl" ? "\n" + journal() : ""
      throw FixtureError(
        message: "\(arguments.joined(separator: " ")) failed: \(result.output)\(journal)")
    }
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func succeeds(_ arguments: String...) throws -> Bool {
    try container.execResult(arguments).status == 0
  }

  func journal() -> String {
    (try? container.journal()) ?? ""
  }

  func unit(_ unit: String, _ property: String) throws -> String {
    try root("systemctl", "show", unit, "-p", property, "--value")
  }

  func pgfollowProcesses() throws -> [String] {
    try root("ps", "-eo", "user:20,comm").split(separator: "\n")
      .filter { $0.contains("pgfollow") }.map(String.init)
  }

  /// `apt install ./pgfollow….deb`: the archive brings the libraries and polkit; the user, its
  /// state directory and the configuration are in place, and nothing is enabled or started.
  func install(_ package: String, version: String) throws {
    try root("cp", "/opt/t/\(package)", "/root/")
    try root("apt-get", "update", "-q")
    try root("apt-get", "install", "-y", "-q", "/root/\(package)", timeout: 900)
    try root("rm", "/root/\(package)")
    #expect(
      try root("dpkg-query", "-W", "-f=${Status} ${Version}", "pgfollow")
        == "install ok installed \(version)")
    #expect(try root("/usr/bin/pgfollow", "--version") == version)
    #expect(try succeeds("dpkg-query", "-W", "polkitd"), "Recommends brings polkit")
    let user = try root("getent", "passwd", "pgfollow").split(separator: ":")
    #expect(user.count == 7 && (Int(user[2]) ?? 1000) < 1000, "a system user: \(user)")
    #expect(user.count == 7 && user[5] == "/var/lib/pgfollow" && user[6] == "/usr/sbin/nologin")
    #expect(try root("stat", "-c", "%U:%G %a", "/var/lib/pgfollow") == "pgfollow:pgfollow 750")
    #expect(
      try root("stat", "-c", "%U:%G %a", "/etc/pgfollow/pgfollow.yaml") == "root:pgfollow 640")
    let conffiles = try root("dpkg-query", "-W", "-f=${Conffiles}", "pgfollow")
    #expect(
      conffiles.contains("/etc/pgfollow/pgfollow.yaml")
        && conffiles.contains("/etc/polkit-1/rules.d/50-pgfollow.rules"), "\(conffiles)")
    for unit in ["pgfollow.service", "pgfollow-once.timer"] {
      #expect(try self.unit(unit, "UnitFileState") == "disabled")
      #expect(try self.unit(unit, "ActiveState") == "inactive")
    }
    #expect(try pgfollowProcesses().isEmpty)
    #expect(try succeeds("test", "-f", "/usr/share/man/man1/pgfollow.1.gz"))
    #expect(try succeeds("test", "-f", "/usr/share/bash-completion/completions/pgfollow"))
  }

  /// The README's layout for an application `shop` reading /etc/shop/env.yaml: the package's
  /// configuration and polkit rule edited in place, the directory and group given in a drop-in.
  func configure(_ fixture: Fixture) throws {
    let config = try String(contentsOfFile: fixture.configFile, encoding: .utf8)
      .replacing("file: app.yaml", with: "file: /etc/shop/env.yaml")
      .replacing("units: app.service", with: "units: shop.service")
      .replacing("systemctl: ./systemctl", with: "systemctl: /usr/bin/systemctl")
      .replacing("state_directory: state\n", with: "")
    try config.write(toFile: fixture.directory + "/config.yaml", atomically: false, encoding: .utf8)
    let app = """
      [Unit]
      Description=The application that reads /etc/shop/env.yaml
      [Service]
      Group=shop
      ExecStart=/bin/sh -c 'echo "$INVOCATION_ID" >> /opt/t/app-starts; exec sleep infinity'

      """
    try app.write(toFile: fixture.directory + "/shop.service", atomically: false, encoding: .utf8)
    let dropIn = "[Service]\nReadWritePaths=/etc/shop\nSupplementaryGroups=shop\n"
    try dropIn.write(
      toFile: fixture.directory + "/override.conf", atomically: false, encoding: .utf8)

    try root("groupadd", "--system", "shop")
    try root("install", "-d", "-o", "root", "-g", "pgfollow", "-m", "0775", "/etc/shop")
    try root(
      "install", "-o", "pgfollow", "-g", "shop", "-m", "0640", "/opt/t/app.yaml",
      "/etc/shop/env.yaml")
    try root("cp", "/opt/t/config.yaml", "/etc/pgfollow/pgfollow.yaml")
    try root(
      "sed", "-i", "s/var units = \\[\\];/var units = [\"shop.service\"];/",
      "/etc/polkit-1/rules.d/50-pgfollow.rules")
    try root("cp", "/opt/t/shop.service", "/etc/systemd/system/")
    try root("mkdir", "-p", "/etc/systemd/system/pgfollow.service.d")
    try root("cp", "/opt/t/override.conf", "/etc/systemd/system/pgfollow.service.d/")
    try root("systemctl", "daemon-reload")
    try root("systemctl", "start", "shop.service")
    // apt brought dbus in for polkit, and a dbus installed on a running system is not started:
    // the start is refused with what to do, and the next one succeeds.
    let refused = try container.execResult(["systemctl", "enable", "--now", "pgfollow.service"])
    #expect(refused.status != 0)
    #expect(
      journal().contains(
        "cannot ask polkit whether pgfollow may restart shop.service (pkcheck: Error getting "
          + "authority"),
      "\(journal())")
    #expect(journal().contains("start the system bus, which polkit and systemctl need"))
    #expect(try unit("pgfollow.service", "UnitFileState") == "enabled")
    try root("systemctl", "start", "dbus.service")
    try checkTheNewcomersMistakes(fixture)
    try root("systemctl", "start", "pgfollow.service")
    #expect(
      try waitUntil(30) { try unit("pgfollow.service", "StatusText") == "following node1" },
      "\(journal())")
    #expect(try root("ps", "-o", "user=", "-C", "pgfollow") == "pgfollow")
  }

  /// README step 5 on the installed package: the good configuration passes, naming what each
  /// node answered; a node on a wrong port is a warning naming it; a port that is no number and
  /// a hook whose program is missing are errors.
  func checkTheNewcomersMistakes(_ fixture: Fixture) throws {
    let good = try container.execResult(["pgfollow", "check-config"])
    #expect(good.status == 0, "\(good.output)")
    #expect(good.output.contains("node node1: answers, writable (a primary)"), "\(good.output)")
    let config = try String(contentsOfFile: fixture.directory + "/config.yaml", encoding: .utf8)
    let node2 = "port=\(try fixture.port("node2")) "
    // A role that logs in by SCRAM on node1, for a mistyped password.
    try fixture.clusterCommand(
      "sql", "node1",
      "create role watcher login password 'right'; grant select on "
        + "failover_log to watcher")
    let hba = fixture.cluster + "/node1/pg_hba.conf"
    try
      ("host all watcher 127.0.0.1/32 scram-sha-256\n"
      + String(contentsOfFile: hba, encoding: .utf8)).write(
        toFile: hba, atomically: false, encoding: .utf8)
    try fixture.clusterCommand("sql", "node1", "select pg_reload_conf()")
    let node1 = "port=\(try fixture.port("node1")) dbname=pg_state user=pgfollow password=topsecret"
    let mistakes: [(String, String, Int32, String)] = [
      (
        "wrong-password",
        config.replacing(
          node1,
          with: "port=\(try fixture.port("node1")) dbname=pg_state user=watcher password=wrong9"),
        5, "password authentication failed for user \"watcher\""
      ),
      (
        "wrong-port", config.replacing(node2, with: "port=1 "), 0,
        "warning: node node2 unreachable now"
      ),
      (
        "bad-port", config.replacing(node2, with: "port=5432x "), 5,
        "port=…: not a port number"
      ),
      (
        "no-hook",
        config.replacing(
          "restart:\n",
          with: "hooks:\n  - command: [/usr/local/lib/pgfollow/notify-chat]\nrestart:\n"), 5,
        "the hook's program /usr/local/lib/pgfollow/notify-chat is missing or not executable"
      ),
    ]
    for (name, text, status, message) in mistakes {
      try text.write(
        toFile: fixture.directory + "/\(name).yaml", atomically: false, encoding: .utf8)
      let result = try container.execResult([
        "pgfollow", "check-config", "-c", "/opt/t/\(name).yaml",
      ])
      #expect(result.status == status, "\(name): \(result.output)")
      #expect(result.output.contains(message), "\(name): \(result.output)")
      #expect(!result.output.contains("wrong9") && !result.output.contains("topsecret"))
    }
  }

  func followFailover(_ fixture: Fixture) throws {
    #expect(container.appStarts().count == 1)
    try fixture.failOver()
    #expect(
      waitUntil(30) { container.appStarts().count == 2 },
      "\(journal())")
    #expect(try root("cat", "/etc/shop/env.yaml").contains("address: node2:5432   # the primary"))
    #expect(try root("stat", "-c", "%U:%G %a", "/etc/shop/env.yaml") == "pgfollow:shop 640")
  }

  /// A newer package: the edited configuration and rule stay as they are, the sidecar restarts
  /// on the new binary, and the application is not restarted for it.
  func upgrade(to package: String, version: String) throws {
    let invocation = try unit("pgfollow.service", "InvocationID")
    let appStarts = container.appStarts().count
    try root("cp", "/opt/t/\(package)", "/root/")
    try root("apt-get", "install", "-y", "-q", "/root/\(package)", timeout: 900)
    try root("rm", "/root/\(package)")
    #expect(try root("dpkg-query", "-W", "-f=${Version}", "pgfollow") == version)
    #expect(try succeeds("cmp", "/opt/t/config.yaml", "/etc/pgfollow/pgfollow.yaml"))
    #expect(
      try root("cat", "/etc/polkit-1/rules.d/50-pgfollow.rules").contains("[\"shop.service\"]"))
    #expect(try unit("pgfollow.service", "InvocationID") != invocation, "restarted")
    #expect(try unit("pgfollow.service", "UnitFileState") == "enabled")
    #expect(
      try waitUntil(30) { try unit("pgfollow.service", "StatusText") == "following node2" })
    #expect(container.appStarts().count == appStarts)
  }

  /// Remove stops everything and keeps the configuration; purge leaves nothing of pgfollow.
  func removeAndPurge() throws {
    try root("apt-get", "remove", "-y", "-q", "pgfollow")
    #expect(try unit("pgfollow.service", "ActiveState") == "inactive")
    #expect(try pgfollowProcesses().isEmpty)
    #expect(try !succeeds("test", "-e", "/usr/bin/pgfollow"))
    #expect(try succeeds("cmp", "/opt/t/config.yaml", "/etc/pgfollow/pgfollow.yaml"))
    #expect(try succeeds("getent", "passwd", "pgfollow"), "remove keeps the user")

    try root("apt-get", "purge", "-y", "-q", "pgfollow")
    #expect(try !succeeds("getent", "passwd", "pgfollow"))
    #expect(try !succeeds("getent", "group", "pgfollow"))
    for path in [
      "/etc/pgfollow", "/var/lib/pgfollow", "/etc/polkit-1/rules.d/50-pgfollow.rules",
      "/etc/systemd/system/pgfollow.service.d",
      "/etc/systemd/system/multi-user.target.wants/pgfollow.service",
    ] {
      #expect(try !succeeds("test", "-e", path), "\(path) is left")
    }
    #expect(try !root("dpkg-statoverride", "--list").contains("pgfollow"))
    let left = try root(
      "find", "/", "-xdev", "-path", "/opt/t", "-prune", "-o", "-name", "*pgfollow*", "-print")
    #expect(left.isEmpty, "left behind: \(left)")
    #expect(try pgfollowProcesses().isEmpty)
  }
}
