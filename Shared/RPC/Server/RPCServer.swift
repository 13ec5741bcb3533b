import Logging
import Model
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The live connections of a server, for graceful shutdown.
final class ConnectionRegistry: Sendable {
    private let connections = NIOLockedValueBox<[ObjectIdentifier: ServerConnectionHandler]>([:])

    func add(_ handler: ServerConnectionHandler) {
        self.connections.withLockedValue { $0[ObjectIdentifier(handler)] = handler }
    }

    func remove(_ handler: ServerConnectionHandler) {
        self.connections.withLockedValue { _ = $0.removeValue(forKey: ObjectIdentifier(handler)) }
    }

    var all: [ServerConnectionHandler] {
        self.connections.withLockedValue { Array($0.values) }
    }
}

/// A gRPC server: SwiftNIO sockets and event loops, one `nghttp2_session` per connection.
///
/// ```swift
/// let server = RPCServer(router: router, configuration: ServerConfiguration(port: 50051))
/// let address = try await server.start()
/// try await server.run()   // until shutdown() — or use it as a ServiceLifecycle Service
/// ```
public final class RPCServer: Service, Sendable {
    /// The configuration.
    public let configuration: ServerConfiguration
    let router: Router
    let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    /// Whether the server made `group` (and so shuts it down) or was given it.
    private let ownsGroup: Bool
    private let registry = ConnectionRegistry()
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    /// The server's `grpc.health.v1.Health` statuses: every service of the router starts
    /// SERVING; a service sets NOT_SERVING while it cannot answer (e.g. during migrations).
    public let health: HealthService

    /// A server for `router`'s handlers. Unless `configuration.standardServices` is off, it
    /// also serves `grpc.health.v1.Health` and server reflection (v1 and v1alpha).
    ///
    /// The server runs on `group` when given (its owner shuts it down, after the server);
    /// otherwise on a group of its own with `configuration.eventLoopCount` loops. A service
    /// gives the server the group its database client runs on, so a handler's query and its
    /// answer are handled on the handler's own loop instead of crossing threads.
    public init(
        router: Router, configuration: ServerConfiguration, group: MultiThreadedEventLoopGroup? = nil,
        logger: Logger = Logger(label: "tongxin.rpc.server")
    ) {
        var router = router
        self.health = HealthService(services: router.serviceNames)
        if configuration.standardServices
            && !router.paths.contains(GRPCHealthV1.Health.Check.descriptor.path)
        {
            router.addStandardServices(health: self.health)
        }
        self.router = router
        self.configuration = configuration
        self.logger = logger
        self.group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopCount))
        self.ownsGroup = group == nil
    }

    /// Binds and starts accepting connections; returns the bound address (useful with port 0).
    /// Throws the socket error when the address cannot be bound.
    @discardableResult
    public func start() async throws -> SocketAddress {
        let configuration = self.configuration
        let router = self.router
        let logger = self.logger
        let registry = self.registry
        let channel = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ServerConnectionHandler(configuration: configuration, router: router, logger: logger, registry: registry))
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        self.channel.withLockedValue { $0 = channel }
        return channel.localAddress!
    }

    /// The port the server listens on, once started.
    public var port: Int? {
        self.channel.withLockedValue { $0?.localAddress?.port }
    }

    /// Starts (if `start()` was not called) and serves until shutdown. As a ServiceLifecycle
    /// `Service` in a `ServiceGroup`, SIGTERM/SIGINT trigger `shutdown()`: GOAWAY, in-flight
    /// calls finish within the grace period, then the connections close.
    public func run() async throws {
        if self.channel.withLockedValue({ $0 }) == nil {
            try await self.start()
        }
        let channel = self.channel.withLockedValue { $0 }
        // Ends on a graceful shutdown (SIGTERM through the service group) and also when the
        // task is cancelled, as a service group does when another of its services fails (the
        // database that cannot be opened): without this the process would keep listening.
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await channel?.closeFuture.get()
                await self.waitForConnectionsToClose()
            } onGracefulShutdown: {
                Task { await self.shutdown() }
            }
        } onCancel: {
            Task { await self.shutdown() }
        }
    }

    private func waitForConnectionsToClose() async {
        let deadline = ContinuousClock.now.advanced(by: .nanoseconds(self.configuration.shutdownGracePeriod.nanoseconds) + .seconds(1))
        while !self.registry.all.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Graceful shutdown: stops accepting, sends GOAWAY on every connection, lets in-flight
    /// calls finish within the grace period, then closes everything.
    public func shutdown() async {
        let channel = self.channel.withLockedValue { $0 }
        try? await channel?.close()
        for connection in self.registry.all {
            guard let loop = connection.eventLoop else { continue }
            loop.execute { connection.initiateGracefulShutdown() }
        }
        let deadline = ContinuousClock.now.advanced(by: .nanoseconds(self.configuration.shutdownGracePeriod.nanoseconds) + .milliseconds(500))
        while !self.registry.all.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if self.ownsGroup {
            try? await self.group.shutdownGracefully()
        }
    }
}
