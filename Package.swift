// swift-tools-version: 6.1
// Tongxin (同心): gRPC microservices on libnghttp2 + libprotobuf-c + SwiftNIO.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Tongxin",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Model", targets: ["Model"]),
        .library(name: "RPC", targets: ["RPC"]),
        .executable(name: "tongxin-interop", targets: ["Interop"]),
        .executable(name: "tongxin", targets: ["Tongxin"]),
        .executable(name: "tongxin-registry", targets: ["Registry"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-extras/swift-extras-base64.git", from: "1.2.0"),
    ],
    targets: [
        // C libraries, as the system provides them.
        .systemLibrary(
            name: "CNGHTTP2", path: "Shared/CNGHTTP2", pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(
            name: "CProtobufC", path: "Shared/CProtobufC", pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Shared/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        // protoc-c output for every proto of the suite; written only by Tools/generate.sh.
        .target(
            name: "CTongxinProtos", dependencies: ["CProtobufC"], path: "Shared/CTongxinProtos",
            cSettings: [.headerSearchPath("generated")]),

        // Swift value types for every message, encoded and decoded through protobuf-c.
        .target(
            name: "Model",
            dependencies: ["CProtobufC", "CTongxinProtos", .product(name: "ExtrasBase64", package: "swift-extras-base64")],
            path: "Shared/Model",
            swiftSettings: swiftSettings),

        // gRPC over HTTP/2 (libnghttp2) on SwiftNIO: server, client, status, metadata.
        .target(
            name: "RPC",
            dependencies: [
                "Model", "CNGHTTP2", "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/RPC",
            // The connection state is confined to one event loop; dynamic exclusivity checks
            // cost ~4 % of the unary hot path in release builds.
            swiftSettings: swiftSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),

        // What every service shares; for now storage: one SQL seam over SQLite (GRDB) and
        // PostgreSQL (postgres-nio), group commit, migrations, and the domain error type.
        .target(
            name: "ServiceKit",
            dependencies: [
                "Model", "RPC",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Shared/ServiceKit", swiftSettings: swiftSettings),

        // The registry's behaviour on the storage seam, shared by tongxin-registry and tests.
        .target(
            name: "RegistryCore", dependencies: ["Model", "ServiceKit"],
            path: "Services/Registry/Core", swiftSettings: swiftSettings),

        // tongxin-registry: the registry over gRPC.
        .executableTarget(
            name: "Registry",
            dependencies: [
                "RegistryCore", "ServiceKit", "RPC", "Model",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/Registry/Server", swiftSettings: swiftSettings),

        // grpc.testing.TestService server and client cases, for interop with stock gRPC.
        .executableTarget(
            name: "Interop",
            dependencies: [
                "RPC", "Model",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/Interop", swiftSettings: swiftSettings),

        // The client tool: call any method with JSON, list and describe services, health.
        .executableTarget(
            name: "Tongxin",
            dependencies: [
                "RPC", "Model",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Tools/Tongxin", swiftSettings: swiftSettings),

        .testTarget(
            name: "RegistryServerTests", dependencies: ["Registry"],
            path: "Tests/RegistryServerTests", exclude: ["Python"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TongxinTests", dependencies: [],
            path: "Tests/TongxinTests", swiftSettings: swiftSettings),
        .testTarget(
            name: "ModelTests", dependencies: ["Model", "CProtobufC", "CTongxinProtos"],
            path: "Tests/ModelTests", exclude: ["Python"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RPCTests",
            dependencies: [
                "RPC", "Model", "CNGHTTP2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/RPCTests", exclude: ["Interop"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: [
                "ServiceKit", "RPC", "Model",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ServiceKitTests", swiftSettings: swiftSettings),
        // The child process of the registry's crash-safety test.
        .executableTarget(
            name: "RegistryCrashWriter", dependencies: ["RegistryCore", "ServiceKit", "Model"],
            path: "Services/Registry/CrashWriter", swiftSettings: swiftSettings),
        .testTarget(
            name: "RegistryTests", dependencies: ["RegistryCore", "ServiceKit", "Model", "RegistryCrashWriter"],
            path: "Tests/RegistryTests", swiftSettings: swiftSettings),
    ]
)
