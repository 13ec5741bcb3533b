import Foundation
import Model
import NIOCore
import Synchronization
import Testing

@testable import RPC

typealias TestService = GRPCTesting.TestService

/// Starts a real server on port 0 and a real client over TCP.
func withServerAndClient<R>(
    _ router: Router, configure: (inout ServerConfiguration) -> Void = { _ in },
    clientConfiguration: ClientConfiguration = ClientConfiguration(),
    _ body: (RPCClient, Int) async throws -> R
) async throws -> R {
    var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 2)
    configuration.shutdownGracePeriod = .milliseconds(500)
    configure(&configuration)
    let server = RPCServer(router: router, configuration: configuration)
    let address = try await server.start()
    let port = address.port!
    let client = try RPCClient(targets: ["127.0.0.1:\(port)"], configuration: clientConfiguration)
    do {
        let result = try await body(client, port)
        await client.close()
        await server.shutdown()
        return result
    } catch {
        await client.close()
        await server.shutdown()
        throw error
    }
}

/// Waits until `condition` holds, or gives up after 30 s (a bound for a loaded CI machine,
/// not a timing expectation: it returns as soon as the condition holds).
func eventually(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while !condition() && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(10))
    }
}

func payload(_ size: Int) -> GRPCTesting.Payload {
    GRPCTesting.Payload(type: .compressable, body: Data(count: size))
}

func expectRPCError<R>(_ code: Status.Code, _ body: () async throws -> R) async {
    do {
        _ = try await body()
        Issue.record("expected \(code), the call succeeded")
    } catch let error as RPCError {
        #expect(error.code == code, "\(error)")
    } catch {
        Issue.record("expected RPCError(\(code)), got \(error)")
    }
}

@Suite("Server and client over TCP")
struct ServerClientTests {
    static func echoRouter() -> Router {
        var router = Router()
        router.register(TestService.UnaryCall.self) { (request: GRPCTesting.SimpleRequest, context) in
            if let status = request.responseStatus, status.code != 0 {
                throw RPCError(code: Status.Code(rawValue: Int(status.code))!, message: status.message)
            }
            return GRPCTesting.SimpleResponse(payload: payload(Int(request.responseSize)))
        }
        router.register(TestService.StreamingOutputCall.self) { (request: GRPCTesting.StreamingOutputCallRequest, _, writer) in
            for parameters in request.responseParameters {
                try await writer.write(GRPCTesting.StreamingOutputCallResponse(payload: payload(Int(parameters.size))))
            }
        }
        router.register(TestService.StreamingInputCall.self) { (requests: RequestStream<GRPCTesting.StreamingInputCallRequest>, _) in
            var total: Int32 = 0
            for try await request in requests { total += Int32(request.payload?.body.count ?? 0) }
            return GRPCTesting.StreamingInputCallResponse(aggregatedPayloadSize: total)
        }
        router.register(TestService.FullDuplexCall.self) { (requests: RequestStream<GRPCTesting.StreamingOutputCallRequest>, _, writer) in
            for try await request in requests {
                for parameters in request.responseParameters {
                    try await writer.write(GRPCTesting.StreamingOutputCallResponse(payload: payload(Int(parameters.size))))
                }
            }
        }
        return router
    }

    @Test func fourKinds() async throws {
        try await withServerAndClient(Self.echoRouter()) { client, _ in
            let unary = try await client.unary(TestService.UnaryCall.self, GRPCTesting.SimpleRequest(responseSize: 10))
            #expect(unary.payload?.body.count == 10)

            var sizes: [Int] = []
            let request = GRPCTesting.StreamingOutputCallRequest(responseParameters: [1, 2, 3].map { GRPCTesting.ResponseParameters(size: $0) })
            for try await response in try await client.serverStreaming(TestService.StreamingOutputCall.self, request) {
                sizes.append(response.payload?.body.count ?? -1)
            }
            #expect(sizes == [1, 2, 3])

            let total = try await client.clientStreaming(TestService.StreamingInputCall.self) { sender in
                for size in [5, 6, 7] { try await sender.send(GRPCTesting.StreamingInputCallRequest(payload: payload(size))) }
            }
            #expect(total.message.aggregatedPayloadSize == 18)

            let echoed = try await client.bidirectionalStreaming(TestService.FullDuplexCall.self) { sender, responses in
                var iterator = responses.makeAsyncIterator()
                var got: [Int] = []
                for size: Int32 in [4, 8] {
                    try await sender.send(GRPCTesting.StreamingOutputCallRequest(responseParameters: [GRPCTesting.ResponseParameters(size: size)]))
                    got.append(try await iterator.next()?.payload?.body.count ?? -1)
                }
                try await sender.finish()
                #expect(try await iterator.next() == nil)
                return got
            }
            #expect(echoed == [4, 8])
        }
    }

