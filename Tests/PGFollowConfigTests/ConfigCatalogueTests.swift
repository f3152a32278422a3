import PGFollowCore
import PGFollowYAML
import Testing

@testable import PGFollowConfig

/// A configuration that loads, without optional sections; each case replaces `nodes` or `app`,
/// or adds one section at line 9.
private let base = """
  nodes:
    - name: db01
      conninfo: host=10.0.0.10 dbname=pg_state
      address: db01:5432
  app:
    file: app.yaml
    set:
      db.address: "{leader.address}"

  """

private func withSection(_ section: String) -> String {
  let key = String(section.prefix { $0 != ":" })
  guard ["nodes", "app"].contains(key) else { return base + section + "\n" }
  let lines = base.split(separator: "\n", omittingEmptySubsequences: false)
  let start = lines.firstIndex { $0.hasPrefix(key) } ?? lines.endIndex
  var end = start + 1
  while end < lines.count, lines[end].hasPrefix(" ") { end += 1 }
  return (lines[..<start] + [Substring(section)] + lines[end...]).joined(separator: "\n")
}

/// Every section's fields missing, mistyped or out of range: one exact problem each, with its
/// place.
@Suite struct ConfigCatalogueTests {
  static let cases: [(section: String, problem: String)] = [
    ("app: x", "5:6: app must be a mapping, not a scalar"),
    ("app: {file: [a], set: {a: b}}", "5:13: app.file must be a non-empty string"),
    (
      "app: {file: a.yaml, set: []}",
      "5:26: app.set must map paths in the application's file to values"
    ),
    ("app: {file: a.yaml, set: {a: [b]}}", "5:30: app.set[a] must be a non-empty string"),
    ("app: {file: a.yaml}", "5:6: app is missing the key \"set\""),
    ("app: {set: {a: b}}", "5:6: app is missing the key \"file\""),
    (
      "hooks: [{command: []}]",
      "9:19: hooks[0].command must be a list: the program, then its arguments"
    ),
    (
      "hooks: [{command: [x], attempts: 0}]",
      "9:34: hooks[0].attempts must be a whole number from 1 to 100"
    ),
    (
      "hooks: [{command: [x], attempts: 101}]",
      "9:34: hooks[0].attempts must be a whole number from 1 to 100"
    ),
    (
      "hooks: [{command: [x], timeout: 10ms}]",
      "9:33: hooks[0].timeout must be between 100ms and 3600s, not 10ms"
    ),
    (
      "hooks: [{command: [x], retry_after: 2h}]",
      "9:37: hooks[0].retry_after must be between 0s and 3600s, not 7200s"
    ),
    (
      "hooks: [{command: [x], retry_after: soon}]",
      "9:37: hooks[0].retry_after must be a duration such as 500ms, 2s, 1m30s or 1h"
    ),
    (
      "hooks: [{command: [x], when: sometime}]",
      "9:30: hooks[0].when must be one of \"before-restart\", \"after-restart\""
    ),
    (
      "hooks: [{command: x}]",
      "9:19: hooks[0].command must be a list: the program, then its arguments"
    ),
    ("hooks: [{when: after-restart}]", "9:9: hooks[0] is missing the key \"command\""),
    ("hooks: {command: x}", "9:8: hooks must be a list of hooks"),
    ("metrics: x", "9:10: metrics must be a mapping, not a scalar"),
    (
      "metrics: {listen: \"127.0.0.1:70000\"}",
      "9:19: metrics.listen must be host:port, such as 127.0.0.1:9187, or off"
    ),
    (
      "metrics: {listen: \"localhost:http\"}",
      "9:19: metrics.listen must be host:port, such as 127.0.0.1:9187, or off"
    ),
    (
      "metrics: {listen: 9187}",
      "9:19: metrics.listen must be host:port, such as 127.0.0.1:9187, or off"
    ),
    ("metrics: {textfile: [a]}", "9:21: metrics.textfile must be a non-empty string"),
    ("nodes: x", "1:8: nodes must be a non-empty list of nodes"),
    ("policy: [x]", "9:9: policy must be a mapping, not a sequence"),
    (
      "policy: {require_writable_leader: maybe}",
      "9:35: policy.require_writable_leader must be true or false"
    ),
    (
      "policy: {split_brain: random}",
      "9:23: policy.split_brain must be one of \"follow-newest\", \"hold\""
    ),
    (
      "restart: {action: stop}",
      "9:19: restart.action must be one of \"restart\", \"reload-or-restart\", \"try-restart\""
    ),
    ("restart: {systemctl: [x]}", "9:22: restart.systemctl must be a non-empty string"),
    ("restart: {timeout: 0s}", "9:20: restart.timeout must be between 100ms and 600s, not 0s"),
    ("restart: {timeout: 2h}", "9:20: restart.timeout must be between 100ms and 600s, not 7200s"),
    (
      "restart: {timeout: fast}",
      "9:20: restart.timeout must be a duration such as 500ms, 2s, 1m30s or 1h"
    ),
    (
      "restart: {units: \"bad unit\"}",
      "9:18: restart.units: \"bad unit\" is not a valid systemd unit name"
    ),
    ("restart: {units: [a, {b: c}]}", "9:22: restart.units must be a non-empty string"),
    ("run: {confirm_after: 2h}", "9:22: run.confirm_after must be between 0s and 3600s, not 7200s"),
    ("run: {confirmations: 0}", "9:22: run.confirmations must be a whole number from 1 to 100"),
    ("run: {confirmations: 1.5}", "9:22: run.confirmations must be a whole number from 1 to 100"),
    ("run: {confirmations: 101}", "9:22: run.confirmations must be a whole number from 1 to 100"),
    ("run: {confirmations: two}", "9:22: run.confirmations must be a whole number from 1 to 100"),
    ("run: {hold_interval: 0s}", "9:22: run.hold_interval must be between 1ms and 3600s, not 0s"),
    ("run: {interval: 0s}", "9:17: run.interval must be between 1ms and 3600s, not 0s"),
    ("run: {interval: 2h}", "9:17: run.interval must be between 1ms and 3600s, not 7200s"),
    ("run: {intervall: 1s}", "9:7: unknown key \"intervall\" in run; did you mean \"interval\"?"),
    (
      "run: {restart_max_per_hour: 0}",
      "9:29: run.restart_max_per_hour must be a whole number from 1 to 3600"
    ),
    (
      "run: {restart_max_per_hour: 3601}",
      "9:29: run.restart_max_per_hour must be a whole number from 1 to 3600"
    ),
    (
      "run: {restart_min_interval: 2h}",
      "9:29: run.restart_min_interval must be between 0s and 3600s, not 7200s"
    ),
    (
      "run: {standby_settle: 2h}",
      "9:23: run.standby_settle must be between 0s and 3600s, not 7200s"
    ),
    ("state_directory: \"\"", "9:18: state_directory must be a non-empty string"),
    ("state_directory: [a]", "9:18: state_directory must be a non-empty string"),
    ("state_table: x", "9:14: state_table must be a mapping, not a scalar"),
    ("state_table: {host_column: [x]}", "9:28: state_table.host_column must be a non-empty string"),
    (
      "state_table: {table: a.b.c}",
      "9:22: state_table.table is not a valid identifier (schema.table)"
    ),
    (
      "state_table: {timestamp_column: a.b}",
      "9:33: state_table.timestamp_column is not a valid identifier"
    ),
    ("timeouts: {connect: 10ms}", "9:21: timeouts.connect must be between 50ms and 60s, not 10ms"),
    (
      "timeouts: {lock_wait: -1s}",
      "9:23: timeouts.lock_wait must be a duration such as 500ms, 2s, 1m30s or 1h"
    ),
    (
      "timeouts: {lock_wait: 11m}", "9:23: timeouts.lock_wait must be between 0s and 600s, not 660s"
    ),
    ("timeouts: {query: 2m}", "9:19: timeouts.query must be between 50ms and 60s, not 120s"),
  ]

