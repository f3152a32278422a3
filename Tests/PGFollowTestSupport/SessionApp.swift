import Foundation

/// A real application for the tests: a shell program that reads its YAML file's first
/// `- address:` (the fixture's `db_master[0].address`) and holds a pool of sessions to it as its
/// own role, each reconnecting when it drops. It reads the file at start and on SIGHUP (a reload),
/// which keeps the sessions it has: only a session made later goes to the new address. A
/// stand-in systemctl runs it as the unit: `restart` ends its process group and starts it again,
/// `reload-or-restart` sends it SIGHUP.
package struct SessionApp {
  package let fixture: Fixture
  package let role: String
  /// The file the application reads; the fixture's own unless a test gives it a copy.
  package let reads: String
  package var pidFile: String { fixture.directory + "/session-app.pid" }

  /// Creates the role on the primary, points the nodes' addresses at their real ports, and lets
  /// the watchers' role see the sessions when `grant` says so.
  package init(fixture: Fixture, role: String = "shop", reads: String? = nil, grant: Bool = true)
    throws
  {
    self.fixture = fixture
    self.role = role
    self.reads = reads ?? fixture.appFile
    var sql = "create role \(role) login"
    if grant { sql += "; grant pg_read_all_stats, pg_signal_backend to pgfollow" }
    try fixture.clusterCommand("sql", "node1", sql)
    for node in ["node1", "node2"] {
      try fixture.editConfig(
        "address: \(node):5432", "address: 127.0.0.1:\(try fixture.port(node))")
    }
    try writeProgram()
    try writeSystemctl()
  }

  /// An application that reads a copy of the fixture's file, naming `node` for good: the
  /// configured file is not the one it reads.
  package static func readingACopy(_ fixture: Fixture, naming node: String) throws -> SessionApp {
    let copy = fixture.directory + "/copy.yaml"
    let app = try SessionApp(fixture: fixture, reads: copy)
    try Fixture.appText.replacing("node1:5432", with: "127.0.0.1:\(try fixture.port(node))")
      .write(toFile: copy, atomically: false, encoding: .utf8)
    return app
  }

  /// Starts the application as the stand-in systemctl would.
  package func start() throws {
    let result = try run(fixture.directory + "/systemctl", ["start", "app.service"], timeout: 30)
    guard result.status == 0 else { throw FixtureError(message: "app: \(result.output)") }
  }

  package func stop() {
    _ = try? run(fixture.directory + "/systemctl", ["stop", "app.service"], timeout: 30)
  }

  /// The application's sessions on a node, counted by the node (as postgres).
  package func sessions(on node: String) throws -> Int {
    let result = try Fixture.cluster(
      "sql", fixture.cluster,
      "\(node) select count(*) from pg_stat_activity where usename = '\(role)'")
    return Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
  }

  private func writeProgram() throws {
    let program = """
      #!/bin/sh
      # The tests' application: FILE POOL ROLE. Sessions go to the address of FILE as last read.
      file=$1 pool=$2 role=$3 seen="$1.seen"
      cp "$file" "$seen"
      trap 'cp "$file" "$seen"' HUP
      i=0
      while [ "$i" -lt "$pool" ]; do
        (
          while true; do
            address=$(sed -n 's/^ *- address: *\\([^ ]*\\).*/\\1/p' "$seen" | head -n 1 | tr -d "'\\"")
            echo 'select 1 \\watch 0.5' | psql -X -q \\
              "host=${address%:*} port=${address##*:} dbname=pg_state user=$role application_name=$role" \\
              >/dev/null 2>>"$file.log"
            sleep 0.2
          done
        ) &
        i=$((i + 1))
      done
      while true; do wait; done

      """
    let path = fixture.directory + "/session-app"
    try program.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
  }

  /// The stand-in systemctl: logs each call as the fixture's does, and runs the application.
  private func writeSystemctl() throws {
    let directory = fixture.directory
    let script = """
      #!/bin/sh
      echo "start $*" >> '\(fixture.restartLog)'
      pidfile='\(pidFile)'
      stop() { [ -f "$pidfile" ] && kill -TERM "-$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile"; }
      begin() {
        setsid '\(directory)/session-app' '\(reads)' 4 '\(role)' >/dev/null 2>&1 </dev/null &
        echo $! > "$pidfile"
      }
      case "$1" in
        stop) stop ;;
        reload-or-restart) if [ -f "$pidfile" ]; then kill -HUP "$(cat "$pidfile")"; else begin; fi ;;
        *) stop; begin ;;
      esac
      echo "end" >> '\(fixture.restartLog)'

      """
    let path = directory + "/systemctl"
    try script.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
  }
}
