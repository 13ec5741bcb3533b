import NIOCore

/// One client call on one HTTP/2 stream. State is touched only on the connection's loop.
final class ClientStream: @unchecked Sendable {
    let loop: any EventLoop
    // Strong, not weak: a weak reference would give the handler a side table and make every
    // retain of it slow. The handler drops its streams when they close, which ends the cycle.
    private let connection: ClientConnectionHandler?
    private(set) var streamID: Int32 = 0
    private var deframer: MessageDeframer
    private let requestCompression: CompressionAlgorithm

    // Response state.
    private var headers: ClientResponseHead.Headers?
    // Unsafe continuations: each is resumed exactly once, on the loop, by the code that takes
    // it out of its property (a checked one costs an allocation per wait).
    private var headersWaiter: UnsafeContinuation<Metadata, any Error>?
    // Made on first use: a unary call keeps its one message in `unaryMessage` instead.
    private lazy var inbound = CircularBuffer<ByteBuffer>(initialCapacity: 2)
    private var unaryMessage: ByteBuffer?
    private var unconsumedBytes = 0
    private var reader: UnsafeContinuation<ByteBuffer?, any Error>?
    private var unaryWaiter: UnsafeContinuation<RawResponse, any Error>?
    private(set) var final: (status: Status, trailers: Metadata)?
    private var writer: CheckedContinuation<Void, any Error>?
    private(set) var receivedMessage = false
    /// When the call is abandoned, in the loop's time; the connection watches it.
    private(set) var deadline: NIODeadline?
    /// A unary call: one response message is expected, and a second one fails the call.
    private let unary: Bool

    init(connection: ClientConnectionHandler, maxMessageSize: Int, requestCompression: CompressionAlgorithm, unary: Bool = false) {
        self.connection = connection
        self.loop = connection.loop
        self.deframer = MessageDeframer(maxMessageSize: maxMessageSize)
        self.requestCompression = requestCompression
        self.unary = unary
    }

