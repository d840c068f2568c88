// swift-tools-version:6.1
import PackageDescription

// Strict settings shared by every target (see docs/decisions/0001-package-layout.md).
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "TelemetryStore",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "telemetryd", targets: ["telemetryd"]),
        .library(name: "TelemetryStorage", targets: ["TelemetryStorage"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // LevelDB's C API, linked from Debian's libleveldb-dev.
        .systemLibrary(name: "CLevelDB", path: "Sources/CLevelDB"),
        // Domain values shared by every layer; no dependencies.
        .target(name: "TelemetryCore", swiftSettings: strictSettings),
        // Synchronous, thread-safe storage on LevelDB; never imports NIO.
        .target(name: "TelemetryStorage", dependencies: ["CLevelDB", "TelemetryCore"], swiftSettings: strictSettings),
        // Frames, envelopes and generated protobuf code (protocol/).
        .target(
            name: "TelemetryWire",
            dependencies: [
                "TelemetryCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        // telemetryctl's commands, input parsers (CSV, JSON lines, line protocol) and output rendering.
        .target(
            name: "TelemetryCLI",
            dependencies: [
                "TelemetryCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // The storage benchmark (docs/BENCHMARKS.md).
        .executableTarget(
            name: "telemetry-storage-bench",
            dependencies: ["TelemetryStorage", "TelemetryCore"],
            path: "tools/storage-bench",
            swiftSettings: strictSettings
        ),
        // Storage smoke run used by `make run` until the server lands.
        .executableTarget(
            name: "telemetryd",
            dependencies: ["TelemetryStorage", "TelemetryCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TelemetryStorageTests",
            dependencies: ["TelemetryStorage", "TelemetryCore", "CLevelDB"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TelemetryWireTests",
            dependencies: ["TelemetryWire", "TelemetryCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TelemetryCLITests",
            dependencies: ["TelemetryCLI", "TelemetryCore"],
            swiftSettings: strictSettings
        ),
    ]
)
