import Logging
import Model
import NIOCore
import NIOEmbedded
import Testing

@testable import RPC

/// A client `HTTP2Session` wired back to back, in memory, with a server connection on an
/// `EmbeddedChannel`: the server's stream state machine, deterministic and without sockets.
final class BackToBack {
    let channel = EmbeddedChannel()
    let client: HTTP2Session
    var events: [HTTP2Event] = []

    init(router: Router, configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1)
        configuration.keepaliveInterval = nil
        configure(&configuration)
        let handler = ServerConnectionHandler(configuration: configuration, router: router,
            logger: Logger(label: "test"), registry: ConnectionRegistry())
        try self.channel.pipeline.syncOperations.addHandler(handler)
        try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        self.client = try HTTP2Session(role: .client, settings: HTTP2SessionSettings(), allocator: ByteBufferAllocator())
    }

    /// Moves bytes both ways until neither side has anything to say.
    func exchange() throws {
        for _ in 0..<50 {
            var out = ByteBuffer()
            self.client.send(into: &out)
            var moved = out.readableBytes > 0
            if moved { try self.channel.writeInbound(out) }
            self.channel.embeddedEventLoop.run()
            while let reply = try self.channel.readOutbound(as: ByteBuffer.self) {
                moved = true
                try self.client.receive(reply)
                self.client.drainEvents { self.events.append($0) }
            }
            if !moved { return }
        }
    }

    /// Response headers, messages and trailers of a stream, as the client saw them.
    func response(streamID: Int32) -> (headers: HeaderFields, messages: [[UInt8]], trailers: HeaderFields?) {
        var blocks: [HeaderFields] = []
        var deframer = MessageDeframer(maxMessageSize: 1 << 24)
        var messages: [[UInt8]] = []
        for event in self.events {
            switch event {
            case .headers(let id, let fields, _) where id == streamID:
                blocks.append(fields)
            case .data(let id, let bytes) where id == streamID:
                deframer.append(bytes)
                while let message = try? deframer.next() { messages.append(Array(message.payload.readableBytesView)) }
            default:
                break
            }
        }
        return (blocks.first ?? [], messages, blocks.count > 1 ? blocks.last : (blocks.first.map { $0 }))
    }
}

let requestHeaders: HeaderFields = [
    (":method", "POST"), (":scheme", "http"), (":path", "/grpc.testing.TestService/UnaryCall"),
    (":authority", "test"), ("content-type", "application/grpc"), ("te", "trailers"),
]

func value(_ name: String, in fields: HeaderFields?) -> String? {
    fields?.first { $0.name == name }?.value
}

@Suite("Server state machine, in memory")
struct InMemorySessionTests {
    static func echoRouter() -> Router {
        var router = Router()
        router.registerRaw(unary: "/grpc.testing.TestService/UnaryCall") { request, _ in request }
        router.registerRaw(unary: "/grpc.testing.TestService/EmptyCall") { _, _ in
            try await Task.sleep(for: .seconds(60))
            return ByteBuffer()
        }
        return router
    }

    @Test func unaryMessageSplitAcrossManyDataFrames() throws {
        let pair = try BackToBack(router: Self.echoRouter())
        let payload = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        var framed = ByteBuffer()
        MessageFramer.frame(ByteBuffer(bytes: payload), compressed: false, into: &framed)
        let streamID = try #require(pair.client.submitRequest(headers: OutboundHeaders(preset: nil, extra: requestHeaders)))
        // 7-byte DATA frames: the prefix and the payload cut at arbitrary points.
        while framed.readableBytes > 0 {
            pair.client.queueData(streamID: streamID, framed.readSlice(length: min(7, framed.readableBytes))!)
            try pair.exchange()
        }
        pair.client.queueEndStream(streamID: streamID)
        try pair.exchange()
        let response = pair.response(streamID: streamID)
        #expect(value(":status", in: response.headers) == "200")
        #expect(value("content-type", in: response.headers) == "application/grpc")
        #expect(response.messages == [payload])
        #expect(value("grpc-status", in: response.trailers) == "0")
    }

    @Test func unknownMethodIsTrailersOnlyUnimplemented() throws {
        let pair = try BackToBack(router: Self.echoRouter())
        var headers = requestHeaders
        headers[2] = (":path", "/no.Such/Method")
        let streamID = try #require(pair.client.submitRequest(headers: OutboundHeaders(preset: nil, extra: headers)))
        pair.client.queueEndStream(streamID: streamID)
        try pair.exchange()
        let response = pair.response(streamID: streamID)
        #expect(value(":status", in: response.headers) == "200")
        #expect(value("grpc-status", in: response.headers) == "12")
        #expect(response.messages.isEmpty)
    }

    @Test func nonGRPCContentTypeIs415() throws {
        let pair = try BackToBack(router: Self.echoRouter())
        var headers = requestHeaders
        headers[4] = ("content-type", "application/json")
        let streamID = try #require(pair.client.submitRequest(headers: OutboundHeaders(preset: nil, extra: headers)))
        pair.client.queueEndStream(streamID: streamID)
        try pair.exchange()
        #expect(value(":status", in: pair.response(streamID: streamID).headers) == "415")
    }

    @Test func deadlinePassesWithVirtualTime() throws {
        let pair = try BackToBack(router: Self.echoRouter())
        var headers = requestHeaders
        headers[2] = (":path", "/grpc.testing.TestService/EmptyCall")
        headers.append(("grpc-timeout", "100m"))
        let streamID = try #require(pair.client.submitRequest(headers: OutboundHeaders(preset: nil, extra: headers)))
        var framed = ByteBuffer()
        MessageFramer.frame(ByteBuffer(), compressed: false, into: &framed)
        pair.client.queueData(streamID: streamID, framed)
        pair.client.queueEndStream(streamID: streamID)
        try pair.exchange()
        #expect(value("grpc-status", in: pair.response(streamID: streamID).headers) == nil)
        pair.channel.embeddedEventLoop.advanceTime(by: .milliseconds(150))
        try pair.exchange()
        let response = pair.response(streamID: streamID)
        #expect(value("grpc-status", in: response.trailers) == "4")
        #expect(value("grpc-message", in: response.trailers) == "deadline exceeded")
    }

    @Test func oversizedMessageIsResourceExhaustedFromItsPrefix() throws {
        let pair = try BackToBack(router: Self.echoRouter()) { $0.maxReceiveMessageSize = 1024 }
        let streamID = try #require(pair.client.submitRequest(headers: OutboundHeaders(preset: nil, extra: requestHeaders)))
        var prefix = ByteBuffer()
        prefix.writeInteger(UInt8(0))
        prefix.writeInteger(UInt32(10 * 1024 * 1024))
        pair.client.queueData(streamID: streamID, prefix)
        try pair.exchange()
        let response = pair.response(streamID: streamID)
        #expect(value("grpc-status", in: response.trailers) == "8")
    }
}