    // MARK: Caller side (any thread)

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable (ClientStream) throws -> T) async throws -> T {
        if self.loop.inEventLoop { return try body(self) }
        return try await self.loop.submit { try body(self) }.get()
    }

    /// Opens the stream with its headers; optionally sends one message and half-closes.
    func open(path: String, headers: RequestHeaders, deadline: Deadline?, singleMessage: ByteBuffer?) async throws {
        try await self.onLoop { stream in
            try stream.openOnLoop(path: path, headers: headers, timeout: deadline?.remaining, singleMessage: singleMessage)
        }
    }

    /// `open` for a caller already on the loop: no hop, no suspension. `timeout` is what is
    /// left of the call's deadline.
    func openOnLoop(path: String, headers: RequestHeaders, timeout: Duration?, singleMessage: ByteBuffer?) throws {
        self.loop.preconditionInEventLoop()
        // Framed first: a request that cannot be compressed fails before a stream is opened.
        let framed = try singleMessage.map { try self.frame($0, compress: true) }
        guard let connection = self.connection, let session = connection.session, connection.isUsable,
            let streamID = session.submitRequest(headers: connection.requestHeaders(path: path, headers))
        else {
            throw StreamNotStarted()
        }
        self.streamID = streamID
        connection.register(self)
        if let timeout {
            let instant = DeadlineTimer.deadline(after: timeout, on: self.loop)
            self.deadline = instant
            connection.watch(deadline: instant)
        }
        if let framed {
            session.queueData(streamID: streamID, framed)
            session.queueEndStream(streamID: streamID)
        }
        connection.scheduleFlush()
    }

    private func frame(_ message: ByteBuffer, compress: Bool) throws -> ByteBuffer {
        guard let connection = self.connection else { throw StreamNotStarted() }
        if compress && self.requestCompression == .gzip {
            var out = connection.allocator.buffer(capacity: 5 + message.readableBytes)
            do {
                MessageFramer.frame(try Gzip.compress(message), compressed: true, into: &out)
            } catch {
                throw RPCError(code: .internal, message: "could not compress the request")
            }
            return out
        }
        return connection.framed(message)
    }

    /// Sends one message; suspends while the server does not read.
    func send(_ message: ByteBuffer, compress: Bool) async throws {
        let mustWait = try await self.onLoop { stream -> Bool in
            if let final = stream.final {
                throw RPCError(code: final.status.code == .ok ? .internal : final.status.code,
                    message: "the call has ended: \(final.status)")
            }
            guard let connection = stream.connection, let session = connection.session else {
                throw RPCError(code: .unavailable, message: "the connection closed")
            }
            session.queueData(streamID: stream.streamID, try stream.frame(message, compress: compress))
            connection.scheduleFlush()
            return session.pendingOutboundBytes(streamID: stream.streamID) >= 2 * session.settings.outboundLowWatermark
        }
        guard mustWait else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.loop.execute {
                if self.final != nil {
                    continuation.resume()
                } else if let session = self.connection?.session,
                    session.pendingOutboundBytes(streamID: self.streamID) < session.settings.outboundLowWatermark
                {
                    // Drained while this task was hopping here.
                    continuation.resume()
                } else {
                    self.writer = continuation
                }
            }
        }
    }

    /// Half-closes: no more request messages.
    func closeSend() async throws {
        try await self.onLoop { stream in
            guard stream.final == nil, let connection = stream.connection, let session = connection.session else { return }
            session.queueEndStream(streamID: stream.streamID)
            connection.scheduleFlush()
        }
    }

    /// The response's initial metadata (waits for the headers).
    func initialMetadata() async throws -> Metadata {
        try await withUnsafeThrowingContinuation { continuation in
            self.runOnLoop {
                if let headers = self.headers {
                    continuation.resume(returning: headers.metadata)
                } else if let final = self.final {
                    if final.status.code == .ok {
                        continuation.resume(returning: Metadata())
                    } else {
                        continuation.resume(throwing: RPCError(code: final.status.code, message: final.status.message, metadata: final.trailers))
                    }
                } else {
                    self.headersWaiter = continuation
                }
            }
        }
    }

    /// The next response message; `nil` after an OK status; throws the `RPCError` otherwise.
    func next() async throws -> ByteBuffer? {
        try await withUnsafeThrowingContinuation { continuation in
            self.runOnLoop {
                switch self.poll() {
                case .some(.success(let message)):
                    continuation.resume(returning: message)
                case .some(.failure(let error)):
                    continuation.resume(throwing: error)
                case .none:
                    self.reader = continuation
                }
            }
        }
    }

    /// A unary call's outcome: the one response message with both metadata, once the call has
    /// ended; throws the call's `RPCError`. One wait per call instead of one per step.
    nonisolated(nonsending) func unaryResponse() async throws -> RawResponse {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                self.runOnLoop {
                    if let result = self.unaryResult() {
                        continuation.resume(with: result)
                    } else {
                        self.unaryWaiter = continuation
                    }
                }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// Runs `body` on the loop: at once when already there, else as a loop task.
    private func runOnLoop(_ body: @escaping @Sendable () -> Void) {
        if self.loop.inEventLoop {
            body()
        } else {
            self.loop.execute(body)
        }
    }

    /// Cancels the call: RST_STREAM(CANCEL) and `CANCELLED` for the caller.
    func cancel() {
        self.loop.execute {
            self.fail(RPCError(code: .cancelled, message: "the call was cancelled"), reset: true)
        }
    }

    // MARK: Loop side

    private func unaryResult() -> Result<RawResponse, any Error>? {
        guard let final = self.final else { return nil }
        guard final.status.code == .ok else {
            return .failure(RPCError(code: final.status.code, message: final.status.message, metadata: final.trailers))
        }
        guard let message = self.unaryMessage else {
            return .failure(RPCError(code: .internal, message: "the server sent no response message"))
        }
        return .success(RawResponse(message: message, initialMetadata: self.headers?.metadata ?? Metadata(), trailingMetadata: final.trailers))
    }

    private func poll() -> Result<ByteBuffer?, RPCError>? {
        if !self.inbound.isEmpty {
            let message = self.inbound.removeFirst()
            if self.inbound.isEmpty {
                self.consumeAll()
                self.connection?.scheduleFlush()
            }
            return .success(message)
        }
        if let final = self.final {
            if final.status.code == .ok { return .success(nil) }
            return .failure(RPCError(code: final.status.code, message: final.status.message, metadata: final.trailers))
        }
        return nil
    }

    private func consumeAll() {
        if self.unconsumedBytes > 0, self.streamID > 0 {
            self.connection?.session?.consume(streamID: self.streamID, bytes: self.unconsumedBytes)
        }
        self.unconsumedBytes = 0
    }

    func receiveHeaders(_ fields: HeaderFields, endStream: Bool) {
        guard self.final == nil else { return }
        if self.headers == nil {
            switch ClientResponseHead.parseHeaders(fields, endStream: endStream) {
            case .success(let headers):
                self.headers = headers
                if let waiter = self.headersWaiter {
                    self.headersWaiter = nil
                    waiter.resume(returning: headers.metadata)
                }
                if let status = headers.status {
                    self.complete(status: status, trailers: headers.metadata)
                }
            case .failure(let error):
                self.fail(error, reset: !endStream)
            }
        } else {
            let (status, trailers) = ClientResponseHead.parseTrailers(fields)
            if status.code == .ok && self.deframer.hasPartialMessage {
                self.complete(status: Status(code: .internal, message: "the response ended inside a message"), trailers: trailers)
            } else {
                self.complete(status: status, trailers: trailers)
            }
        }
    }

    func receiveData(_ bytes: ByteBuffer) {
        guard self.final == nil, let headers = self.headers else {
            self.connection?.session?.consume(streamID: self.streamID, bytes: bytes.readableBytes)
            return
        }
        self.unconsumedBytes += bytes.readableBytes
        self.deframer.append(bytes)
        do {
            while let message = try self.deframer.next() {
                var payload = message.payload
                if message.compressed {
                    guard headers.encoding == .gzip else {
                        throw RPCError(code: .internal, message: "compressed response without grpc-encoding")
                    }
                    do {
                        payload = try Gzip.decompress(payload, limit: self.deframer.maxMessageSize)
                    } catch .tooLarge(let limit) {
                        throw RPCError(code: .resourceExhausted, message: "decompressed response is larger than the limit of \(limit) bytes")
                    } catch {
                        throw RPCError(code: .internal, message: "could not decompress the response")
                    }
                }
                if self.unary && self.receivedMessage {
                    throw RPCError(code: .internal, message: "the server sent more than one response message")
                }
                self.receivedMessage = true
                if self.unary {
                    self.unaryMessage = payload
                } else if let reader = self.reader {
                    self.reader = nil
                    reader.resume(returning: payload)
                } else {
                    self.inbound.append(payload)
                }
            }
        } catch let error as DeframingError {
            self.fail(error.rpcError, reset: true)
        } catch let error as RPCError {
            self.fail(error, reset: true)
        } catch {
            self.fail(RPCError(code: .internal, message: "could not read the response"), reset: true)
        }
        // A unary call holds at most one message, so its bytes are credited back at once.
        if self.unary || self.inbound.isEmpty { self.consumeAll() }
    }

    func receiveEndWithoutTrailers() {
        guard self.final == nil else { return }
        self.complete(status: Status(code: .internal, message: "the server ended the stream without trailers"), trailers: Metadata())
    }

    func closed(errorCode: UInt32) {
        guard self.final == nil else {
            self.connection?.unregister(self)
            return
        }
        let status: Status
        switch errorCode {
        case HTTP2Session.refusedStream:
            status = Status(code: .unavailable, message: "the server refused the stream")
        case HTTP2Session.cancel:
            status = Status(code: .cancelled, message: "the server cancelled the stream")
        case HTTP2Session.noError:
            status = Status(code: .internal, message: "the stream closed without a status")
        default:
            status = Status(code: .internal, message: "the server reset the stream (HTTP/2 error \(errorCode))")
        }
        self.complete(status: status, trailers: Metadata())
        self.connection?.unregister(self)
    }

    func connectionClosed() {
        self.complete(status: Status(code: .unavailable, message: "the connection closed"), trailers: Metadata())
    }

    func fail(_ error: RPCError, reset: Bool) {
        guard self.final == nil else { return }
        if reset, self.streamID > 0, let connection = self.connection {
            connection.session?.resetStream(streamID: self.streamID, errorCode: HTTP2Session.cancel)
            connection.scheduleFlush()
        }
        self.complete(status: error.status, trailers: error.metadata)
    }

    private func complete(status: Status, trailers: Metadata) {
        guard self.final == nil else { return }
        self.final = (status, trailers)
        self.deadline = nil
        if let waiter = self.unaryWaiter, let result = self.unaryResult() {
            self.unaryWaiter = nil
            waiter.resume(with: result)
        }
        if let waiter = self.headersWaiter {
            self.headersWaiter = nil
            if status.code == .ok {
                waiter.resume(returning: Metadata())
            } else {
                waiter.resume(throwing: RPCError(code: status.code, message: status.message, metadata: trailers))
            }
        }
        if let reader = self.reader, let result = self.poll() {
            self.reader = nil
            reader.resume(with: result.mapError { $0 as any Error })
        }
        if let writer = self.writer {
            self.writer = nil
            writer.resume()
        }
    }

    func outboundWritable() {
        if let writer = self.writer {
            self.writer = nil
            writer.resume()
        }
    }

    /// Trailing metadata, once the call has ended.
    func trailingMetadata() async throws -> Metadata {
        try await self.onLoop { $0.final?.trailers ?? Metadata() }
    }
}

/// The connection picked for a call closed (idle timeout, GOAWAY) before the call's headers
/// went out: nothing reached the server, so the client may pick a connection again.
struct StreamNotStarted: Error {}
