import NIOCore

/// One server call (one HTTP/2 stream): collects request messages, runs the handler, writes
/// the response. Its state is touched only on the connection's event loop; handlers running
/// elsewhere hop onto it.
final class ServerCall: ResponseOptionsBox, @unchecked Sendable {
    let streamID: Int32
    let loop: any EventLoop
    let head: RequestHead
    let handler: RawHandler
    var options: ResponseOptionsBox { self }
    private var connection: ServerConnectionHandler?
    private var deframer: MessageDeframer

    // Inbound.
    private var singleRequest: ByteBuffer?
    private var singleRequestCount = 0
    private var inbound = CircularBuffer<ByteBuffer>(initialCapacity: 4)
    private var inboundEnded = false
    private var inboundError: RPCError?
    private var unconsumedBytes = 0
    private var reader: CheckedContinuation<ByteBuffer?, any Error>?

    // Outbound.
    private var headersSent = false
    private(set) var finished = false
    private var streamClosed = false
    private var writer: CheckedContinuation<Void, any Error>?
    private var responseCompression = CompressionAlgorithm.identity

    private var task: Task<Void, Never>?
    /// When the call is abandoned, in the loop's time; the connection watches it.
    private(set) var deadlineInstant: NIODeadline?
    private var resetOnFurtherData = false
    let deadline: Deadline?

    init(streamID: Int32, head: RequestHead, handler: RawHandler, connection: ServerConnectionHandler, loop: any EventLoop, maxMessageSize: Int) {
        self.streamID = streamID
        self.head = head
        self.handler = handler
        self.connection = connection
        self.loop = loop
        self.deframer = MessageDeframer(maxMessageSize: maxMessageSize)
        if let timeout = head.timeout {
            self.deadline = Deadline.after(timeout)
        } else {
            self.deadline = nil
        }
        super.init()
    }

    var context: ServerContext {
        ServerContext(path: self.head.path, metadata: self.head.metadata, deadline: self.deadline,
            peer: self.connection?.peer ?? "", response: self.options)
    }

    // MARK: Lifecycle (on the loop)

    /// Called once the call is registered: arms the deadline, starts streaming handlers.
    func start() {
        if let timeout = self.head.timeout, let connection = self.connection {
            let instant = DeadlineTimer.deadline(after: timeout, on: self.loop)
            self.deadlineInstant = instant
            connection.watch(deadline: instant)
        }
        if !self.handler.hasSingleRequest {
            self.launch()
        }
    }

    private func launch() {
        guard let connection = self.connection else { return }
        let executor = connection.executor
        let interceptors = connection.interceptors
        let body: @Sendable () async -> Void = { [self] in
            do {
                if interceptors.isEmpty {
                    try await self.invokeHandler(context: self.context)
                } else {
                    let request = ServerRequestHead(path: self.head.path, metadata: self.head.metadata)
                    try await Self.intercept(interceptors[...], request: request, context: self.context) { _, context in
                        try await self.invokeHandler(context: context)
                    }
                }
            } catch {
                self.fail(error)
            }
        }
        self.task = Task.immediate(executorPreference: executor, operation: body)
    }

    private static func intercept(
        _ interceptors: ArraySlice<any ServerInterceptor>, request: ServerRequestHead, context: ServerContext,
        final: @escaping @Sendable (ServerRequestHead, ServerContext) async throws -> Void
    ) async throws {
        guard let first = interceptors.first else {
            try await final(request, context)
            return
        }
        let rest = interceptors.dropFirst()
        try await first.intercept(request, context: context) { request, context in
            try await Self.intercept(rest, request: request, context: context, final: final)
        }
    }

    private func invokeHandler(context: ServerContext) async throws {
        switch self.handler {
        case .unary(let handler):
            let response = try await handler(self.takeSingleRequest(), context)
            if self.loop.inEventLoop {
                self.finishWithMessage(response)
            } else {
                self.onLoop { $0.finishWithMessage(response) }
            }
        case .serverStreaming(let handler):
            try await handler(self.takeSingleRequest(), context, RawResponseWriter(call: self))
            self.onLoop { $0.finish(status: .ok) }
        case .clientStreaming(let handler):
            let response = try await handler(RawRequestStream(call: self), context)
            self.onLoop { $0.finishWithMessage(response) }
        case .bidirectionalStreaming(let handler):
            try await handler(RawRequestStream(call: self), context, RawResponseWriter(call: self))
            self.onLoop { $0.finish(status: .ok) }
        }
    }

