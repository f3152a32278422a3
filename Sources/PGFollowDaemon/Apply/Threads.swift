#if canImport(Glibc)
  import Glibc
#endif

/// Runs `body` on a new detached thread of its own. Blocking work (a child process, a poll) goes
/// here rather than to Dispatch's global queues, whose few threads it would hold up.
func startThread(_ body: @escaping @Sendable () -> Void) {
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
func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
  await withCheckedContinuation { continuation in
    startThread { continuation.resume(returning: work()) }
  }
}
