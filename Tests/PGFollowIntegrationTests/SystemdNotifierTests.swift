import Foundation
import PGFollowTestSupport
import Testing

@testable import PGFollowDaemon

@Suite struct SystemdNotifierTests {
  @Test func sendsDatagramsAndNeverBlocksOnAReaderThatStopsReading() throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let socket = try NotifySocket(directory: directory)
    let notifier = SystemdNotifier(socketPath: socket.path)
    #expect(notifier.notify(["READY=1", "STATUS=following db01"]))
    #expect(socket.receive(waiting: 1000) == ["READY=1\nSTATUS=following db01"])
    // Nobody reads now: the buffer fills, and sends fail instead of blocking.
    let results = (0..<20_000).map { _ in notifier.notify(["WATCHDOG=1"]) }
    #expect(results.contains(false))
  }

  @Test func withoutNotifySocketItDoesNothing() {
    #expect(!SystemdNotifier(socketPath: nil).notify(["READY=1"]))
    #expect(!SystemdNotifier(socketPath: "").notify(["READY=1"]))
  }
}
