package import Logging
package import PGFollowCore
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
  import Glibc
#endif

/// `pgfollow run`: a watcher per node keeps its connection and publishes what it sees; the loop
/// (SidecarLoop) decides over the nodes' fresh evidence whenever it changes and at the pace,
/// with one follow machine kept across cycles (hysteresis, settling, the restart limiter, owed
/// work). Restarts
/// and hooks run in the background, so that a slow application or hook never stalls the cycles
/// or the watchdog pings. SIGHUP reloads the configuration (an invalid one is reported and the
/// old one kept), SIGUSR1 probes every node at once, graceful shutdown (SIGTERM, SIGINT) ends the
/// loop between cycles and waits for work in flight, so a write or a restart completes or never
/// starts. Tells systemd READY after the first cycle, STATUS after each, WATCHDOG every half
/// `WatchdogSec`, and STOPPING at the end.
package final class Sidecar: Service {
  let configPath: String
  let initialConfig: Config
  let dryRun: Bool
  let logger: Logger
  let notifier: SystemdNotifier
  let reload: @Sendable (String) throws -> Config

  package init(
    configPath: String, config: Config, dryRun: Bool, logger: Logger,
    notifier: SystemdNotifier = SystemdNotifier(),
    reload: @escaping @Sendable (String) throws -> Config
  ) {
    self.configPath = configPath
    self.initialConfig = config
    self.dryRun = dryRun
    self.logger = logger
    self.notifier = notifier
    self.reload = reload
  }

  package func run() async throws {
    let wake = WakeSignal()
    await withGracefulShutdownHandler {
      await withTaskGroup(of: Void.self) { group in
        group.addTask {
          for await signal in await UnixSignalsSequence(trapping: .sighup, .sigusr1) {
            wake.post(signal == .sighup ? .reload : .cycleNow)
          }
        }
        var loop = SidecarLoop(sidecar: self, config: initialConfig, wake: wake)
        await loop.run()
        group.cancelAll()
      }
    } onGracefulShutdown: {
      wake.post(.stop)
    }
    notifier.notify(["STOPPING=1", "STATUS=stopped"])
    logger.notice("stopped")
  }

  /// The listener is not essential: one that cannot start is logged once, tried again by the
  /// loop every few seconds (the port may be held a while by whatever held it), and the sidecar
  /// goes on.
  func startListener(
    _ config: Config, metrics: Metrics, live: LiveStatus, failedBefore: Bool = false
  ) -> HTTPListener? {
    guard let listen = config.metrics.listen else { return nil }
    do {
      let server = try HTTPListener(listen: listen) { path in
        live.answer(path, metrics: metrics)
      }
      logger.notice("serving http://\(listen)/metrics, /healthz and /status")
      return server
    } catch {
      if !failedBefore {
        let retry = formatDuration(Self.listenerRetry)
        logger.error("no metrics or health endpoints: \(error); trying again every \(retry)")
      }
      return nil
    }
  }

  static let listenerRetry = Duration.seconds(2)

  func reloaded() -> Config? {
    do {
      let fresh = try reload(configPath)
      logger.notice("reloaded \(configPath)")
      return fresh
    } catch {
      logger.error("reload refused, keeping the running configuration: \(error)")
      return nil
    }
  }
}
