import Foundation

/// A `pgfollow run` in the background, its output going to a file.
package final class Sidecar: @unchecked Sendable {
  package let process = Process()
  package let logPath: String

  /// `launcher`, when given, is the argv prefix that runs pgfollow (`FaultyNetwork.launcher`).
  package init(
    fixture: Fixture, arguments: [String] = [], environment: [String: String] = [:],
    launcher: [String] = []
  ) throws {
    logPath = fixture.directory + "/run-\(UUID().uuidString.prefix(6)).log"
    FileManager.default.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    let argv = launcher + [Fixture.binary, "run", "-c", fixture.configFile] + arguments
    process.executableURL = URL(fileURLWithPath: argv[0])
    process.arguments = Array(argv.dropFirst())
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = log
    process.standardError = log
    process.standardInput = FileHandle.nullDevice
    try process.run()
  }

  /// A sidecar that tells `NotifySocket` what it would tell systemd (READY, STATUS, WATCHDOG).
  package static func notifying(_ fixture: Fixture) throws -> (Sidecar, NotifySocket) {
    let notify = try NotifySocket(directory: fixture.directory)
    return (try Sidecar(fixture: fixture, environment: ["NOTIFY_SOCKET": notify.path]), notify)
  }

  deinit {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
  }

  package var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  package func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

  /// Stops it with SIGTERM and returns its exit status (nil if it had to be killed).
  package func stop(within seconds: Double = 20) -> Int32? {
    signal(SIGTERM)
    guard waitUntil(seconds, { !self.process.isRunning }) else {
      signal(SIGKILL)
      return nil
    }
    process.waitUntilExit()
    return process.terminationStatus
  }
}

/// Polls `condition` every 50 ms for up to `seconds`; true as soon as it holds.
package func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if try condition() { return true }
    usleep(50_000)
  }
  return try condition()
}

/// A NOTIFY_SOCKET stand-in: receives the datagrams `sd_notify` sends.
package final class NotifySocket: @unchecked Sendable {
  package let path: String
  private let descriptor: Int32
  package private(set) var messages: [String] = []

  package init(directory: String) throws {
    path = directory + "/notify.sock"
    descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard bound == 0 else { throw FixtureError(message: "cannot bind \(path)") }
  }

  deinit { close(descriptor) }

  /// Reads what has arrived, waiting up to `milliseconds` for the first datagram.
  @discardableResult
  package func receive(waiting milliseconds: Int32 = 0) -> [String] {
    var received: [String] = []
    var wait = milliseconds
    while true {
      var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, wait) > 0 else { break }
      var buffer = [UInt8](repeating: 0, count: 4096)
      let count = recv(descriptor, &buffer, buffer.count, 0)
      guard count > 0 else { break }
      received.append(String(decoding: buffer[..<count], as: UTF8.self))
      wait = 0
    }
    messages += received
    return received
  }

  /// Waits up to `seconds` for a message containing `text`.
  package func waitFor(_ text: String, seconds: Double = 20) -> Bool {
    if messages.contains(where: { $0.contains(text) }) { return true }
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if receive(waiting: 100).contains(where: { $0.contains(text) }) { return true }
    }
    return false
  }
}
