import Model
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import RPC

/// A raw TCP connection: writes bytes as given and records what comes back.
final class RawConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let received = NIOLockedValueBox<[UInt8]>([])
    let closed = NIOLockedValueBox(false)
    var channel: (any Channel)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.received.withLockedValue { $0.append(contentsOf: buffer.readableBytesView) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed.withLockedValue { $0 = true }
    }

    static func connect(port: Int, group: any EventLoopGroup) async throws -> RawConnection {
        let handler = RawConnection()
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        handler.channel = channel
        return handler
    }

    func write(_ bytes: [UInt8]) async throws {
        try await self.channel!.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Waits until the server closes the connection (or `timeout`); returns whether it did.
    func waitForClose(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if self.closed.withLockedValue({ $0 }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// Frames received, as (type, flags, streamID, payload).
    var frames: [(type: UInt8, flags: UInt8, streamID: UInt32, payload: [UInt8])] {
        let bytes = self.received.withLockedValue { $0 }
        var frames: [(UInt8, UInt8, UInt32, [UInt8])] = []
        var index = 0
        while index + 9 <= bytes.count {
            let length = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
            guard index + 9 + length <= bytes.count else { break }
            let streamID = UInt32(bytes[index + 5]) << 24 | UInt32(bytes[index + 6]) << 16 | UInt32(bytes[index + 7]) << 8 | UInt32(bytes[index + 8])
            frames.append((bytes[index + 3], bytes[index + 4], streamID & 0x7FFF_FFFF, Array(bytes[(index + 9)..<(index + 9 + length)])))
            index += 9 + length
        }
        return frames
    }

    /// The error code of the first GOAWAY received, if any.
    var goAwayErrorCode: UInt32? {
        guard let frame = self.frames.first(where: { $0.type == 7 }), frame.payload.count >= 8 else { return nil }
        let p = frame.payload
        return UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7])
    }
}

/// Frames a client session (our own `HTTP2Session` in client mode) produces, for raw tests.
func clientFrames(_ build: (HTTP2Session) -> Void) throws -> [UInt8] {
    let session = try HTTP2Session(role: .client, settings: HTTP2SessionSettings(), allocator: ByteBufferAllocator())
    build(session)
    var out = ByteBuffer()
    session.send(into: &out)
    return Array(out.readableBytesView)
}

let grpcRequestHeaders: HeaderFields = [
    (":method", "POST"), (":scheme", "http"), (":path", "/grpc.testing.TestService/EmptyCall"),
    (":authority", "localhost"), ("content-type", "application/grpc"), ("te", "trailers"),
]

@Suite("Hostile clients")
struct AbuseTests {
    static func router() -> Router {
        var router = Router()
        router.register(GRPCTesting.TestService.EmptyCall.self) { (_: GRPCTesting.Empty, _) in GRPCTesting.Empty() }
        return router
    }

    /// Runs `body` against a fresh server, then checks that a normal client is still served.
    func withServer(_ body: (Int, any EventLoopGroup) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try await withServerAndClient(Self.router()) { client, port in
            try await body(port, group)
            _ = try await client.unary(GRPCTesting.TestService.EmptyCall.self, GRPCTesting.Empty())
        }
        try await group.shutdownGracefully()
    }

    @Test func garbageIsClosed() async throws {
        try await self.withServer { port, group in
            let raw = try await RawConnection.connect(port: port, group: group)
            try await raw.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
            #expect(await raw.waitForClose(timeout: .seconds(3)))
        }
    }

    @Test func badPrefaceIsClosed() async throws {
        try await self.withServer { port, group in
            let raw = try await RawConnection.connect(port: port, group: group)
            try await raw.write(Array("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".utf8))
            #expect(await raw.waitForClose(timeout: .seconds(3)))
        }
    }

    @Test func garbageFramesAfterPrefaceGetGoAway() async throws {
        try await self.withServer { port, group in
            let raw = try await RawConnection.connect(port: port, group: group)
            let preface = try clientFrames { _ in }
            // A DATA frame on stream 0 is a connection error (PROTOCOL_ERROR).
            try await raw.write(preface + [0, 0, 4, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
            #expect(await raw.waitForClose(timeout: .seconds(3)))
            #expect(raw.goAwayErrorCode == 1)
        }
    }

    @Test func headerFloodIsRefused() async throws {
        try await self.withServer { port, group in
            let raw = try await RawConnection.connect(port: port, group: group)
            var headers = grpcRequestHeaders
            for index in 0..<60 {
                headers.append(("x-flood-\(index)", String(repeating: "a", count: 900)))
            }
            let bytes = try clientFrames { session in
                _ = session.submitRequest(headers: OutboundHeaders(preset: nil, extra: headers))
            }
            try await raw.write(bytes)
            try await Task.sleep(for: .milliseconds(300))
            let frames = raw.frames
            // Trailers-Only RESOURCE_EXHAUSTED (HEADERS with END_STREAM), a reset, or GOAWAY.
            let refused = frames.contains { ($0.type == 1 && $0.flags & 1 != 0 && $0.streamID == 1) || $0.type == 3 || $0.type == 7 }
            #expect(refused, "frames: \(frames.map { ($0.type, $0.flags, $0.streamID) })")
        }
    }

    @Test func rapidResetGetsGoAway() async throws {
        try await self.withServer { port, group in
            let raw = try await RawConnection.connect(port: port, group: group)
            // HEADERS then RST_STREAM, 5000 times: each stream is opened and cancelled at once.
            let session = try HTTP2Session(role: .client, settings: HTTP2SessionSettings(), allocator: ByteBufferAllocator())
            var out = ByteBuffer()
            for _ in 0..<5000 {
                if let streamID = session.submitRequest(headers: OutboundHeaders(preset: nil, extra: grpcRequestHeaders)) {
                    session.send(into: &out)
                    session.resetStream(streamID: streamID, errorCode: HTTP2Session.cancel)
                    session.send(into: &out)
                }
            }
            let bytes = Array(out.readableBytesView)
            try? await raw.write(bytes)
            #expect(await raw.waitForClose(timeout: .seconds(5)))
            #expect(raw.frames.contains { $0.type == 7 }, "expected GOAWAY")
        }
    }
}
