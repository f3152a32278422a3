import Foundation
import PGFollowTestSupport
import Testing

/// The Debian package as an administrator meets it: built by scripts/package, checked by
/// lintian, installed with apt on a clean Debian 12 or 13 root booted with systemd, the README's
/// first setup run as written against the release's own PostgreSQL, configured against the test
/// cluster, following a failover, two instances following two more clusters, upgraded, removed
/// and purged.
@Suite(.serialized, Needs.debianPackage) struct DebianPackageTests {
  struct Packages {
    var version: String
    var first: String
    var upgrade: String
    var upgradeVersion: String
  }

  enum Release: String, Sendable {
    case bookworm, trixie
    var postgres: Int { self == .bookworm ? 15 : 17 }
  }

  @Test func installFollowUpgradeRemoveAndPurgeOnACleanDebian12() throws {
    try lifecycle(.bookworm)
  }

  @Test func installFollowUpgradeRemoveAndPurgeOnACleanDebian13() throws {
    try lifecycle(.trixie)
  }

  private func lifecycle(_ release: Release) throws {
    let fixture = try Fixture()
    let packages = try Self.build(into: fixture.directory, checked: release == .bookworm)
    // This machine's lintian is bookworm's; trixie's runs in the Debian 13 root.
    if release == .bookworm {
      try Self.expectNoLintianErrors(fixture.directory + "/" + packages.first)
    }
    #expect(try fixture.pgfollow("once").status == 2, "the file is in sync before the install")
    let container = try Container(debianRootFor: fixture, release: release.rawValue)
    defer { container.powerOff() }
    let machine = Machine(container: container, release: release)

    try machine.install(packages.first, version: packages.version)
    if release == .trixie { try machine.expectNoLintianErrors(packages.first) }
    try machine.runTheFirstSetupAsWritten(fixture)
    try machine.configure(fixture)
    try machine.followFailover(fixture)
    let clusters = (first: try Fixture(), second: try Fixture())
    try machine.followTwoClustersWithTwoInstances(clusters.first, clusters.second)
    try machine.upgrade(to: packages.upgrade, version: packages.upgradeVersion)
    try machine.expectACleanJournal()
    try machine.removeAndPurge()
  }

