import PGFollowSystem

/// Why the sidecar's loop wakes up.
package enum Wake: Sendable, Equatable {
  case timer, cycleNow, reload, stop
  /// A node watcher published evidence.
  case evidence
  /// A restart or hook running in the background finished.
  case workDone
  /// A count of the applications' sessions finished.
  case sessionsCounted
  /// A check of an app's new file ended.
  case checkDone
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

  /// The next wake, or `.timer` after `timeout`.
  func wait(timeout: Duration) async -> Wake {
    let generation = state.withLock { state in
      state.generation += 1
      return state.generation
    }
    let timer = Task {
      try? await Task.sleep(for: timeout)
      deliver(.timer, generation: generation)
    }
    defer {
      timer.cancel()
      state.withLock { $0.generation += 1 }
    }
    return await withCheckedContinuation { continuation in
      let ready = state.withLock { state -> Wake? in
        if state.pending.contains(.stop) {
          state.pending.removeAll { $0 == .stop }
          return .stop
        }
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
        // Wakes that say only "look again" are kept once.
        if !([.evidence, .workDone, .checkDone].contains(wake) && state.pending.contains(wake)) {
          state.pending.append(wake)
        }
        return nil
      }
      state.waiter = nil
      return waiter
    }
    waiter?.resume(returning: wake)
  }
}
