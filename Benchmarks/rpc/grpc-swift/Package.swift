// swift-tools-version: 6.1
// grpc-swift 2 echo server for the unary benchmark (its own package so the suite does not
// depend on grpc-swift). Build: swift build -c release --scratch-path .build-gs2
import PackageDescription

let package = Package(
    name: "GRPCSwiftEcho",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", exact: "2.9.2"),
    ],
    targets: [
        .executableTarget(
            name: "EchoServer",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            path: "Sources/EchoServer",
            swiftSettings: [.swiftLanguageMode(.v6)]),
    ]
)
