import NIOCore

/// One client call on one HTTP/2 stream. State is touched only on the connection's loop.
final class ClientStream: @unchecked Sendable {
    let loop: any EventLoop
    private weak var connection: ClientConnectionHandler?
    private(set) var streamID: Int32 = 0
    private var deframer: MessageDeframer
    private let requestCompression: CompressionAlgorithm

    // Response state.
    private var headers: ClientResponseHead.Headers?
    private var headersWaiter: CheckedContinuation<Metadata, any Error>?
    private var inbound = CircularBuffer<ByteBuffer>(initialCapacity: 2)
    private var unconsumedBytes = 0
    private var reader: CheckedContinuation<ByteBuffer?, any Error>?
    private(set) var final: (status: Status, trailers: Metadata)?
    private var writer: CheckedContinuation<Void, any Error>?
    private(set) var receivedMessage = false
    private var deadlineTimer: Scheduled<Void>?

    init(connection: ClientConnectionHandler, maxMessageSize: Int, requestCompression: CompressionAlgorithm) {
        self.connection = connection
        self.loop = connection.loop
        self.deframer = MessageDeframer(maxMessageSize: maxMessageSize)
        self.requestCompression = requestCompression
    }

    // MARK: Caller side (any thread)

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable (ClientStream) throws -> T) async throws -> T {
        if self.loop.inEventLoop { return try body(self) }
        return try await self.loop.submit { try body(self) }.get()
    }

    /// Opens the stream with its headers; optionally sends one message and half-closes.
    func open(headers: HeaderFields, deadline: Deadline?, singleMessage: ByteBuffer?) async throws {
        try await self.onLoop { stream in
            guard let connection = stream.connection, let session = connection.session, connection.isUsable,
                let streamID = session.submitRequest(headers: OutboundHeaders(preset: nil, extra: headers))
            else {
                throw StreamNotStarted()
            }
            stream.streamID = streamID
            connection.register(stream)
            if let deadline {
                stream.deadlineTimer = stream.loop.scheduleTask(in: .nanoseconds(max(0, Int64(deadline.remaining.components.seconds) * 1_000_000_000 + deadline.remaining.components.attoseconds / 1_000_000_000))) {
                    stream.fail(RPCError(code: .deadlineExceeded, message: "deadline exceeded"), reset: true)
                }
            }
            if let message = singleMessage {
                session.queueData(streamID: streamID, try stream.frame(message, compress: true))
                session.queueEndStream(streamID: streamID)
            }
            connection.scheduleFlush()
        }
    }

    private func frame(_ message: ByteBuffer, compress: Bool) throws -> ByteBuffer {
        var out = ByteBuffer()
        if compress && self.requestCompression == .gzip {
            do {
                MessageFramer.frame(try Gzip.compress(message), compressed: true, into: &out)
            } catch {
                throw RPCError(code: .internal, message: "could not compress the request")
            }
        } else {
            MessageFramer.frame(message, compressed: false, into: &out)
        }
        return out
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
        try await withCheckedThrowingContinuation { continuation in
            self.loop.execute {
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
        try await withCheckedThrowingContinuation { continuation in
            self.loop.execute {
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

    /// Cancels the call: RST_STREAM(CANCEL) and `CANCELLED` for the caller.
    func cancel() {
        self.loop.execute {
            self.fail(RPCError(code: .cancelled, message: "the call was cancelled"), reset: true)
        }
    }

    // MARK: Loop side

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
                self.receivedMessage = true
                if let reader = self.reader {
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
        if self.inbound.isEmpty { self.consumeAll() }
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
        self.deadlineTimer?.cancel()
        self.deadlineTimer = nil
        let error = RPCError(code: status.code, message: status.message, metadata: trailers)
        if let waiter = self.headersWaiter {
            self.headersWaiter = nil
            if status.code == .ok { waiter.resume(returning: Metadata()) } else { waiter.resume(throwing: error) }
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