    /// From the global executor, and from tasks on the client's own loop (which open their
    /// stream without a hop), half of them with a deadline.
    @Test(arguments: [false, true]) func manyConcurrentUnaryCallsMultiplex(onClientLoop: Bool) async throws {
        try await withServerAndClient(Self.echoRouter()) { client, _ in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<200 {
                    group.addTask(executorPreference: onClientLoop ? client.taskExecutor : nil) {
                        let options = index.isMultiple(of: 2) ? CallOptions.timeout(.seconds(60)) : CallOptions()
                        let response = try await client.unary(TestService.UnaryCall.self, GRPCTesting.SimpleRequest(responseSize: Int32(index)), options: options)
                        return response.payload?.body.count ?? -1
                    }
                }
                var total = 0
                for try await count in group { total += count }
                #expect(total == (0..<200).reduce(0, +))
            }
        }
    }

    @Test func statusMessageAndMetadataSurfaceAsRPCError() async throws {
        var router = Router()
        router.register(TestService.EmptyCall.self) { (_: GRPCTesting.Empty, _) in
            var metadata = Metadata()
            metadata.add("x-reason", "quota")
            metadata.add("x-detail-bin", binary: [0, 1, 2, 255])
            throw RPCError(code: .resourceExhausted, message: "too many ☺ 50%", metadata: metadata)
        }
        try await withServerAndClient(router) { client, _ in
            do {
                _ = try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty())
                Issue.record("expected an error")
            } catch let error as RPCError {
                #expect(error.code == .resourceExhausted)
                #expect(error.message == "too many ☺ 50%")
                #expect(error.metadata.first("x-reason") == "quota")
                #expect(error.metadata.firstBinary("x-detail-bin") == [0, 1, 2, 255])
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func unknownMethodAndServiceAreUnimplemented() async throws {
        try await withServerAndClient(Self.echoRouter()) { client, _ in
            await expectRPCError(.unimplemented) { try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty()) }
            await expectRPCError(.unimplemented) {
                try await client.unary(GRPCTesting.UnimplementedService.UnimplementedCall.self, GRPCTesting.Empty())
            }
        }
    }

    @Test func deadlineCancelsHandlerAndIsVisible() async throws {
        let observed = Mutex<(deadline: Deadline?, cancelled: Bool)>((nil, false))
        var router = Router()
        router.register(TestService.EmptyCall.self) { (_: GRPCTesting.Empty, context) in
            observed.withLock { $0.deadline = context.deadline }
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                observed.withLock { $0.cancelled = true }
                throw error
            }
            return GRPCTesting.Empty()
        }
        try await withServerAndClient(router) { client, _ in
            let start = ContinuousClock.now
            // 2 s, not less: on a loaded CI machine a 200 ms deadline once passed before the
            // server had started the handler (which then, correctly, never ran).
            await expectRPCError(.deadlineExceeded) {
                try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty(), options: .timeout(.seconds(2)))
            }
            // The handler would take a minute: returning long before that means the deadline ended
            // the call (a generous bound, not a timing measurement).
            #expect(ContinuousClock.now - start < .seconds(30))
            for _ in 0..<100 where !observed.withLock({ $0.cancelled }) { try await Task.sleep(for: .milliseconds(50)) }
            let (deadline, cancelled) = observed.withLock { $0 }
            #expect(deadline != nil)
            #expect(cancelled)
        }
    }

    @Test func clientCancellationCancelsHandler() async throws {
        let cancelled = Mutex(false)
        let started = Mutex(false)
        var router = Router()
        router.register(TestService.EmptyCall.self) { (_: GRPCTesting.Empty, _) in
            started.withLock { $0 = true }
            do {
                // Only the client's cancellation ends this call.
                try await Task.sleep(for: .seconds(120))
            } catch {
                cancelled.withLock { $0 = true }
                throw error
            }
            return GRPCTesting.Empty()
        }
        try await withServerAndClient(router) { client, _ in
            let task = Task { try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty()) }
            try await eventually { started.withLock { $0 } }
            task.cancel()
            await expectRPCError(.cancelled) { try await task.value }
            try await eventually { cancelled.withLock { $0 } }
            #expect(cancelled.withLock { $0 })
        }
    }

    @Test func oversizedRequestIsResourceExhausted() async throws {
        try await withServerAndClient(Self.echoRouter()) { client, _ in
            await expectRPCError(.resourceExhausted) {
                try await client.unary(TestService.UnaryCall.self, GRPCTesting.SimpleRequest(payload: payload(10 * 1024 * 1024)))
            }
            // The connection keeps serving.
            let response = try await client.unary(TestService.UnaryCall.self, GRPCTesting.SimpleRequest(responseSize: 3))
            #expect(response.payload?.body.count == 3)
        }
    }

    @Test func gzipBothWays() async throws {
        var router = Router()
        router.register(TestService.UnaryCall.self) { (request: GRPCTesting.SimpleRequest, context) in
            #expect(context.lastRequestWasCompressed)
            context.setResponseCompression(.gzip)
            return GRPCTesting.SimpleResponse(payload: request.payload)
        }
        try await withServerAndClient(router) { client, _ in
            let response = try await client.unary(TestService.UnaryCall.self, GRPCTesting.SimpleRequest(payload: payload(100_000)),
                options: CallOptions(compression: .gzip))
            #expect(response.payload?.body.count == 100_000)
        }
    }

    @Test func interceptorsRunInOrderAndCanReject() async throws {
        final class Log: Sendable {
            let entries = Mutex<[String]>([])
        }
        struct Recorder: ServerInterceptor {
            let name: String
            let log: Log
            func intercept(_ request: ServerRequestHead, context: ServerContext,
                next: @Sendable (ServerRequestHead, ServerContext) async throws -> Void) async throws {
                self.log.entries.withLock { $0.append(self.name) }
                try await next(request, context)
            }
        }
        struct Auth: ServerInterceptor {
            func intercept(_ request: ServerRequestHead, context: ServerContext,
                next: @Sendable (ServerRequestHead, ServerContext) async throws -> Void) async throws {
                guard request.metadata.first("authorization") == "Bearer ok" else {
                    throw RPCError(code: .unauthenticated, message: "missing token")
                }
                try await next(request, context)
            }
        }
        let log = Log()
        try await withServerAndClient(Self.echoRouter(), configure: {
            $0.interceptors = [Recorder(name: "first", log: log), Recorder(name: "second", log: log), Auth()]
        }) { client, _ in
            await expectRPCError(.unauthenticated) {
                try await client.unary(TestService.UnaryCall.self, GRPCTesting.SimpleRequest())
            }
            var metadata = Metadata()
            metadata.add("authorization", "Bearer ok")
            _ = try await client.unary(TestService.UnaryCall.self, GRPCTesting.SimpleRequest(), options: CallOptions(metadata: metadata))
            #expect(log.entries.withLock { $0 } == ["first", "second", "first", "second"])
        }
    }

    @Test func slowReaderBoundsServerBuffering() async throws {
        let written = Mutex(0)
        var router = Router()
        router.register(TestService.StreamingOutputCall.self) { (_: GRPCTesting.StreamingOutputCallRequest, _, writer) in
            for _ in 0..<10_000 {
                try await writer.write(GRPCTesting.StreamingOutputCallResponse(payload: payload(16 * 1024)))
                written.withLock { $0 += 1 }
            }
        }
        var clientConfiguration = ClientConfiguration()
        clientConfiguration.initialStreamWindowSize = 64 * 1024
        try await withServerAndClient(router, clientConfiguration: clientConfiguration) { client, _ in
            let stream = try await client.serverStreaming(TestService.StreamingOutputCall.self, GRPCTesting.StreamingOutputCallRequest())
            var iterator = stream.makeAsyncIterator()
            _ = try await iterator.next()
            try await Task.sleep(for: .milliseconds(500))
            // 10 000 × 16 KiB = 160 MiB if unbounded; flow control stops the writer early.
            let count = written.withLock { $0 }
            #expect(count < 100, "the handler wrote \(count) messages to a client that does not read")
            stream.cancel()
        }
    }

    @Test func retriesUnavailableOnlyWhenSafe() async throws {
        let attempts = Mutex(0)
        var router = Router()
        router.register(TestService.EmptyCall.self) { (_: GRPCTesting.Empty, _) in
            let attempt = attempts.withLock { $0 += 1; return $0 }
            if attempt < 3 { throw RPCError(code: .unavailable, message: "try again") }
            return GRPCTesting.Empty()
        }
        try await withServerAndClient(router) { client, _ in
            await expectRPCError(.unavailable) { try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty()) }
            #expect(attempts.withLock { $0 } == 1)
            attempts.withLock { $0 = 0 }
            _ = try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty(), options: CallOptions(safeToRetry: true))
            #expect(attempts.withLock { $0 } == 3)
        }
    }

    @Test func roundRobinAcrossTargetsAndFailFast() async throws {
        let hits = Mutex<[Int: Int]>([:])
        func router(_ id: Int) -> Router {
            var router = Router()
            router.register(TestService.EmptyCall.self) { (_: GRPCTesting.Empty, _) in
                hits.withLock { $0[id, default: 0] += 1 }
                return GRPCTesting.Empty()
            }
            return router
        }
        let first = RPCServer(router: router(1), configuration: ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1))
        let second = RPCServer(router: router(2), configuration: ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1))
        let port1 = try await first.start().port!
        let port2 = try await second.start().port!
        let client = try RPCClient(targets: ["127.0.0.1:\(port1)", "127.0.0.1:\(port2)"])
        for _ in 0..<20 {
            _ = try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty(), options: CallOptions(waitForReady: true))
        }
        #expect(hits.withLock { $0[1] ?? 0 } > 0)
        #expect(hits.withLock { $0[2] ?? 0 } > 0)
        await client.close()
        await first.shutdown()
        await second.shutdown()

        // Nothing listens: fail fast with UNAVAILABLE.
        let lonely = try RPCClient(targets: ["127.0.0.1:\(port1)"])
        await expectRPCError(.unavailable) { try await lonely.unary(TestService.EmptyCall.self, GRPCTesting.Empty()) }
        await lonely.close()
    }

    @Test func maxConcurrentStreamsIsEnforced() async throws {
        struct Gauge { var current = 0, peak = 0 }
        let gauge = Mutex(Gauge())
        var router = Router()
        router.register(TestService.EmptyCall.self) { (_: GRPCTesting.Empty, _) in
            gauge.withLock { $0.current += 1; $0.peak = max($0.peak, $0.current) }
            try await Task.sleep(for: .milliseconds(50))
            gauge.withLock { $0.current -= 1 }
            return GRPCTesting.Empty()
        }
        try await withServerAndClient(router, configure: { $0.maxConcurrentStreams = 2 }) { client, _ in
            _ = try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty())
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask { _ = try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty()) }
                }
                try await group.waitForAll()
            }
            #expect(gauge.withLock { $0.peak } <= 2)
        }
    }

    @Test func keepaliveAndIdleTimeoutWithTransparentReconnect() async throws {
        try await withServerAndClient(Self.echoRouter(), configure: {
            $0.keepaliveInterval = .milliseconds(50)
            $0.keepaliveTimeout = .milliseconds(500)
            $0.idleTimeout = .milliseconds(300)
        }) { client, _ in
            // Keepalive PINGs are answered: a call spanning several intervals succeeds.
            _ = try await client.unary(TestService.UnaryCall.self, GRPCTesting.SimpleRequest(responseSize: 1))
            // Idle: the server sends GOAWAY and closes; the next call reconnects.
            try await Task.sleep(for: .milliseconds(700))
            let response = try await client.unary(TestService.UnaryCall.self, GRPCTesting.SimpleRequest(responseSize: 2),
                options: CallOptions(waitForReady: true))
            #expect(response.payload?.body.count == 2)
        }
    }

    @Test func gracefulShutdownLetsInFlightCallsFinish() async throws {
        let started = Mutex(false)
        var router = Router()
        router.register(TestService.EmptyCall.self) { (_: GRPCTesting.Empty, _) in
            started.withLock { $0 = true }
            try await Task.sleep(for: .milliseconds(300))
            return GRPCTesting.Empty()
        }
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1)
        configuration.shutdownGracePeriod = .seconds(5)
        let server = RPCServer(router: router, configuration: configuration)
        let port = try await server.start().port!
        let client = try RPCClient(targets: ["127.0.0.1:\(port)"])
        let inFlight = Task { try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty()) }
        try await eventually { started.withLock { $0 } }
        await server.shutdown()
        _ = try await inFlight.value
        await client.close()
    }
}
