// swift-tools-version: 6.0
import PackageDescription

/// Every module: imports are internal unless marked, member lookups need their module imported,
/// and existential types are spelled `any`.
let upcoming: [SwiftSetting] = [
  .enableUpcomingFeature("InternalImportsByDefault"),
  .enableUpcomingFeature("MemberImportVisibility"),
  .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
  name: "pgfollow",
  products: [
    .executable(name: "pgfollow", targets: ["pgfollow"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
    .systemLibrary(
      name: "CLibYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
    // Pure: the model, the decision and the follow machine. No C, no I/O, no clock.
    .target(name: "PGFollowCore", swiftSettings: upcoming),
    // Files, threads, accounts and the wall clock: the few system helpers every adapter shares.
    .target(name: "PGFollowSystem", dependencies: ["PGFollowCore"], swiftSettings: upcoming),
    // Adapters, each the only user of its C library.
    .target(
      name: "PGFollowPostgres", dependencies: ["CLibPQ", "PGFollowCore"], swiftSettings: upcoming),
    .target(
      name: "PGFollowYAML", dependencies: ["CLibYAML", "PGFollowCore"], swiftSettings: upcoming),
    // The configuration file read into the model.
    .target(
      name: "PGFollowConfig",
      dependencies: ["PGFollowCore", "PGFollowYAML", "PGFollowPostgres", "PGFollowSystem"],
      swiftSettings: upcoming),
    // The writer side, run on the database nodes: `record` and `init`.
    .target(
      name: "PGFollowWriter", dependencies: ["PGFollowCore", "PGFollowPostgres"],
      swiftSettings: upcoming),
    // The follower, by stage: Probe, Cycle, Apply, Report, Service.
    .target(
      name: "PGFollowDaemon",
      dependencies: [
        "PGFollowCore", "PGFollowConfig", "PGFollowPostgres", "PGFollowYAML", "PGFollowSystem",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ],
      swiftSettings: upcoming),
    .target(
      name: "PGFollowFuzzing",
      dependencies: ["PGFollowYAML", "PGFollowCore", "PGFollowConfig", "PGFollowPostgres"],
      swiftSettings: upcoming),
    .executableTarget(
      name: "pgfollow",
      dependencies: [
        "PGFollowDaemon", "PGFollowCore", "PGFollowConfig", "PGFollowSystem", "PGFollowWriter",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ],
      swiftSettings: upcoming),
    // Pure tests: no server, no root, no network.
    .testTarget(name: "PGFollowCoreTests", dependencies: ["PGFollowCore"]),
    .testTarget(name: "PGFollowYAMLTests", dependencies: ["PGFollowYAML", "PGFollowCore"]),
    .testTarget(
      name: "PGFollowConfigTests", dependencies: ["PGFollowConfig", "PGFollowCore"]),
    .testTarget(name: "PGFollowFuzzingTests", dependencies: ["PGFollowFuzzing", "PGFollowYAML"]),
    // Helpers for the integration tests: the test cluster, processes, containers.
    .target(
      name: "PGFollowTestSupport", dependencies: ["PGFollowDaemon", "PGFollowSystem"],
      path: "Tests/PGFollowTestSupport"),
    // Against real servers started by the tests; each suite says what it needs.
    .testTarget(
      name: "PGFollowIntegrationTests",
      dependencies: [
        "PGFollowDaemon", "PGFollowCore", "PGFollowConfig", "PGFollowSystem",
        "PGFollowTestSupport", "pgfollow",
      ]),
  ]
)