  @Test(arguments: cases)
  func eachBadFieldIsOneProblemAtItsPlace(_ section: String, _ problem: String) {
    #expect(problems(withSection(section), file: "pgfollow.yaml") == ["pgfollow.yaml:" + problem])
  }

  @Test func theBaseLoads() {
    #expect(problems(base) == [])
  }

  @Test func aNodeMissingItsFieldsNamesEachOne() {
    #expect(
      problems(
        withSection("nodes: [{name: a}, {conninfo: host=x, address: b}]"), file: "pgfollow.yaml")
        == [
          "pgfollow.yaml:1:9: nodes[0] is missing the key \"conninfo\"",
          "pgfollow.yaml:1:9: nodes[0] is missing the key \"address\"",
          "pgfollow.yaml:1:20: nodes[1] is missing the key \"name\"",
        ])
  }

  /// Values that look odd but are valid: a unit given as a bare scalar (systemd adds .service),
  /// and a table name with a space (identifiers are always quoted in SQL).
  @Test func oddButValidValuesLoad() throws {
    let units = try load(withSection("restart: {units: 5}"), file: "pgfollow.yaml")
    #expect(units.apps.first?.restart.units == ["5"])
    let table = try load(withSection("state_table: {table: \"a b\"}"), file: "pgfollow.yaml")
    #expect(table.failoverTable.table == "a b")
  }
}
