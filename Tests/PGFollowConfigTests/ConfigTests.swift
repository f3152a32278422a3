import Foundation
import PGFollowCore
import PGFollowYAML
import Testing

@testable import PGFollowConfig

private let valid = """
  nodes:
    - name: db01
      conninfo: host=10.0.0.10 dbname=pg_state password=hunter2
      address: db01:5432
    - name: db02
      conninfo: postgresql://watch@10.0.0.11/pg_state
      address: "[fd00::11]:5433"
  app:
    file: app.yaml
    set:
      db_master[0].address: "{leader.address}"
      db_slave[0].address: "{standby.host}:{standby.port}"
  restart:
    units: [app.service, worker@1.service]
    action: try-restart
  timeouts: {connect: 500ms, query: 1.5s}
  policy: {split_brain: hold}

  """

@Suite struct ConfigTests {
  @Test func readsAValidFile() throws {
    let config = try load(valid)
    #expect(config.nodeNames == ["db01", "db02"])
    #expect(config.nodes[1].host == "fd00::11" && config.nodes[1].port == "5433")
    let app = try #require(config.apps.first)
    #expect(config.apps.count == 1 && app.name == nil)
    #expect(app.file == "/etc/pgfollow/app.yaml")
    #expect(app.restart.units == ["app.service", "worker@1.service"])
    #expect(app.restart.action == .tryRestart)
    #expect(config.timeouts.connect == .milliseconds(500))
    #expect(config.timeouts.query == .milliseconds(1500))
    #expect(config.policy.splitBrain == .hold)
    #expect(config.failoverTable.table == "failover_log")
    let edits = config.edits(app, leader: "db02", standbys: [])
    #expect(edits.map(\.value) == ["[fd00::11]:5433", "fd00::11:5433"])
    #expect(
      config.edits(app, leader: "db01", standbys: ["db02"]).map(\.value) == [
        "db01:5432", "fd00::11:5433",
      ])
  }

  /// A check's timeout defaults under half the shipped unit's WatchdogSec (10 s), as the README
  /// asks: the sidecar's loop waits for the check.
  /// An instance (pgfollow@NAME) keeps its state apart unless its file names a directory.
  @Test func anInstancesStateDirectoryIsItsOwnUnlessTheFileNamesOne() throws {
    #expect(try load(valid).stateDirectory == "/var/lib/pgfollow")
    let instance = try loadConfig(
      bytes: Array(valid.utf8), file: "/etc/pgfollow/billing.yaml",
      defaultStateDirectory: "/var/lib/pgfollow/billing")
    #expect(instance.stateDirectory == "/var/lib/pgfollow/billing")
    let named = try loadConfig(
      bytes: Array((valid + "state_directory: /srv/state\n").utf8),
      file: "/etc/pgfollow/billing.yaml", defaultStateDirectory: "/var/lib/pgfollow/billing")
    #expect(named.stateDirectory == "/srv/state")
  }

  @Test func aChecksTimeoutDefaultsToThreeSeconds() throws {
    let config = try load(
      valid.replacing(
        "\nrestart:\n", with: "\n  check: {command: [/usr/bin/shop, \"{file}\"]}\nrestart:\n"))
    let check = try #require(config.apps.first?.check)
    #expect(check.timeout == .seconds(3))
  }

  /// `run.cycle_deadline`, from older files, is accepted with a warning at its place, whatever
  /// its value (it once had to be below the interval).
  @Test func aCycleDeadlineIsIgnoredWithAWarning() throws {
    let config = try load(valid + "run: {interval: 1s, cycle_deadline: 5s}\n")
    #expect(config.run.interval == .seconds(1))
    #expect(
      config.warnings == [
        "/etc/pgfollow/pgfollow.yaml:18:37: run.cycle_deadline is no longer used (each node "
          + "has its own watcher and deadline) and is ignored; remove it"
      ])
    #expect(try load(valid).warnings.isEmpty)
  }

  @Test func reportsEveryProblemAtOnceWithPlaces() {
    let text = """
      nodes:
        - name: db01
          conninfo: host=x
          adress: db01:5432
        - name: db01
          conninfo: host=y
          address: db01:5432
      app:
        file: app.yaml
        set:
          "a[": "{leader.address}"
          b: "{leader.addr}"
      restart:
        units: ["-H evil", ok.service]
        action: bounce
      timeouts: {connect: 0s, query: soon}
      extra: 1

      """
    #expect(
      problems(text) == [
        "/etc/pgfollow/pgfollow.yaml:2:5: nodes[0] is missing the key \"address\"",
        "/etc/pgfollow/pgfollow.yaml:4:5: unknown key \"adress\" in nodes[0]; did you mean \"address\"?",
        "/etc/pgfollow/pgfollow.yaml:5:11: node name \"db01\" is used twice (first at 2:11)",
        "/etc/pgfollow/pgfollow.yaml:11:5: app.set: invalid path \"a[\": expected an index or a quoted key after '[' at character 3",
        "/etc/pgfollow/pgfollow.yaml:12:8: app.set[b]: unknown placeholder {leader.addr} in \"{leader.addr}\"; use {leader|standby|standby[K].address|host|port|name}",
        "/etc/pgfollow/pgfollow.yaml:14:10: restart.units: \"-H evil\" is not a valid systemd unit name",
        "/etc/pgfollow/pgfollow.yaml:15:11: restart.action must be one of \"restart\", \"reload-or-restart\", \"try-restart\"",
        "/etc/pgfollow/pgfollow.yaml:16:21: timeouts.connect must be between 50ms and 60s, not 0s",
        "/etc/pgfollow/pgfollow.yaml:16:32: timeouts.query must be a duration such as 500ms, 2s, 1m30s or 1h",
        "/etc/pgfollow/pgfollow.yaml:17:1: unknown key \"extra\" in the configuration",
      ])
  }

  /// libpq's own check refuses both conninfo strings; neither problem repeats a secret.
  @Test func conninfoProblemsNeverRepeatTheConninfo() {
    let broken = valid.replacingOccurrences(of: "password=hunter2", with: "password=hunter2 ssl")
      .replacingOccurrences(of: "10.0.0.11/pg_state", with: "10.0.0.11/pg_state?sslmod=require")
    let found = problems(broken)
    #expect(found.count == 2)
    #expect(found.allSatisfy { !$0.contains("hunter2") && !$0.contains("10.0.0") })
    #expect(found[0].hasPrefix("/etc/pgfollow/pgfollow.yaml:3:15: nodes[0].conninfo is invalid"))
  }

  @Test func missingSectionsAndBadYAMLAreReported() {
    #expect(problems("") == ["/etc/pgfollow/pgfollow.yaml: the file is empty"])
    #expect(problems("nodes: [\n").count == 1)
    #expect(
      problems("nodes: []\n") == [
        "/etc/pgfollow/pgfollow.yaml:1:1: the configuration needs \"app\" (one application) or \"apps\" (a list)",
        "/etc/pgfollow/pgfollow.yaml:1:8: nodes must be a non-empty list of nodes",
      ])
  }

  @Test func portPlaceholderNeedsPorts() {
    let text = valid.replacing("address: db01:5432", with: "address: db01")
    #expect(
      problems(text) == [
        "/etc/pgfollow/pgfollow.yaml:9:3: app.set: a value uses {…port} but node \"db01\" has no port in its address"
      ])
  }

  @Test func anchorsAndAliasesAreResolved() throws {
    let text = """
      x-conn: &conn host=10.0.0.1 dbname=pg_state
      nodes:
        - {name: a, conninfo: *conn, address: "a:1"}
      app: {file: /srv/app.yaml, set: {k: "{leader.name}"}}

      """
    #expect(
      problems(text) == [
        "/etc/pgfollow/pgfollow.yaml:1:1: unknown key \"x-conn\" in the configuration"
      ])
  }

  @Test func durations() {
    #expect(parseDuration("250ms") == .milliseconds(250))
    #expect(parseDuration("2") == .seconds(2))
    #expect(parseDuration("1.5s") == .milliseconds(1500))
    #expect(parseDuration("1m") == .seconds(60))
    #expect(parseDuration("-1s") == nil)
    #expect(parseDuration("soon") == nil)
  }

  @Test func templates() throws {
    let node = NodeConfig(name: "db01", conninfo: "", address: "db01:5432")
    let template = try ValueTemplate(parsing: "{{x}} {leader.host}/{standby.port} {leader.name}")
    #expect(template.render(leader: node, standbys: [node]) == "{x} db01/5432 db01")
    #expect(throws: TemplateSyntaxError.self) { try ValueTemplate(parsing: "{leader.address") }
    #expect(throws: TemplateSyntaxError.self) { try ValueTemplate(parsing: "a}b") }
  }

  /// `{standby[K].FIELD}` is the K-th healthy standby, wrapping around when fewer are healthy,
  /// the leader when none is; `{standby.FIELD}` is `{standby[0].FIELD}`.
  @Test func standbysByPosition() throws {
    let nodes = ["db01", "db02", "db03"].map {
      NodeConfig(name: $0, conninfo: "", address: "\($0):5432")
    }
    let template = try ValueTemplate(
      parsing: "{standby[0].host},{standby[1].host},{standby[2].host},{standby.host}")
    #expect(
      template.render(leader: nodes[0], standbys: [nodes[1], nodes[2]]) == "db02,db03,db02,db02")
    #expect(template.render(leader: nodes[0], standbys: [nodes[2]]) == "db03,db03,db03,db03")
    #expect(template.render(leader: nodes[0], standbys: []) == "db01,db01,db01,db01")
    #expect(!template.usesLeader)
    for bad in ["{standby[x].host}", "{standby[-1].host}", "{leader[0].host}", "{standby[1.host}"] {
      #expect(throws: TemplateSyntaxError.self, "\(bad)") { try ValueTemplate(parsing: bad) }
    }
  }
}
