import Model
import NIOCore

extension ProtoMessage {
    /// Decodes a message from a received buffer; a malformed one is `internal` (as gRPC does).
    static func decode(from buffer: ByteBuffer) throws(RPCError) -> Self {
        do {
            return try buffer.withUnsafeReadableBytes { (bytes) throws(ProtoDecodingError) -> Self in
                try Self(serializedBytes: bytes)
            }
        } catch {
            throw RPCError(code: .internal, message: "could not parse \(Self.protoMessageName): \(error)", cause: error)
        }
    }

    /// Encodes into a new buffer, leaving room in front for the gRPC message prefix.
    func encode(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        self.withSerializedBytes { bytes in
            var buffer = MessageFramer.bufferWithHeadroom(capacity: bytes.count, allocator: allocator)
            buffer.writeBytes(bytes)
            return buffer
        }
    }
}

/// The request messages of a client- or bidirectional-streaming call, decoded.
///
/// Iteration throws `RPCError`: `cancelled` when the client resets the call,
/// `resourceExhausted` for an oversized message, `internal` for a malformed one.
public struct RequestStream<Message: ProtoMessage>: AsyncSequence, Sendable {
    public typealias Element = Message
    let raw: RawRequestStream

    /// An iterator over decoded messages.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var raw: RawRequestStream.AsyncIterator

        /// The next message, or `nil` when the client has finished sending.
        public mutating func next() async throws -> Message? {
            guard let buffer = try await self.raw.next() else { return nil }
            return try Message.decode(from: buffer)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(raw: self.raw.makeAsyncIterator())
    }
}

/// Sends the response messages of a server- or bidirectional-streaming call. `write`
/// suspends while the client does not read (flow control).
public struct ResponseWriter<Message: ProtoMessage>: Sendable {
    let raw: RawResponseWriter

    /// Sends one message, compressed if the call compresses responses and `compress` is true.
    /// Throws `RPCError(.cancelled)` when the call is over.
    public func write(_ message: Message, compress: Bool = true) async throws {
        try await self.raw.write(message.encode(), compress: compress)
    }
}

extension Router {
    /// Registers a unary handler for `method`.
    public mutating func register<M: RPCMethod>(
        _ method: M.Type, _ handler: @escaping @Sendable (M.Input, ServerContext) async throws -> M.Output
    ) {
        precondition(M.descriptor.kind == .unary, "\(M.descriptor.path) is \(M.descriptor.kind), not unary")
        self.registerRaw(unary: M.descriptor.path) { request, context in
            try await handler(M.Input.decode(from: request), context).encode()
        }
    }

    /// Registers a unary handler for `method` whose response is already encoded (bytes of
    /// `M.Output`, e.g. a stored record behind its field tag): the request is decoded as the
    /// typed unary registration decodes it; the response is sent as it is.
    public mutating func registerEncoded<M: RPCMethod>(
        _ method: M.Type, _ handler: @escaping @Sendable (M.Input, ServerContext) async throws -> ByteBuffer
    ) {
        self.registerEncoded(method, receivingBytes: { request, _, context in try await handler(request, context) })
    }

    /// Registers a unary handler for `method` that also gets the request's bytes as received
    /// (to record the request without encoding it again) and answers with an encoded response,
    /// as ``registerEncoded(_:_:)``.
    public mutating func registerEncoded<M: RPCMethod>(
        _ method: M.Type, receivingBytes handler: @escaping @Sendable (M.Input, ByteBuffer, ServerContext) async throws -> ByteBuffer
    ) {
        precondition(M.descriptor.kind == .unary, "\(M.descriptor.path) is \(M.descriptor.kind), not unary")
        self.registerRaw(unary: M.descriptor.path) { request, context in
            try await handler(M.Input.decode(from: request), request, context)
        }
    }

    /// Registers a server-streaming handler for `method`.
    public mutating func register<M: RPCMethod>(
        _ method: M.Type, _ handler: @escaping @Sendable (M.Input, ServerContext, ResponseWriter<M.Output>) async throws -> Void
    ) {
        precondition(M.descriptor.kind == .serverStreaming, "\(M.descriptor.path) is \(M.descriptor.kind), not server-streaming")
        self.registerRaw(serverStreaming: M.descriptor.path) { request, context, writer in
            try await handler(M.Input.decode(from: request), context, ResponseWriter(raw: writer))
        }
    }

    /// Registers a client-streaming handler for `method`.
    public mutating func register<M: RPCMethod>(
        _ method: M.Type, _ handler: @escaping @Sendable (RequestStream<M.Input>, ServerContext) async throws -> M.Output
    ) {
        precondition(M.descriptor.kind == .clientStreaming, "\(M.descriptor.path) is \(M.descriptor.kind), not client-streaming")
        self.registerRaw(clientStreaming: M.descriptor.path) { requests, context in
            try await handler(RequestStream(raw: requests), context).encode()
        }
    }

    /// Registers a bidirectional-streaming handler for `method`.
    public mutating func register<M: RPCMethod>(
        _ method: M.Type,
        _ handler: @escaping @Sendable (RequestStream<M.Input>, ServerContext, ResponseWriter<M.Output>) async throws -> Void
    ) {
        precondition(M.descriptor.kind == .bidirectionalStreaming, "\(M.descriptor.path) is \(M.descriptor.kind), not bidirectional")
        self.registerRaw(bidirectionalStreaming: M.descriptor.path) { requests, context, writer in
            try await handler(RequestStream(raw: requests), context, ResponseWriter(raw: writer))
        }
    }
}
