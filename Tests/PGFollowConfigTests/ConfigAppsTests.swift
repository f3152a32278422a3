import Foundation
import PGFollowCore
import Testing

@testable import PGFollowConfig

private let nodes = """
  nodes:
    - {name: db1, conninfo: host=a, address: "db1:5432"}
    - {name: db2, conninfo: host=b, address: "db2:5432"}
    - {name: db3, conninfo: host=c, address: "db3:5432"}

  """

/// `apps:`, a list of named applications, each with its own file, values, restart and hooks.
@Suite struct ConfigAppsTests {
  @Test func readsTwoApps() throws {
    let config = try load(
      nodes + """
        apps:
          - name: web
            file: web.yaml
            set: {db.primary: "{leader.address}", "db.replicas[0]": "{standby[0].address}"}
            restart: {units: [web.service], action: reload-or-restart}
            hooks: [{command: [/usr/bin/true]}]
          - name: worker
            file: /srv/worker/database.yaml
            set: {primary: "{leader.host}"}
            restart: {units: [worker.service, web.service]}
        """)
    #expect(config.apps.map(\.name) == ["web", "worker"])
    #expect(config.apps.map(\.file) == ["/etc/pgfollow/web.yaml", "/srv/worker/database.yaml"])
    #expect(config.apps[0].restart.action == .reloadOrRestart)
    #expect(config.apps[1].restart.action == .restart)
    #expect(config.apps[0].hooks.map(\.command) == [["/usr/bin/true"]])
    #expect(config.apps[1].hooks.isEmpty)
    #expect(config.allUnits == ["web.service", "worker.service"])
    let edits = config.edits(config.apps[0], leader: "db2", standbys: ["db3"])
    #expect(edits.map(\.value) == ["db2:5432", "db3:5432"])
  }

  @Test func theShortFormIsOneUnnamedApp() throws {
    let config = try load(
      nodes + """
        app: {file: /srv/app.yaml, set: {a: "{leader.host}"}}
        restart: {units: [app.service]}
        hooks: [{command: [/bin/true]}]
        """)
    #expect(config.apps.count == 1)
    #expect(config.apps[0].name == nil && config.apps[0].label == "app")
    #expect(config.apps[0].restart.units == ["app.service"])
    #expect(config.apps[0].hooks.count == 1)
  }

  @Test func badEntriesAreNamed() {
    let text =
      nodes + """
        apps:
          - name: web
            file: web.yaml
            set: {a: "{leader.adress}"}
            restart: {units: ["-x"], action: bounce}
          - file: other.yaml
            set: {a: "{leader.host}"}
          - name: web
            file: web2.yaml
            set: {a: "{leader.host}"}
          - name: "../etc"
            file: x.yaml
            set: {a: b}
          - name: worker
            file: web.yaml
            set: {a: b}
            sets: {a: b}
        restart: {units: [app.service]}
        """
    #expect(
      problems(text) == [
        "/etc/pgfollow/pgfollow.yaml:8:14: apps[web].set[a]: unknown placeholder {leader.adress} in \"{leader.adress}\"; use {leader|standby|standby[K].address|host|port|name}",
        "/etc/pgfollow/pgfollow.yaml:9:22: apps[web].restart.units: \"-x\" is not a valid systemd unit name",
        "/etc/pgfollow/pgfollow.yaml:9:38: apps[web].restart.action must be one of \"restart\", \"reload-or-restart\", \"try-restart\"",
        "/etc/pgfollow/pgfollow.yaml:10:5: apps[1] is missing the key \"name\"",
        "/etc/pgfollow/pgfollow.yaml:12:11: app name \"web\" is used twice (first at 6:11)",
        "/etc/pgfollow/pgfollow.yaml:15:11: apps[3].name \"../etc\" must be letters, digits, '.', '_' or '-' (up to 64, not starting with '.' or '-'): it names the app's state file",
        "/etc/pgfollow/pgfollow.yaml:19:11: apps[worker].file: /etc/pgfollow/web.yaml is also the file of apps[web]; each app needs its own",
        "/etc/pgfollow/pgfollow.yaml:21:5: unknown key \"sets\" in apps[worker]; did you mean \"set\"?",
        "/etc/pgfollow/pgfollow.yaml:22:10: restart is for the short form; with apps, give each entry its own restart",
      ])
  }

  /// The commented example is the documented two-app, three-node configuration, and loads.
  @Test func theExampleLoads() throws {
    let path = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appending(path: "examples/pgfollow.yaml").path
    let bytes = Array(try Data(contentsOf: URL(filePath: path)))
    let config = try loadConfig(bytes: bytes, file: "/etc/pgfollow/pgfollow.yaml")
    #expect(config.nodes.count == 3)
    #expect(config.apps.map(\.name) == ["shop", "shop-worker"])
    #expect(config.allUnits == ["shop.service", "shop-worker.service"])
    let edits = config.edits(config.apps[0], leader: "db02", standbys: ["db03"])
    #expect(edits.map(\.value) == ["db02:5432", "db03:5432", "db03:5432"])
  }

  @Test func anEmptyListIsRefused() {
    #expect(
      problems(nodes + "apps: []\n") == [
        "/etc/pgfollow/pgfollow.yaml:5:7: apps must be a non-empty list of applications, each with name, file and set"
      ])
  }
}

/// `verify:` of an app: who the application is on the database.
@Suite struct ConfigVerifyTests {
  @Test func readsVerify() throws {
    let config = try load(
      nodes + """
        app:
          file: /srv/app.yaml
          set: {a: "{leader.host}"}
          verify: {role: shop, application_name: shop-web, address: 10.1.2.3, within: 45s,
                   every: 20s, stale_sessions: terminate}
        restart: {units: [app.service]}
        """)
    let verify = try #require(config.apps[0].verify)
    #expect(verify.role == "shop" && verify.applicationName == "shop-web")
    #expect(verify.address == "10.1.2.3")
    #expect(verify.within == .seconds(45) && verify.every == .seconds(20))
    #expect(verify.staleSessions == .terminate)
    let plain = try load(
      nodes + """
        app: {file: /srv/app.yaml, set: {a: "{leader.host}"}, verify: {role: shop}}
        restart: {units: [app.service]}
        """)
    #expect(plain.apps[0].verify?.within == .seconds(30))
    #expect(plain.apps[0].verify?.staleSessions == .leave)
  }

  @Test func badVerifyIsNamedWithItsPlace() {
    let found = problems(
      nodes + """
        apps:
          - name: web
            file: web.yaml
            set: {a: "{leader.host}"}
            verify: {within: 0s, address: db1, stale_sessions: kill}
        """)
    #expect(
      found.contains {
        $0.contains(":9:") && $0.contains("apps[web].verify needs role or application_name")
      }, "\(found)")
    #expect(
      found.contains { $0.contains("apps[web].verify.address must be an IP address") }, "\(found)")
    #expect(found.contains { $0.contains("apps[web].verify.within") }, "\(found)")
    #expect(found.contains { $0.contains("apps[web].verify.stale_sessions") }, "\(found)")
  }
}
