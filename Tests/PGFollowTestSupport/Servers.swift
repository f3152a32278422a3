import Foundation

/// The test-only Python tools (moto's server, the aws CLI), in the virtual environment that
/// scripts/setup makes under .build.
package enum TestVenv {
  package static let bin = Fixture.packageRoot.path + "/.build/test-venv/bin"
}

/// moto's server on a free loopback port, and the aws CLI pointed at it.
package final class MotoServer {
  package let process = Process()
  package let url: String

  package init(directory: String) throws {
    let port = try freePort()
    url = "http://127.0.0.1:\(port)"
    process.executableURL = URL(fileURLWithPath: TestVenv.bin + "/python3")
    process.arguments = ["-m", "moto.server", "-H", "127.0.0.1", "-p", "\(port)"]
    FileManager.default.createFile(atPath: directory + "/moto.log", contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/moto.log"))
    process.standardOutput = log
    process.standardError = log
    try process.run()
    guard
      waitUntil(
        30,
        { (try? self.aws("ec2", "describe-regions", "--query", "Regions[0].RegionName")) != nil })
    else { throw FixtureError(message: "moto did not start: see \(directory)/moto.log") }
  }

  /// moto's server does not stop on SIGTERM.
  package func stop() {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  @discardableResult
  package func aws(_ arguments: String...) throws -> String {
    let result = try run(
      "/usr/bin/env",
      [
        "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
        TestVenv.bin + "/aws", "--endpoint-url", url, "--output", "text",
      ] + arguments, timeout: 60)
    guard result.status == 0 else {
      throw FixtureError(message: "aws \(arguments.joined(separator: " ")): \(result.output)")
    }
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  package func record(zone: String) throws -> String {
    try aws(
      "route53", "list-resource-record-sets", "--hosted-zone-id", zone,
      "--query", "ResourceRecordSets[?Name=='db.example.internal.'].ResourceRecords[0].Value | [0]")
  }
}

/// A loopback port nothing listens on, below the ephemeral range (see `freePortRun`).
package func freePort() throws -> Int {
  try freePortRun(count: 1)
}

/// The first of `count` consecutive loopback ports nothing listens on, below Linux's ephemeral
/// range (32768 up), so that no client socket or other free port can take one before it is used.
package func freePortRun(count: Int) throws -> Int {
  for _ in 0..<200 {
    let base = Int.random(in: 20000...(32000 - count))
    if (try? (0..<count).map { try HungListener(port: base + $0) }) != nil { return base }
  }
  throw FixtureError(message: "no \(count) consecutive free loopback ports in 20000-32000")
}

/// A TCP listener that completes the handshake (the kernel does) and never answers; on a free
/// port unless one is given.
package final class HungListener {
  package let descriptor: Int32
  package let port: Int

  package init(port wanted: Int = 0) throws {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(wanted).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    guard bound == 0, listen(descriptor, 16) == 0 else {
      close(descriptor)
      throw FixtureError(message: "cannot listen on 127.0.0.1:\(wanted)")
    }
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        getsockname(descriptor, $0, &length)
      }
    }
    self.descriptor = descriptor
    port = Int(UInt16(bigEndian: address.sin_port))
  }

  deinit {
    close(descriptor)
  }
}

/// A 64 KiB tmpfs mounted for one test.
package struct SmallFileSystem {
  package let path: String

  package init(at path: String, readOnly: Bool = false) throws {
    self.path = path
    let options = readOnly ? "size=64k,ro" : "size=64k"
    let mounted = try run("/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", path], timeout: 30)
    guard mounted.status == 0 else {
      throw FixtureError(message: "cannot mount a small tmpfs at \(path): \(mounted.output)")
    }
  }

  package func unmount() {
    _ = try? run("/bin/umount", [path], timeout: 30)
  }
}

/// A program run in the background for a test, its output in `logPath`; killed by `stop()`.
package final class BackgroundServer {
  package let process = Process()
  package let logPath: String

  package init(_ program: String, _ arguments: [String], log: String) throws {
    logPath = log
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
  }

  package var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  package func stop() {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }
}