    private func takeSingleRequest() -> ByteBuffer {
        // Set before launch, on the loop; the task starts after.
        self.singleRequest ?? ByteBuffer()
    }

    private func onLoop(_ body: @escaping @Sendable (ServerCall) -> Void) {
        if self.loop.inEventLoop {
            body(self)
        } else {
            self.loop.execute { body(self) }
        }
    }

    func fail(_ error: any Error) {
        let rpcError: RPCError
        switch error {
        case let error as RPCError:
            rpcError = error
        case is CancellationError:
            rpcError = RPCError(code: .cancelled, message: "the call was cancelled")
        default:
            self.connection?.logError(error, path: self.head.path)
            rpcError = RPCError(code: .internal, message: "internal error")
        }
        self.onLoop { call in
            call.finish(status: rpcError.status, metadata: rpcError.metadata)
        }
    }

    /// The connection's deadline timer found this call's deadline passed.
    func deadlineExceeded() {
        guard !self.finished, !self.streamClosed else { return }
        self.task?.cancel()
        // The status ends our side of the stream; a RST_STREAM(NO_ERROR) right behind it
        // races with the trailers in grpc core (seen as INTERNAL by grpcio), so the stream
        // is reset only if the client keeps it open after the status (see `receiveData`).
        self.resetOnFurtherData = !self.inboundEnded
        self.finish(status: Status(code: .deadlineExceeded, message: "deadline exceeded"))
        self.connection?.scheduleFlush()
    }

    // MARK: Inbound (on the loop)

    func receiveData(_ bytes: ByteBuffer) {
        let count = bytes.readableBytes
        guard !self.finished, self.inboundError == nil else {
            self.connection?.session?.consume(streamID: self.streamID, bytes: count)
            if self.resetOnFurtherData {
                self.resetOnFurtherData = false
                self.connection?.session?.resetStream(streamID: self.streamID, errorCode: HTTP2Session.cancel)
                self.connection?.scheduleFlush()
            }
            return
        }
        self.unconsumedBytes += count
        self.deframer.append(bytes)
        do {
            while let message = try self.deframer.next() {
                try self.deliver(message)
            }
        } catch let error as DeframingError {
            self.failInbound(error.rpcError)
        } catch let error as RPCError {
            self.failInbound(error)
        } catch {
            self.failInbound(RPCError(code: .internal, message: "could not read request"))
        }
        if self.inbound.isEmpty {
            self.consumeAll()
        }
    }

    private func deliver(_ message: FramedMessage) throws {
        var payload = message.payload
        if message.compressed {
            switch self.head.encoding {
            case .identity:
                throw RPCError(code: .internal, message: "compressed message without grpc-encoding")
            case .gzip:
                do {
                    payload = try Gzip.decompress(payload, limit: self.deframer.maxMessageSize)
                } catch .tooLarge(let limit) {
                    throw RPCError(code: .resourceExhausted, message: "decompressed message is larger than the limit of \(limit) bytes")
                } catch {
                    throw RPCError(code: .internal, message: "could not decompress message")
                }
            }
        }
        self.options.state.withLock { $0.lastRequestCompressed = message.compressed }
        if self.handler.hasSingleRequest {
            self.singleRequestCount += 1
            guard self.singleRequestCount == 1 else {
                throw RPCError(code: .internal, message: "more than one request message for a unary request")
            }
            self.singleRequest = payload
        } else if let reader = self.reader {
            self.reader = nil
            reader.resume(returning: payload)
        } else {
            self.inbound.append(payload)
        }
    }

    private func consumeAll() {
        self.connection?.session?.consume(streamID: self.streamID, bytes: self.unconsumedBytes)
        self.unconsumedBytes = 0
    }

    private func failInbound(_ error: RPCError) {
        self.inboundError = error
        self.consumeAll()
        self.task?.cancel()
        self.finish(status: error.status, metadata: error.metadata)
        self.connection?.scheduleFlush()
    }

