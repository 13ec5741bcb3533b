import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The admin HTTP port of a service: `/metrics` (Prometheus text format), `/healthz` (the
/// process is up) and `/readyz` (it can serve: 200, or 503 while e.g. migrations run).
public final class AdminServer: Service, Sendable {
    private let host: String
    private let port: Int
    private let registry: PrometheusCollectorRegistry
    private let isReady: @Sendable () -> Bool
    private let logger: Logger
    private let boundChannel = NIOLockedValueBox<(any Channel)?>(nil)

    /// An admin server on `host:port` exposing `registry`; `isReady` answers `/readyz`.
    public init(host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger, isReady: @escaping @Sendable () -> Bool) {
        self.host = host
        self.port = port
        self.registry = registry
        self.isReady = isReady
        self.logger = logger
    }

    /// Binds; returns the bound port (useful with port 0).
    @discardableResult
    public func start() async throws -> Int {
        let registry = self.registry
        let isReady = self.isReady
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(AdminHandler(registry: registry, isReady: isReady))
                }
            }
            .bind(host: self.host, port: self.port).get()
        self.boundChannel.withLockedValue { $0 = channel }
        let port = channel.localAddress?.port ?? self.port
        self.logger.info("admin listening", metadata: ["address": "\(self.host):\(port)"])
        return port
    }

    /// Serves until graceful shutdown, then closes the port.
    public func run() async throws {
        if self.boundChannel.withLockedValue({ $0 }) == nil { try await self.start() }
        try? await gracefulShutdown()
        try? await self.boundChannel.withLockedValue { $0 }?.close()
    }
}

private final class AdminHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let registry: PrometheusCollectorRegistry
    let isReady: @Sendable () -> Bool

    init(registry: PrometheusCollectorRegistry, isReady: @escaping @Sendable () -> Bool) {
        self.registry = registry
        self.isReady = isReady
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = self.unwrapInboundIn(data) else { return }
        let (status, type, body): (HTTPResponseStatus, String, [UInt8])
        switch (head.method, head.uri.split(separator: "?").first.map(String.init) ?? head.uri) {
        case (.GET, "/metrics"):
            (status, type, body) = (.ok, "text/plain; version=0.0.4", self.registry.emitToBuffer())
        case (.GET, "/healthz"):
            (status, type, body) = (.ok, "text/plain", Array("ok\n".utf8))
        case (.GET, "/readyz"):
            let ready = self.isReady()
            (status, type, body) = (ready ? .ok : .serviceUnavailable, "text/plain", Array((ready ? "ready\n" : "not ready\n").utf8))
        default:
            (status, type, body) = (.notFound, "text/plain", Array("not found: try /metrics, /healthz, /readyz\n".utf8))
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: type)
        headers.add(name: "content-length", value: String(body.count))
        headers.add(name: "connection", value: "close")
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let channel = context.channel  // Sendable: the completion closes the channel, not the context
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