  /// The package, and a rebuild of it with a newer version.
  /// `checked`: the man page's warnings and the refusal of a version the binary does not say
  /// are checked too.
  static func build(into directory: String, checked: Bool) throws -> Packages {
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
    let packages = Packages(
      version: version, first: "pgfollow_\(version)_amd64.deb",
      upgrade: "pgfollow_\(upgradeVersion)_amd64.deb", upgradeVersion: upgradeVersion)
    guard checked else { return packages }
    try expectAManPageWithoutWarnings(directory + "/pgfollow_\(version)_amd64.deb")
    // A version the binary does not say is refused: the package and `--version` agree.
    let other = try run(
      script,
      [
        "--output", directory, "--version", "99.0.0", "--binary",
        Fixture.packageRoot.path + "/.build-static/release/pgfollow",
      ], timeout: 600)
    #expect(other.status == 2 && other.output.contains("but the binary says \(version)"))
    return packages
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

/// The booted Debian root and what an administrator does in it.
struct Machine {
  let container: Container
  let release: DebianPackageTests.Release

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
    for unit in ["pgfollow.service", "pgfollow@.service", "pgfollow-once@.timer"] {
      #expect(try succeeds("test", "-f", "/usr/lib/systemd/system/\(unit)"), "\(unit)")
    }
    #expect(try succeeds("test", "-f", "/usr/lib/sysusers.d/pgfollow.conf"))
    #expect(try succeeds("test", "-f", "/usr/share/man/man1/pgfollow.1.gz"))
    #expect(try succeeds("test", "-f", "/usr/share/bash-completion/completions/pgfollow"))
  }

  /// The release's own lintian on the package, in the root (trixie's is stricter than this
  /// machine's about where units go).
  func expectNoLintianErrors(_ package: String) throws {
    try root("apt-get", "install", "-y", "-q", "--no-install-recommends", "lintian", timeout: 900)
    let result = try container.execResult(["lintian", "--fail-on", "error", "/opt/t/\(package)"])
    #expect(result.status == 0, "\(result.output)")
    print("lintian on Debian \(release.rawValue):\n\(result.output)")
  }

  /// The README's first setup, steps 1–3, 5 and 6 as written, against the release's own
  /// PostgreSQL with Debian's pg_hba.conf (peer over the socket, SCRAM over TCP); step 4, the
  /// configuration and the service's .pgpass, written as the README says.
  func runTheFirstSetupAsWritten(_ fixture: Fixture) throws {
    // The root shares this machine's network: its cluster gets a port no one else has (Debian's
    // own settings otherwise, pg_hba.conf included).
    let port = try freePort()
    try root("mkdir", "-p", "/etc/postgresql-common")
    try root(
      "sh", "-c", "echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf")
    try root("apt-get", "install", "-y", "-q", "postgresql", timeout: 900)
    try root("pg_createcluster", "\(release.postgres)", "main", "--port", "\(port)", "--start")
    let clusters = try root("pg_lsclusters", "-h")
    #expect(clusters.hasPrefix("\(release.postgres) main \(port) online"), "\(clusters)")
    let config = """
      nodes:
        - name: db01
          conninfo: host=127.0.0.1 port=\(port) dbname=pg_state user=pgfollow
          address: db01:5432
      app:
        file: /etc/first/app.yaml
        set:
          db_master[0].address: "{leader.address}"
      restart: {units: first.service}
      metrics: {listen: off}

      """
    try config.write(toFile: fixture.directory + "/first.yaml", atomically: false, encoding: .utf8)
    try Fixture.appText.write(
      toFile: fixture.directory + "/first-app.yaml", atomically: false, encoding: .utf8)
    try root("install", "-D", "-m", "0644", "/opt/t/first-app.yaml", "/etc/first/app.yaml")
    try root("cp", "/opt/t/first.yaml", "/etc/pgfollow/pgfollow.yaml")
    try root(
      "sh", "-c",
      "echo '127.0.0.1:\(port):pg_state:pgfollow:change-me' > /var/lib/pgfollow/.pgpass && "
        + "chown pgfollow:pgfollow /var/lib/pgfollow/.pgpass && chmod 0600 /var/lib/pgfollow/.pgpass"
    )
    // The cluster's port for libpq, as for any cluster not on 5432; the steps as written.
    let script =
      (["set -e", "export PGPORT=\(port)"]
      + (try firstSetupCommands(steps: [0, 1, 2, 3, 5, 6]))).joined(separator: "\n")
    try script.write(
      toFile: fixture.directory + "/first-setup.sh", atomically: false, encoding: .utf8)
    let result = try container.execResult(["bash", "/opt/t/first-setup.sh"])
    print("the README's first setup on Debian \(release.rawValue):\n\(result.output)")
    #expect(result.status == 2, "the dry run would switch: \(result.output)")
    #expect(result.output.contains("node db01: answers, writable (a primary)"), "\(result.output)")
    #expect(result.output.contains("using the service's password file"), "\(result.output)")
    #expect(result.output.contains("leader:   db01 (db01:5432)"), "\(result.output)")
    let method = try root(
      "env", "PGPORT=\(port)", "runuser", "-u", "postgres", "--", "psql", "-At", "-c",
      "select rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolname = 'pgfollow'")
    #expect(method == "t", "the watchers' role logs in by SCRAM")
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

  /// Two more clusters, each followed by an instance of pgfollow@.service (alpha and beta), each
  /// with its application, file, state directory and listener: a failover in one cluster restarts
  /// its application alone.
  func followTwoClustersWithTwoInstances(_ alpha: Fixture, _ beta: Fixture) throws {
    let ports = ["alpha": try freePort(), "beta": try freePort()]
    for (name, cluster) in [("alpha", alpha), ("beta", beta)] {
      try addInstance(name, cluster: cluster, port: ports[name, default: 0])
    }
    try root(
      "sed", "-i",
      "s/var units = \\[\"shop.service\"\\];/var units = [\"shop.service\", "
        + "\"alpha.service\", \"beta.service\"];/", "/etc/polkit-1/rules.d/50-pgfollow.rules")
    try root("systemctl", "daemon-reload")
    try root("systemctl", "start", "alpha.service", "beta.service")
    try root("systemctl", "enable", "--now", "pgfollow@alpha.service", "pgfollow@beta.service")
    for name in ["alpha", "beta"] {
      #expect(
        try waitUntil(30) {
          try unit("pgfollow@\(name).service", "StatusText") == "following node1"
        },
        "\(journal())")
      #expect(
        try root("stat", "-c", "%U:%G %a", "/var/lib/pgfollow/\(name)") == "pgfollow:pgfollow 750")
      #expect(try succeeds("test", "-f", "/var/lib/pgfollow/\(name)/state.json"), "\(name)'s state")
      let health = try run(
        "/usr/bin/curl",
        [
          "-s", "-o", "/dev/null", "-w", "%{http_code}",
          "http://127.0.0.1:\(ports[name, default: 0])/healthz",
        ],
        timeout: 30)
      #expect(health.output == "200", "\(name)'s listener: \(health.output)")
    }
    // Each application was started, then restarted once for its file's standby.
    for name in ["alpha", "beta"] {
      #expect(waitUntil(30) { starts(name).count == 2 }, "\(name): \(journal())")
    }
    let shopStarts = container.appStarts().count
    try alpha.failOver()
    #expect(waitUntil(30) { starts("alpha").count == 3 }, "\(journal())")
    #expect(try root("cat", "/etc/alpha/env.yaml").contains("address: node2:5432   # the primary"))
    #expect(try root("cat", "/etc/beta/env.yaml").contains("address: node1:5432   # the primary"))
    try beta.failOver()
    #expect(waitUntil(30) { starts("beta").count == 3 }, "\(journal())")
    #expect(try root("cat", "/etc/beta/env.yaml").contains("address: node2:5432   # the primary"))
    usleep(500_000)
    #expect(starts("alpha").count == 3 && container.appStarts().count == shopStarts)
    let status = try container.execResult(["pgfollow", "status", "--instance", "beta"])
    #expect(status.output.contains("node2"), "\(status.output)")
    let check = try container.execResult(["pgfollow", "check-config", "--instance", "alpha"])
    #expect(
      check.status == 0 && check.output.contains("/etc/pgfollow/alpha.yaml"), "\(check.output)")
    try expectInstancesKeptApart()
  }

  /// A third instance copied from alpha's file shares its listener and application file, and one
  /// that names the unnamed pgfollow's state directory would share its lock: both refused.
  private func expectInstancesKeptApart() throws {
    try root("cp", "/etc/pgfollow/alpha.yaml", "/etc/pgfollow/gamma.yaml")
    let copied = try container.execResult([
      "pgfollow", "check-config", "--skip-nodes", "--instance", "gamma",
    ])
    #expect(copied.status == 5, "\(copied.output)")
    #expect(
      copied.output.contains("is also /etc/pgfollow/alpha.yaml's: give each pgfollow a port")
        && copied.output.contains(
          "/etc/alpha/env.yaml is also followed by /etc/pgfollow/alpha.yaml"),
      "\(copied.output)")
    try root(
      "sh", "-c",
      "grep -v '^metrics:' /etc/pgfollow/alpha.yaml > /etc/pgfollow/gamma.yaml && "
        + "echo 'state_directory: /var/lib/pgfollow' >> /etc/pgfollow/gamma.yaml")
    let shared = try container.execResult(["pgfollow", "check-config", "--instance", "gamma"])
    #expect(
      shared.status == 5 && shared.output.contains("is the unnamed pgfollow's"), "\(shared.output)")
    try root("rm", "/etc/pgfollow/gamma.yaml")
  }

  /// /etc/pgfollow/NAME.yaml naming `cluster`, the application NAME.service reading
  /// /etc/NAME/env.yaml, and pgfollow@NAME's drop-in.
  private func addInstance(_ name: String, cluster: Fixture, port: Int) throws {
    let directory = container.directory
    let config = try String(contentsOfFile: cluster.configFile, encoding: .utf8)
      .replacing("file: app.yaml", with: "file: /etc/\(name)/env.yaml")
      .replacing("units: app.service", with: "units: \(name).service")
      .replacing("systemctl: ./systemctl", with: "systemctl: /usr/bin/systemctl")
      .replacing("state_directory: state\n", with: "")
      .replacing("metrics: {listen: off}", with: "metrics: {listen: \"127.0.0.1:\(port)\"}")
    try config.write(toFile: "\(directory)/\(name).yaml", atomically: false, encoding: .utf8)
    try Fixture.appText.write(
      toFile: "\(directory)/\(name)-app.yaml", atomically: false, encoding: .utf8)
    let app = """
      [Unit]
      Description=The application that reads /etc/\(name)/env.yaml
      [Service]
      Group=\(name)
      ExecStart=/bin/sh -c 'echo "$INVOCATION_ID" >> /opt/t/\(name)-starts; exec sleep infinity'

      """
    try app.write(toFile: "\(directory)/\(name).service", atomically: false, encoding: .utf8)
    try "[Service]\nReadWritePaths=/etc/\(name)\nSupplementaryGroups=\(name)\n".write(
      toFile: "\(directory)/\(name).conf", atomically: false, encoding: .utf8)
    try root("groupadd", "--system", name)
    try root("install", "-d", "-o", "root", "-g", "pgfollow", "-m", "0775", "/etc/\(name)")
    try root(
      "install", "-o", "pgfollow", "-g", name, "-m", "0640", "/opt/t/\(name)-app.yaml",
      "/etc/\(name)/env.yaml")
    try root(
      "install", "-o", "root", "-g", "pgfollow", "-m", "0640", "/opt/t/\(name).yaml",
      "/etc/pgfollow/\(name).yaml")
    try root("cp", "/opt/t/\(name).service", "/etc/systemd/system/")
    try root(
      "install", "-D", "-m", "0644", "/opt/t/\(name).conf",
      "/etc/systemd/system/pgfollow@\(name).service.d/override.conf")
  }

  func starts(_ application: String) -> [String] {
    let text =
      (try? String(contentsOfFile: "\(container.directory)/\(application)-starts", encoding: .utf8))
      ?? ""
    return text.split(separator: "\n").map(String.init)
  }

  /// The units' journal has no line about the system: thread priorities (where LimitNICE can be
  /// in force: a container without CAP_SYS_RESOURCE cannot raise it), the listener, units.
  func expectACleanJournal() throws {
    let units = ["pgfollow.service", "pgfollow@alpha.service", "pgfollow@beta.service"]
    let text = try root(
      "journalctl", "--no-pager", "-o", "cat", "-u", units[0], "-u", units[1], "-u", units[2])
    let pid = try unit("pgfollow.service", "MainPID")
    let inForce = try root("grep", "Max nice priority", "/proc/\(pid)/limits").contains(" 24 ")
    var complaints = ["no metrics or health endpoints", "Address already in use", "Unknown key"]
    if inForce { complaints.append("thread priority") }
    for complaint in complaints {
      #expect(!text.contains(complaint), "\(complaint): \(text)")
    }
    #expect(!journal().contains("aliased"), "\(journal())")
  }

  /// A newer package: the edited configuration and rule stay as they are, the sidecar restarts
  /// on the new binary, and the application is not restarted for it.
  func upgrade(to package: String, version: String) throws {
    let invocation = try unit("pgfollow.service", "InvocationID")
    var instances: [String: String] = [:]
    for name in ["alpha", "beta"] {
      instances[name] = try unit("pgfollow@\(name).service", "InvocationID")
    }
    let appStarts = container.appStarts().count
    try root("cp", "/opt/t/\(package)", "/root/")
    try root("apt-get", "install", "-y", "-q", "/root/\(package)", timeout: 900)
    try root("rm", "/root/\(package)")
    #expect(try root("dpkg-query", "-W", "-f=${Version}", "pgfollow") == version)
    #expect(try succeeds("cmp", "/opt/t/config.yaml", "/etc/pgfollow/pgfollow.yaml"))
    #expect(
      try root("cat", "/etc/polkit-1/rules.d/50-pgfollow.rules").contains("[\"shop.service\"]"))
    #expect(try unit("pgfollow.service", "InvocationID") != invocation, "restarted")
    for name in ["alpha", "beta"] {
      #expect(
        try unit("pgfollow@\(name).service", "InvocationID") != instances[name], "\(name) restarted"
      )
      #expect(
        try waitUntil(30) {
          try unit("pgfollow@\(name).service", "StatusText") == "following node2"
        })
    }
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
      "/etc/systemd/system/pgfollow@alpha.service.d",
      "/etc/systemd/system/multi-user.target.wants/pgfollow@beta.service",
    ] {
      #expect(try !succeeds("sh", "-c", "test -e \(path) || test -L \(path)"), "\(path) is left")
    }
    #expect(try !root("dpkg-statoverride", "--list").contains("pgfollow"))
    let left = try root(
      "find", "/", "-xdev", "-path", "/opt/t", "-prune", "-o", "-name", "*pgfollow*", "-print")
    #expect(left.isEmpty, "left behind: \(left)")
    #expect(try pgfollowProcesses().isEmpty)
  }
}
