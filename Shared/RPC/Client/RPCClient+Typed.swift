import Model
import NIOCore

/// A response with its metadata.
public struct ClientResponse<Message: ProtoMessage>: Sendable {
    /// The response message.
    public var message: Message
    /// The response headers' custom metadata.
    public var initialMetadata: Metadata
    /// The trailers' custom metadata.
    public var trailingMetadata: Metadata
}

/// The response messages of a server- or bidirectional-streaming call, decoded.
///
/// Iteration ends after an OK status and throws the call's `RPCError` otherwise.
/// Cancelling the iterating task cancels the call.
public struct ResponseStream<Message: ProtoMessage>: AsyncSequence, Sendable {
    public typealias Element = Message
    let call: RawStreamingCall

    /// An iterator over decoded responses.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let call: RawStreamingCall

        /// The next response, `nil` after an OK status; throws `RPCError`.
        public mutating func next() async throws -> Message? {
            guard let buffer = try await self.call.receive() else { return nil }
            return try Message.decode(from: buffer)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(call: self.call)
    }

    /// The response's initial metadata.
    public func initialMetadata() async throws(RPCError) -> Metadata {
        try await self.call.initialMetadata()
    }

    /// The trailing metadata, once the stream has ended.
    public func trailingMetadata() async -> Metadata {
        await self.call.trailingMetadata()
    }

    /// Cancels the call.
    public func cancel() {
        self.call.cancel()
    }
}

/// Sends the request messages of a client- or bidirectional-streaming call.
public struct RequestSender<Message: ProtoMessage>: Sendable {
    let call: RawStreamingCall

    /// Sends one message (compressed when the call's compression is on and `compress` is
    /// true); suspends while the server does not read. Throws `RPCError` if the call ended.
    public func send(_ message: Message, compress: Bool = true) async throws(RPCError) {
        try await self.call.send(message.encode(), compress: compress)
    }

    /// Half-closes: tells the server no more messages follow.
    public func finish() async throws(RPCError) {
        try await self.call.closeSend()
    }
}

extension RPCClient {
    /// Calls a unary method. Throws `RPCError` with the server's status, or `unavailable`,
    /// `deadlineExceeded`, `cancelled` from the transport.
    public func unary<M: RPCMethod>(_ method: M.Type, _ request: M.Input, options: CallOptions = CallOptions()) async throws(RPCError) -> M.Output {
        try await self.unaryWithMetadata(method, request, options: options).message
    }

    /// Calls a unary method and returns the response with its initial and trailing metadata.
    public func unaryWithMetadata<M: RPCMethod>(_ method: M.Type, _ request: M.Input, options: CallOptions = CallOptions()) async throws(RPCError) -> ClientResponse<M.Output> {
        let raw = try await self.unaryRaw(path: M.descriptor.path, request.encode(), options: options)
        return ClientResponse(message: try M.Output.decode(from: raw.message), initialMetadata: raw.initialMetadata, trailingMetadata: raw.trailingMetadata)
    }

    /// Calls a server-streaming method; iterate the returned stream for the responses.
    public func serverStreaming<M: RPCMethod>(_ method: M.Type, _ request: M.Input, options: CallOptions = CallOptions()) async throws(RPCError) -> ResponseStream<M.Output> {
        ResponseStream(call: try await self.serverStreamingRaw(path: M.descriptor.path, request.encode(), options: options))
    }

    /// Calls a client-streaming method: `requests` sends the messages (the request side is
    /// closed when it returns), then the single response is returned.
    public func clientStreaming<M: RPCMethod>(
        _ method: M.Type, options: CallOptions = CallOptions(),
        requests: (RequestSender<M.Input>) async throws -> Void
    ) async throws(RPCError) -> ClientResponse<M.Output> {
        let call = try await self.streamRaw(path: M.descriptor.path, options: options)
        do {
            try await requests(RequestSender(call: call))
            try await call.closeSend()
            let initial = try await call.initialMetadata()
            guard let message = try await call.receive() else {
                throw RPCError(code: .internal, message: "the server sent no response message")
            }
            guard try await call.receive() == nil else {
                throw RPCError(code: .internal, message: "the server sent more than one response message")
            }
            return ClientResponse(message: try M.Output.decode(from: message), initialMetadata: initial, trailingMetadata: await call.trailingMetadata())
        } catch {
            call.cancel()
            throw Self.rpcError(error)
        }
    }

    /// Calls a bidirectional-streaming method: `body` sends with the sender and reads the
    /// responses, in any interleaving. The request side is closed when `body` returns;
    /// if `body` throws, the call is cancelled.
    public func bidirectionalStreaming<M: RPCMethod, R: Sendable>(
        _ method: M.Type, options: CallOptions = CallOptions(),
        body: (RequestSender<M.Input>, ResponseStream<M.Output>) async throws -> R
    ) async throws -> R {
        let call = try await self.streamRaw(path: M.descriptor.path, options: options)
        do {
            let result = try await body(RequestSender(call: call), ResponseStream(call: call))
            try? await call.closeSend()
            return result
        } catch {
            call.cancel()
            throw error
        }
    }
}
