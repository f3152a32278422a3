#if canImport(Glibc)
  import Glibc
#endif

/// Why the sidecar's loop wakes up.
package enum Wake: Sendable, Equatable {
  case timer, cycleNow, reload, stop
  /// A watched connection became readable or hung up.
  case connection
  /// A restart or hook running in the background finished.
  case workDone
}

/// Wakes the sidecar's loop early: a signal or a shutdown posts, the loop waits with a timeout.
/// A post with no one waiting is kept for the next wait (`stop` first).
final class WakeSignal: Sendable {
  private struct State {
    var waiter: CheckedContinuation<Wake, Never>?
    var generation = 0
    var pending: [Wake] = []
  }

  private let state = Locked(State())

  func post(_ wake: Wake) {
    deliver(wake, generation: nil)
  }

  /// The next wake, or `.timer` after `timeout`, or `.connection` when one of `sockets` becomes
  /// readable or hangs up (watched from a thread outside the cooperative pool).
  func wait(timeout: Duration, watching sockets: [Int32] = []) async -> Wake {
    let generation = state.withLock { state in
      state.generation += 1
      return state.generation
    }
    let timer = Task {
      try? await Task.sleep(for: timeout)
      deliver(.timer, generation: generation)
    }
    // The watcher ends when the wait does: closing `stopWatcher` wakes its poll.
    var stopWatcher: Int32 = -1
    var ends: [Int32] = [-1, -1]
    if !sockets.isEmpty, pipe(&ends) == 0 {
      for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
      stopWatcher = ends[1]
      let stopped = ends[0]
      startThread {
        if waitForInput(sockets, stop: stopped, timeout: timeout) {
          self.deliver(.connection, generation: generation)
        }
        close(stopped)
      }
    }
    defer {
      timer.cancel()
      state.withLock { $0.generation += 1 }
      if stopWatcher >= 0 { close(stopWatcher) }
    }
    return await withCheckedContinuation { continuation in
      let ready = state.withLock { state -> Wake? in
        if state.pending.contains(.stop) { return .stop }
        if !state.pending.isEmpty { return state.pending.removeFirst() }
        state.waiter = continuation
        return nil
      }
      if let ready { continuation.resume(returning: ready) }
    }
  }

  /// Wakes the waiter, or keeps `wake` for the next wait. A timer or watcher passes the number of
  /// its wait (`generation`), so that one left over from an earlier wait is ignored.
  private func deliver(_ wake: Wake, generation: Int?) {
    let waiter = state.withLock { state -> CheckedContinuation<Wake, Never>? in
      if let generation, generation != state.generation { return nil }
      guard let waiter = state.waiter else {
        state.pending.append(wake)
        return nil
      }
      state.waiter = nil
      return waiter
    }
    waiter?.resume(returning: wake)
  }
}

/// Blocks until one of `sockets` is readable (data, end of file) or fails, `stop` is closed at
/// its other end, or `timeout` passes; true only for a socket.
private func waitForInput(_ sockets: [Int32], stop: Int32, timeout: Duration) -> Bool {
  var descriptors = (sockets + [stop]).map {
    pollfd(fd: $0, events: Int16(POLLIN), revents: 0)
  }
  let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(clamping: milliseconds(timeout)))
  return ready > 0
    && descriptors.dropLast().contains { $0.revents & Int16(POLLNVAL) == 0 && $0.revents != 0 }
}
