// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "pgfollow",
  platforms: [.macOS(.v15)],
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
    .target(name: "PGFollowPostgres", dependencies: ["CLibPQ"]),
    .target(name: "PGFollowYAML", dependencies: ["CLibYAML"]),
    .target(name: "PGFollowCore", dependencies: ["PGFollowYAML"]),
    .target(
      name: "PGFollowDaemon",
      dependencies: [
        "PGFollowCore", "PGFollowPostgres", "PGFollowYAML",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ]),
    .target(
      name: "PGFollowFuzzing", dependencies: ["PGFollowYAML", "PGFollowCore", "PGFollowPostgres"]),
    .executableTarget(
      name: "pgfollow",
      dependencies: [
        "PGFollowDaemon", "PGFollowCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]),
    .testTarget(name: "PGFollowYAMLTests", dependencies: ["PGFollowYAML"]),
    .testTarget(name: "PGFollowCoreTests", dependencies: ["PGFollowCore"]),
    .testTarget(name: "PGFollowFuzzingTests", dependencies: ["PGFollowFuzzing", "PGFollowYAML"]),
    .testTarget(
      name: "PGFollowIntegrationTests",
      dependencies: ["PGFollowDaemon", "PGFollowCore", "pgfollow"]),
  ]
)
