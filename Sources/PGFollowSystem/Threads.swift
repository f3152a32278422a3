#if canImport(Glibc)
  import Glibc
#endif

/// Runs `body` on a new detached thread of its own. Blocking work (a child process, a poll) goes
/// here rather than to Dispatch's global queues, whose few threads it would hold up.
package func startThread(_ body: @escaping @Sendable () -> Void) {
  let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
  var attributes = pthread_attr_t()
  pthread_attr_init(&attributes)
  defer { pthread_attr_destroy(&attributes) }
  pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
  var thread = pthread_t()
  let created = pthread_create(
    &thread, &attributes,
    { pointer in
      guard let pointer else { return nil }
      Unmanaged<ThreadBody>.fromOpaque(pointer).takeRetainedValue().body()
      return nil
    }, box)
  if created != 0 {
    // No thread could be had: run it here rather than lose it.
    Unmanaged<ThreadBody>.fromOpaque(box).takeRetainedValue().body()
  }
}

private final class ThreadBody {
  let body: @Sendable () -> Void

  init(_ body: @escaping @Sendable () -> Void) {
    self.body = body
  }
}

/// Runs blocking work on a thread of its own and waits for it, off the cooperative pool.
package func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
  await withCheckedContinuation { continuation in
    startThread { continuation.resume(returning: work()) }
  }
}

/// `work`'s result, or nil if it is not done by `deadline` (the work then finishes on its own and
/// its result is dropped).
package func resultBy<T: Sendable>(
  _ deadline: ContinuousClock.Instant, _ work: @escaping @Sendable () async -> T
) async -> T? {
  await withCheckedContinuation { continuation in
    let once = ResumeOnce(continuation)
    Task { once.resume(await work()) }
    Task {
      try? await Task.sleep(until: deadline, clock: .continuous)
      once.resume(nil)
    }
  }
}
private final class ResumeOnce<T: Sendable>: Sendable {
  private let continuation: Locked<CheckedContinuation<T?, Never>?>

  init(_ continuation: CheckedContinuation<T?, Never>) {
    self.continuation = Locked(continuation)
  }

  func resume(_ value: T?) {
    let taken = continuation.withLock { stored -> CheckedContinuation<T?, Never>? in
      defer { stored = nil }
      return stored
    }
    taken?.resume(returning: value)
  }
}
