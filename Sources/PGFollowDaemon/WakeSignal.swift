import Synchronization

/// Why the sidecar's loop wakes up.
public enum Wake: Sendable, Equatable {
  case timer, cycleNow, reload, stop
}

/// Wakes the sidecar's loop early: a signal or a shutdown posts, the loop waits with a timeout.
/// A post with no one waiting is kept for the next wait (`stop` first).
final class WakeSignal: Sendable {
  private struct State {
    var waiter: CheckedContinuation<Wake, Never>?
    var generation = 0
    var pending: [Wake] = []
  }

  private let state = Mutex(State())

  func post(_ wake: Wake) {
    let waiter = state.withLock { state -> CheckedContinuation<Wake, Never>? in
      guard let waiter = state.waiter else {
        state.pending.append(wake)
        return nil
      }
      state.waiter = nil
      return waiter
    }
    waiter?.resume(returning: wake)
  }

  /// The next wake, or `.timer` after `timeout`.
  func wait(timeout: Duration) async -> Wake {
    let generation = state.withLock { state in
      state.generation += 1
      return state.generation
    }
    let timer = Task {
      try? await Task.sleep(for: timeout)
      timerFired(generation)
    }
    defer {
      timer.cancel()
      state.withLock { $0.generation += 1 }
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

  private func timerFired(_ generation: Int) {
    let waiter = state.withLock { state -> CheckedContinuation<Wake, Never>? in
      guard state.generation == generation else { return nil }
      guard let waiter = state.waiter else {
        state.pending.append(.timer)
        return nil
      }
      state.waiter = nil
      return waiter
    }
    waiter?.resume(returning: .timer)
  }
}
