public import Logging
public import PGFollowCore
public import ServiceLifecycle
import UnixSignals

/// `pgfollow run`: the cycle repeated at an interval over persistent connections, with
/// hysteresis and a restart limiter. SIGHUP reloads the configuration (an invalid one is reported
/// and the old one kept), SIGUSR1 runs a cycle at once, graceful shutdown (SIGTERM, SIGINT) ends
/// the loop between cycles, so a write in flight completes or never starts. Tells systemd READY
/// after the first cycle, STATUS and WATCHDOG after each, and STOPPING at the end.
public final class Sidecar: Service {
  private let configPath: String
  private let initialConfig: Config
  private let dryRun: Bool
  private let logger: Logger
  private let notifier: SystemdNotifier
  private let reload: @Sendable (String) throws -> Config

  public init(
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

  public func run() async throws {
    let wake = WakeSignal()
    await withGracefulShutdownHandler {
      await withTaskGroup(of: Void.self) { group in
        group.addTask {
          for await signal in await UnixSignalsSequence(trapping: .sighup, .sigusr1) {
            wake.post(signal == .sighup ? .reload : .cycleNow)
          }
        }
        await loop(wake)
        group.cancelAll()
      }
    } onGracefulShutdown: {
      wake.post(.stop)
    }
    notifier.notify(["STOPPING=1", "STATUS=stopped"])
    logger.notice("stopped")
  }

  private func loop(_ wake: WakeSignal) async {
    var config = initialConfig
    var controls = makeControls(config)
    var reportLogger = ReportLogger(logger: logger, onlyChanges: true)
    let prober = SessionProber()
    let metrics = Metrics()
    let server = startMetricsServer(config, metrics)
    var ready = false
    var lastConnectionWake = ContinuousClock.now - .seconds(1)
    let mode = dryRun ? " (dry run: nothing will be changed)" : ""
    logger.notice(
      "watching \(config.nodes.count) nodes every \(formatDuration(config.run.interval))\(mode)")
    while true {
      let started = ContinuousClock.now
      let report = await Cycle(config: config, prober: prober, dryRun: dryRun).run(&controls)
      reportLogger.log(report, config: config)
      logger.debug("cycle took \(milliseconds(started.duration(to: .now)))ms")
      metrics.observe(report, duration: started.duration(to: .now), config: config)
      var message = ["STATUS=\(statusLine(report))", "WATCHDOG=1"]
      if !ready { message.insert("READY=1", at: 0) }
      ready = true
      notifier.notify(message)
      let pause = pace(report, config.run)
      // A socket that stays readable must not spin the loop: watch at most every 100 ms.
      let watching = lastConnectionWake.duration(to: .now) > .milliseconds(100)
      switch await wake.wait(
        timeout: pause - started.duration(to: .now),
        watching: watching ? prober.idleSockets() : [])
      {
      case .timer, .cycleNow:
        continue
      case .connection:
        lastConnectionWake = .now
        logger.debug("a connection spoke up or closed; cycling now")
      case .reload:
        if let fresh = reloaded(config) {
          config = fresh
          controls = makeControls(config, keeping: controls)
        }
      case .stop:
        withExtendedLifetime(server) {}
        return
      }
    }
  }

  /// Metrics are not essential: a listener that cannot start is logged, and the sidecar goes on.
  private func startMetricsServer(_ config: Config, _ metrics: Metrics) -> MetricsServer? {
    guard let listen = config.metrics.listen else { return nil }
    do {
      let server = try MetricsServer(listen: listen, metrics: metrics)
      logger.notice("serving metrics on http://\(listen)/metrics")
      return server
    } catch {
      logger.error("no metrics: \(error)")
      return nil
    }
  }

  private func reloaded(_ current: Config) -> Config? {
    do {
      let fresh = try reload(configPath)
      logger.notice("reloaded \(configPath)")
      return fresh
    } catch {
      logger.error("reload refused, keeping the running configuration: \(error)")
      return nil
    }
  }

  private func makeControls(_ config: Config, keeping old: CycleControls? = nil) -> CycleControls {
    var controls = CycleControls(run: config.run)
    if let old, let hysteresis = old.hysteresis, hysteresis.required == config.run.confirmations {
      controls.hysteresis = hysteresis
    }
    if let old, var limiter = old.limiter {
      limiter.minimumInterval = config.run.restartMinimumInterval
      limiter.maximumPerHour = config.run.restartMaximumPerHour
      controls.limiter = limiter
    }
    return controls
  }

  /// The time from this cycle's start to the next: short while a new leader is being confirmed
  /// or no leader is confirmed (a failover may be under way), the jittered interval otherwise.
  private func pace(_ report: CycleReport, _ run: RunConfig) -> Duration {
    if report.confirming != nil { return run.confirmAfter }
    if case .hold = report.decision.outcome { return run.holdInterval }
    return run.interval * Double.random(in: 0.9...1.1)
  }
}

/// One line for systemd's STATUS and `systemctl status`.
func statusLine(_ report: CycleReport) -> String {
  var line: String
  if case .confirming(let leader, let sightings, let required) = report.confirming {
    line = "confirming new leader \(leader) (\(sightings)/\(required))"
  } else {
    switch report.decision.outcome {
    case .follow(let leader, _): line = "following \(leader)"
    case .hold: line = "holding: \(report.decision.reason)"
    }
  }
  if !report.decision.splitBrain.isEmpty {
    line += "; SPLIT BRAIN: " + report.decision.splitBrain.joined(separator: ", ")
  }
  if let error = report.errors.first { line += "; error: \(error)" }
  return line
}