    func receiveEnd() {
        guard !self.inboundEnded else { return }
        self.inboundEnded = true
        guard !self.finished, self.inboundError == nil else { return }
        if self.deframer.hasPartialMessage {
            self.failInbound(DeframingError.truncated.rpcError)
            return
        }
        if self.handler.hasSingleRequest {
            guard self.singleRequestCount == 1 else {
                self.failInbound(RPCError(code: .internal, message: "the request ended without a message"))
                return
            }
            self.launch()
        } else if let reader = self.reader {
            self.reader = nil
            reader.resume(returning: nil)
        }
    }

    /// The stream is gone: normal completion, or a reset (client cancellation).
    func closed(errorCode: UInt32) {
        self.streamClosed = true
        self.deadlineInstant = nil
        if !self.finished {
            self.finished = true
            self.task?.cancel()
        }
        let error = RPCError(code: .cancelled, message: "the client cancelled the call")
        if let reader = self.reader {
            self.reader = nil
            reader.resume(throwing: error)
        }
        if let writer = self.writer {
            self.writer = nil
            writer.resume(throwing: error)
        }
        self.connection = nil
    }

    func nextMessage() async throws -> ByteBuffer? {
        if self.loop.inEventLoop, let result = try self.pollMessage() {
            return result
        }
        return try await withCheckedThrowingContinuation { continuation in
            self.onLoop { call in
                do {
                    if let result = try call.pollMessage() {
                        continuation.resume(returning: result)
                    } else {
                        call.reader = continuation
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// `.some(message or nil at end)` when there is an answer now; `nil` to wait.
    private func pollMessage() throws -> ByteBuffer?? {
        if let error = self.inboundError { throw error }
        if self.streamClosed && !self.inboundEnded {
            throw RPCError(code: .cancelled, message: "the client cancelled the call")
        }
        if !self.inbound.isEmpty {
            let message = self.inbound.removeFirst()
            if self.inbound.isEmpty {
                self.consumeAll()
                self.connection?.scheduleFlush()
            }
            return .some(.some(message))
        }
        if self.inboundEnded { return .some(.none) }
        return nil
    }

    // MARK: Outbound (on the loop)

    private func responseHeaders() -> OutboundHeaders {
        let state = self.options.state.withLock { $0 }
        if state.compression == .gzip, self.head.acceptsGzip {
            self.responseCompression = .gzip
        }
        let preset = self.responseCompression == .gzip ? ServerPresets.responseHeadersGzip : ServerPresets.responseHeaders
        return OutboundHeaders(preset: preset, extra: state.initialMetadata.wireHeaders())
    }

    private func frame(_ message: ByteBuffer, compress: Bool) throws -> ByteBuffer {
        guard let connection = self.connection else { throw RPCError(code: .cancelled, message: "the call has ended") }
        if !(compress && self.responseCompression == .gzip), let framed = MessageFramer.frameInPlace(message) {
            return framed
        }
        var out = connection.allocator.buffer(capacity: message.readableBytes + 5)
        if compress && self.responseCompression == .gzip {
            do {
                let compressed = try Gzip.compress(message, allocator: connection.allocator)
                MessageFramer.frame(compressed, compressed: true, into: &out)
            } catch {
                throw RPCError(code: .internal, message: "could not compress the response")
            }
        } else {
            MessageFramer.frame(message, compressed: false, into: &out)
        }
        return out
    }

    private func trailers(status: Status, metadata: Metadata) -> OutboundHeaders {
        let state = self.options.state.withLock { $0 }
        var extra = state.trailingMetadata.wireHeaders()
        extra.append(contentsOf: metadata.wireHeaders())
        if status.code == .ok && status.message.isEmpty {
            return OutboundHeaders(preset: ServerPresets.trailersOK, extra: extra)
        }
        var fields: HeaderFields = [("grpc-status", status.code.wireValue)]
        if !status.message.isEmpty {
            fields.append(("grpc-message", PercentEncoding.encode(status.message)))
        }
        fields.append(contentsOf: extra)
        return OutboundHeaders(preset: nil, extra: fields)
    }

    /// Unary and client-streaming: headers, one message and OK trailers in one go.
    private func finishWithMessage(_ message: ByteBuffer) {
        guard !self.finished, let connection = self.connection, let session = connection.session else { return }
        let headers = self.responseHeaders()
        let framed: ByteBuffer
        do {
            framed = try self.frame(message, compress: true)
        } catch {
            self.fail(error)
            return
        }
        self.finished = true
        self.deadlineInstant = nil
        session.submitResponse(streamID: self.streamID, headers: headers, endStream: false)
        self.headersSent = true
        session.queueData(streamID: self.streamID, framed)
        session.queueTrailers(streamID: self.streamID, self.trailers(status: .ok, metadata: Metadata()))
        connection.scheduleFlush()
    }

    /// Ends the call with a status: trailers after a response, or Trailers-Only.
    func finish(status: Status, metadata: Metadata = Metadata()) {
        guard !self.finished, !self.streamClosed, let connection = self.connection, let session = connection.session else { return }
        self.finished = true
        self.deadlineInstant = nil
        if self.headersSent {
            session.queueTrailers(streamID: self.streamID, self.trailers(status: status, metadata: metadata))
        } else {
            var fields = self.trailers(status: status, metadata: metadata)
            let state = self.options.state.withLock { $0 }
            var extra = state.initialMetadata.wireHeaders()
            extra.append(contentsOf: fields.preset?.fields ?? [])
            extra.append(contentsOf: fields.extra)
            fields = OutboundHeaders(preset: ServerPresets.trailersOnlyPrefix, extra: extra)
            session.submitResponse(streamID: self.streamID, headers: fields, endStream: true)
            self.headersSent = true
        }
        if let writer = self.writer {
            self.writer = nil
            writer.resume(throwing: RPCError(code: .cancelled, message: "the call has ended"))
        }
        connection.scheduleFlush()
    }

    func write(_ message: ByteBuffer, compress: Bool) async throws {
        if self.loop.inEventLoop {
            if try self.writeOnLoop(message, compress: compress) { return }
        } else {
            let done = try await self.loop.submit { try self.writeOnLoop(message, compress: compress) }.get()
            if done { return }
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.onLoop { call in
                if call.finished || call.streamClosed {
                    continuation.resume(throwing: RPCError(code: .cancelled, message: "the call has ended"))
                } else if let session = call.connection?.session,
                    session.pendingOutboundBytes(streamID: call.streamID) < session.settings.outboundLowWatermark
                {
                    continuation.resume()
                } else {
                    call.writer = continuation
                }
            }
        }
    }

    /// Queues a message; returns false when the writer must wait for the client to read.
    private func writeOnLoop(_ message: ByteBuffer, compress: Bool) throws -> Bool {
        guard !self.finished, !self.streamClosed, let connection = self.connection, let session = connection.session else {
            throw RPCError(code: .cancelled, message: "the call has ended")
        }
        if !self.headersSent {
            session.submitResponse(streamID: self.streamID, headers: self.responseHeaders(), endStream: false)
            self.headersSent = true
        }
        session.queueData(streamID: self.streamID, try self.frame(message, compress: compress))
        connection.scheduleFlush()
        return session.pendingOutboundBytes(streamID: self.streamID) < 2 * session.settings.outboundLowWatermark
    }

    func outboundWritable() {
        if let writer = self.writer {
            self.writer = nil
            writer.resume()
        }
    }
}

/// Header blocks every response shares, built once.
enum ServerPresets {
    static let responseHeaders = PresetHeaders([
        (":status", "200"), ("content-type", "application/grpc"), ("grpc-accept-encoding", CompressionAlgorithm.acceptEncodingHeader),
    ])
    static let responseHeadersGzip = PresetHeaders([
        (":status", "200"), ("content-type", "application/grpc"), ("grpc-accept-encoding", CompressionAlgorithm.acceptEncodingHeader),
        ("grpc-encoding", "gzip"),
    ])
    static let trailersOK = PresetHeaders([("grpc-status", "0")])
    static let trailersOnlyPrefix = PresetHeaders([
        (":status", "200"), ("content-type", "application/grpc"), ("grpc-accept-encoding", CompressionAlgorithm.acceptEncodingHeader),
    ])
}
