import Logging
import Model
import NIOCore
import NIOPosix
import RPC
import ServiceKit
import Testing

/// The pieces every service runs with: call metrics and logs, the admin HTTP port, flags.
@Suite("Service runtime: call observer, admin port, flags", .serialized)
struct ServiceRuntimeTests {
    static let bootstrapped: Bool = {
        ServiceRuntime.bootstrap(logLevel: "warning")
        return true
    }()

    /// A plain HTTP/1.0 GET over a real socket; returns the status line and the body.
    static func get(_ port: Int, _ path: String) async throws -> (String, String) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        var response = ""
        try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET \(path) HTTP/1.0\r\nHost: x\r\n\r\n"))
            for try await chunk in inbound { response += String(buffer: chunk) }
        }
        let statusLine = response.split(separator: "\r\n").first.map(String.init) ?? ""
        let body = response.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (statusLine, body)
    }

    @Test("calls are counted by method and code and timed; /metrics, /healthz and /readyz answer")
    func metricsAndAdmin() async throws {
        #expect(Self.bootstrapped)
        var router = Router()
        router.register(GRPCTesting.TestService.UnaryCall.self) { (request: GRPCTesting.SimpleRequest, _: ServerContext) in
            if let status = request.responseStatus { throw RPCError(code: Status.Code(rawValue: Int(status.code)) ?? .unknown, message: status.message) }
            return GRPCTesting.SimpleResponse()
        }
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1)
        configuration.interceptors = [CallObserver(logger: Logger(label: "test"))]
        let server = RPCServer(router: router, configuration: configuration)
        let port = try await server.start().port!
        let admin = AdminServer(host: "127.0.0.1", port: 0, registry: ServiceRuntime.metrics, logger: Logger(label: "test"),
                                isReady: { server.health.status(of: "") == .serving })
        let adminPort = try await admin.start()
        let client = try RPCClient(targets: ["127.0.0.1:\(port)"])
        _ = try await client.unary(GRPCTesting.TestService.UnaryCall.self, GRPCTesting.SimpleRequest())
        _ = try? await client.unary(GRPCTesting.TestService.UnaryCall.self, GRPCTesting.SimpleRequest(responseStatus: .init(code: 5, message: "no")))
        await client.close()
        // A database's reads, writes and transactions (other tests of this process may add
        // to the same series, so only their presence is checked).
        try await withTestDatabase("sqlite") { database in
            _ = try await database.write { try $0.execute("INSERT INTO items (id, name) VALUES (1, 'x')") }
            _ = try await database.read { try $0.queryOne("SELECT name FROM items WHERE id = 1") }
        }

        let (status, metrics) = try await Self.get(adminPort, "/metrics")
        for series in [
            #"tongxin_db_read_seconds_count{engine="sqlite"}"#, #"tongxin_db_write_seconds_count{engine="sqlite"}"#,
            #"tongxin_db_transaction_seconds_count{engine="sqlite"}"#, #"tongxin_db_connections{engine="sqlite",role="reader"} 8"#,
            #"tongxin_db_connections_busy{engine="sqlite"}"#, #"tongxin_db_transaction_writes"#,
        ] {
            #expect(metrics.contains(series), "\(series) missing")
        }
        #expect(status == "HTTP/1.0 200 OK")
        #expect(metrics.contains(#"tongxin_rpc_calls_total{method="/grpc.testing.TestService/UnaryCall",code="OK"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"tongxin_rpc_calls_total{method="/grpc.testing.TestService/UnaryCall",code="NOT_FOUND"} 1"#))
        #expect(metrics.contains(#"tongxin_rpc_duration_seconds_count{method="/grpc.testing.TestService/UnaryCall"} 2"#))

        #expect(try await Self.get(adminPort, "/healthz").0 == "HTTP/1.0 200 OK")
        #expect(try await Self.get(adminPort, "/readyz").0 == "HTTP/1.0 200 OK")
        server.health.setStatus(.notServing)
        #expect(try await Self.get(adminPort, "/readyz").0 == "HTTP/1.0 503 Service Unavailable")
        #expect(try await Self.get(adminPort, "/nope").0 == "HTTP/1.0 404 Not Found")
        await server.shutdown()
    }

    @Test("a caller's cancellation is CANCELLED, not an internal error")
    func cancellation() {
        #expect(ServiceError.from(CancellationError()) == .cancelled)
        let error = ServiceError.cancelled.rpcError(domain: "test", logger: Logger(label: "test"))
        #expect(error.code == .cancelled)
        #expect(ServiceError.from(StorageError.engine(detail: "x")) == .internal(cause: "database error: x"))
    }

    @Test("flags: defaults, and clear errors for bad addresses and levels")
    func flags() throws {
        let defaults = try ServiceOptions.parse([])
        #expect(defaults.listen == "127.0.0.1:50051")
        #expect(try ServiceOptions.parse(["--listen", "0.0.0.0:6000"]).listen == "0.0.0.0:6000")
        #expect(throws: (any Error).self) { try ServiceOptions.parse(["--listen", "nowhere"]) }
        #expect(throws: (any Error).self) { try ServiceOptions.parse(["--log-level", "loud"]) }
        #expect(try HostPort("[::1]:50051", flag: "--listen").host == "::1")
    }
}
