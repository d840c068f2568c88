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
        .executable(name: "telemetryctl", targets: ["telemetryctl"]),
        .library(name: "TelemetryStorage", targets: ["TelemetryStorage"]),
        .library(name: "TelemetryClient", targets: ["TelemetryClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // SHA-256 for backup manifests (file checksums and the content hash); storage target only.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // LevelDB's C API, linked from Debian's libleveldb-dev.
        .systemLibrary(name: "CLevelDB", path: "Sources/CLevelDB"),
        // Domain values shared by every layer; no dependencies.
        .target(name: "TelemetryCore", swiftSettings: strictSettings),
        // The Fleeti mapping: catalog, YAML mapping files, validation, function registry,
        // status rules and per-vehicle state; pure (no storage, no NIO).
        .target(
            name: "TelemetryMapping",
            dependencies: ["TelemetryCore", .product(name: "Yams", package: "Yams")],
            // The YAML sources of Config/DefaultFiles+Embedded.swift (tools/embed-defaults.py):
            // compiled in, not a resource bundle, which a copied binary would lack.
            exclude: ["Defaults"],
            swiftSettings: strictSettings
        ),
        // A LevelDB environment that reads table files with pread instead of mmap (C++ against
        // the same library), so that table data does not count in the server's memory.
        .target(name: "CLevelDBEnv", dependencies: ["CLevelDB"], path: "Sources/CLevelDBEnv"),
        // Synchronous, thread-safe storage on LevelDB; never imports NIO.
        .target(
            name: "TelemetryStorage",
            dependencies: ["CLevelDB", "CLevelDBEnv", "TelemetryCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // snappy's C API (Debian's libsnappy-dev), for compressed frames.
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy"),
        // glibc's malloc.h, for the server's memory trim (MaintenanceService).
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // Frames, envelopes and generated protobuf code (protocol/).
        .target(
            name: "TelemetryWire",
            dependencies: [
                "TelemetryCore",
                "CSnappy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        // telemetryd's server: listener, connections, dispatch, auth; storage runs on a thread pool.
        .target(
            name: "TelemetryServer",
            dependencies: [
                "CMalloc",
                "TelemetryCore",
                "TelemetryStorage",
                "TelemetryWire",
                "TelemetryMapping",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),
        // The async client library: domain types only in its API.
        .target(
            name: "TelemetryClient",
            dependencies: [
                "TelemetryCore",
                "TelemetryWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // telemetryctl's commands, input parsers (CSV, JSON lines, line protocol) and output rendering.
        .target(
            name: "TelemetryCLI",
            dependencies: [
                "TelemetryCore",
                "TelemetryClient",
                // Offline backup verify and restore (`--offline`, `--data`) work without a server.
                "TelemetryStorage",
                // The canonical catalog: a table shows its datetime fields as times.
                "TelemetryMapping",
                // The wire's name limits, checked on input before anything is sent.
                "TelemetryWire",
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
        // The mapping-engine benchmark (docs/BENCHMARKS.md, "Mapping engine").
        .executableTarget(
            name: "telemetry-mapping-bench",
            dependencies: ["TelemetryMapping", "TelemetryCore"],
            path: "tools/mapping-bench",
            swiftSettings: strictSettings
        ),
        // The server executable: flags and config file -> ServerConfiguration; logging, metrics, ServiceGroup.
        .executableTarget(
            name: "telemetryd",
            dependencies: [
                "TelemetryServer",
                "TelemetryMapping",
                "TelemetryStorage",
                "TelemetryCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "telemetryctl",
            dependencies: ["TelemetryCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings
        ),
        // The load generator (docs/BENCHMARKS.md): replays a dataset over N connections.
        .executableTarget(
            name: "telemetry-load",
            dependencies: [
                "TelemetryClient", "TelemetryCore", "TelemetryCLI", "TelemetryWire", "TelemetryMapping",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "tools/load",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TelemetryStorageTests",
            dependencies: ["TelemetryStorage", "TelemetryCore", "CLevelDB"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TelemetryWireTests",
            dependencies: [
                "TelemetryWire", "TelemetryCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TelemetryMappingTests",
            dependencies: ["TelemetryMapping", "TelemetryCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TelemetryServerTests",
            dependencies: [
                "TelemetryServer", "TelemetryWire", "TelemetryCore", "TelemetryStorage", "TelemetryMapping",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // The only tests that open sockets (127.0.0.1, ephemeral ports).
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "TelemetryServer", "TelemetryClient", "TelemetryWire", "TelemetryCore", "TelemetryStorage", "TelemetryCLI", "TelemetryMapping",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TelemetryCLITests",
            dependencies: ["TelemetryCLI", "TelemetryClient", "TelemetryCore"],
            swiftSettings: strictSettings
        ),
    ]
)
