import Atomics
import Model
import NIOCore
import NIOPosix

/// A gRPC client over HTTP/2: one or several `host:port` targets used round-robin, calls
/// multiplexed on one connection per target, reconnection with backoff.
///
/// ```swift
/// let client = try RPCClient(targets: ["127.0.0.1:50051"])
/// let reply = try await client.unary(GRPCTesting.TestService.UnaryCall.self, request)
/// ```
/// Every call throws `RPCError`. Cancelling the calling task cancels the call
/// (RST_STREAM, `CANCELLED`).
public final class RPCClient: Sendable {
    /// The client's settings.
    public let configuration: ClientConfiguration
    private let connections: [ClientConnection]
    private let group: any EventLoopGroup
    /// Whether `close()` shuts the group down (the client made it).
    private let ownsGroup: Bool
    private let next = ManagedAtomic<Int>(0)

    /// A task executor on the client's (first) event loop. Tasks that make many calls can run
    /// there (`group.addTask(executorPreference: client.taskExecutor)`) and skip the thread hop
    /// between the loop and Swift's global executor on every call.
    public let taskExecutor: any TaskExecutor

    /// The event loop behind ``taskExecutor``: a task there can wait on the loop's own timers
    /// (no hop to another thread and back, as `Task.sleep` takes).
    public let eventLoop: any EventLoop

    /// A client for `targets` (`host:port` each) on its own `configuration.eventLoopCount`
    /// threads. Throws `RPCError(.invalidArgument)` for a malformed target. Connections open on
    /// the first call.
    public convenience init(targets: [String], configuration: ClientConfiguration = ClientConfiguration()) throws {
        let endpoints = try Self.endpoints(targets)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopCount))
        self.init(endpoints: endpoints, authority: targets[0], configuration: configuration, group: group, ownsGroup: true)
    }

    /// A client for `targets` whose connections run on `eventLoopGroup`: an event loop, or a
    /// group shared with other clients (so several clients can share one thread). `close()`
    /// leaves the group running. Throws `RPCError(.invalidArgument)` for a malformed target.
    public convenience init(targets: [String], configuration: ClientConfiguration = ClientConfiguration(), eventLoopGroup: any EventLoopGroup) throws {
        let endpoints = try Self.endpoints(targets)
        self.init(endpoints: endpoints, authority: targets[0], configuration: configuration, group: eventLoopGroup, ownsGroup: false)
    }

    private init(endpoints: [(host: String, port: Int)], authority: String, configuration: ClientConfiguration, group: any EventLoopGroup, ownsGroup: Bool) {
        self.configuration = configuration
        self.group = group
        self.ownsGroup = ownsGroup
        self.eventLoop = group.next()
        self.taskExecutor = EventLoopTaskExecutor(loop: self.eventLoop)
        self.connections = endpoints.map { ClientConnection(host: $0.host, port: $0.port, group: group, configuration: configuration) }
        self.authority = authority
    }

    private static func endpoints(_ targets: [String]) throws(RPCError) -> [(host: String, port: Int)] {
        guard !targets.isEmpty else { throw RPCError(code: .invalidArgument, message: "no target address") }
        return try targets.map { target throws(RPCError) in
            guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]) else {
                throw RPCError(code: .invalidArgument, message: "target '\(target)' is not host:port")
            }
            var host = String(target[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return (host, port)
        }
    }

    private let authority: String

    /// Closes every connection and stops the client's threads (not a group it was given).
    public func close() async {
        for connection in self.connections { await connection.close() }
        if self.ownsGroup { try? await self.group.shutdownGracefully() }
    }

    // MARK: Connections

    private func pickHandler(options: CallOptions, start: Int) async throws(RPCError) -> ClientConnectionHandler {
        while true {
            var anyConnecting = false
            var lastFailure: String?
            for offset in 0..<self.connections.count {
                let connection = self.connections[(start + offset) % self.connections.count]
                let (handler, failure, connecting) = connection.readyHandler()
                if let handler, handler.isUsable { return handler }
                anyConnecting = anyConnecting || connecting
                lastFailure = failure ?? lastFailure
            }
            if !anyConnecting && !options.waitForReady {
                throw RPCError(code: .unavailable, message: "no connection available: \(lastFailure ?? "connecting")")
            }
            if let deadline = options.deadline, deadline.hasPassed {
                throw RPCError(code: .deadlineExceeded, message: "deadline exceeded while waiting for a connection")
            }
            do {
                try await Task.sleep(for: .milliseconds(5))
            } catch {
                throw RPCError(code: .cancelled, message: "the call was cancelled")
            }
        }
    }

    /// The per-call part of the request headers; the method's constant part is cached by the
    /// connection (`RequestHeaders.constantFields`).
    private func requestHeaders(options: CallOptions, timeout: Duration?) -> RequestHeaders {
        var extra: HeaderFields = []
        if let timeout {
            extra.append(("grpc-timeout", GRPCTimeout.format(timeout)))
        }
        if options.compression == .gzip {
            extra.append(("grpc-encoding", "gzip"))
        }
        if !options.metadata.isEmpty {
            extra.append(contentsOf: options.metadata.wireHeaders())
        }
        return RequestHeaders(authority: self.authority, extra: extra)
    }

    /// Opens a stream without suspending when a ready connection lives on the caller's thread
    /// (a task on `taskExecutor`); `nil` sends the caller the general way.
    private func openStreamOnLoop(path: String, options: CallOptions, singleMessage: ByteBuffer?, unary: Bool, start: Int) throws(RPCError) -> ClientStream? {
        let connection = self.connections[start % self.connections.count]
        guard let handler = connection.readyHandler().handler, handler.isUsable, handler.loop.inEventLoop else { return nil }
        let timeout = options.deadline?.remaining
        if let timeout, timeout <= .zero { return nil }
        let stream = ClientStream(connection: handler, maxMessageSize: self.configuration.maxReceiveMessageSize,
            requestCompression: options.compression, unary: unary)
        do {
            try stream.openOnLoop(path: path, headers: self.requestHeaders(options: options, timeout: timeout), timeout: timeout, singleMessage: singleMessage)
            return stream
        } catch is StreamNotStarted {
            return nil
        } catch {
            throw Self.rpcError(error)
        }
    }

    nonisolated(nonsending) private func openStream(path: String, options: CallOptions, singleMessage: ByteBuffer?, unary: Bool = false) async throws(RPCError) -> ClientStream {
        // One round-robin step per call, shared by both ways of opening the stream.
        let start = self.next.loadThenWrappingIncrement(ordering: .relaxed)
        if let stream = try self.openStreamOnLoop(path: path, options: options, singleMessage: singleMessage, unary: unary, start: start) {
            return stream
        }
        if let deadline = options.deadline, deadline.hasPassed {
            throw RPCError(code: .deadlineExceeded, message: "deadline exceeded before the call started")
        }
        var attempt = 0
        while true {
            let handler = try await self.pickHandler(options: options, start: start &+ attempt)
            let stream = ClientStream(connection: handler, maxMessageSize: self.configuration.maxReceiveMessageSize,
                requestCompression: options.compression, unary: unary)
            do {
                try await stream.open(path: path, headers: self.requestHeaders(options: options, timeout: options.deadline?.remaining), deadline: options.deadline, singleMessage: singleMessage)
                return stream
            } catch is StreamNotStarted {
                // Transparent retry: the connection closed before anything was sent on it.
                attempt += 1
                if attempt >= 5 { throw RPCError(code: .unavailable, message: "the connection is not available") }
            } catch {
                throw Self.rpcError(error)
            }
        }
    }

    static func rpcError(_ error: any Error) -> RPCError {
        switch error {
        case let error as RPCError: return error
        case is CancellationError: return RPCError(code: .cancelled, message: "the call was cancelled")
        default: return RPCError(code: .unavailable, message: "transport failure", cause: error)
        }
    }

    /// Runs `attempt` again after `UNAVAILABLE` when the call is safe to retry.
    private func withRetries<R>(options: CallOptions, _ attempt: () async throws(RPCError) -> R) async throws(RPCError) -> R {
        var failures = 0
        while true {
            do {
                return try await attempt()
            } catch {
                failures += 1
                try await self.backOff(after: error, failures: failures, options: options)
            }
        }
    }

    /// Waits before the next attempt, or rethrows `error` when the call may not be retried.
    private func backOff(after error: RPCError, failures: Int, options: CallOptions) async throws(RPCError) {
        guard error.code == .unavailable, options.safeToRetry, failures < self.configuration.retryPolicy.maxAttempts else {
            throw error
        }
        let delay = self.configuration.retryPolicy.backoff.delay(attempt: failures - 1)
        if let deadline = options.deadline, deadline.remaining < delay { throw error }
        do {
            try await Task.sleep(for: delay)
        } catch {
            throw RPCError(code: .cancelled, message: "the call was cancelled")
        }
    }

    // MARK: Raw calls

    /// A unary call on serialized messages; returns the response and its metadata.
    ///
    /// It runs on the caller's executor (`nonisolated(nonsending)`): a task on `taskExecutor`
    /// makes the whole call without an executor switch.
    nonisolated(nonsending) public func unaryRaw(path: String, _ request: ByteBuffer, options: CallOptions = CallOptions()) async throws(RPCError) -> RawResponse {
        var failures = 0
        while true {
            do throws(RPCError) {
                let stream = try await self.openStream(path: path, options: options, singleMessage: request, unary: true)
                do {
                    return try await stream.unaryResponse()
                } catch {
                    throw Self.rpcError(error)
                }
            } catch {
                failures += 1
                try await self.backOff(after: error, failures: failures, options: options)
            }
        }
    }

    /// Starts a streaming call on serialized messages. The returned call writes requests and
    /// reads responses; cancel it (or the task) to reset the stream.
    public func streamRaw(path: String, options: CallOptions = CallOptions()) async throws(RPCError) -> RawStreamingCall {
        let stream = try await self.withRetries(options: options) { () throws(RPCError) -> ClientStream in
            try await self.openStream(path: path, options: options, singleMessage: nil)
        }
        return RawStreamingCall(stream: stream)
    }

    /// Starts a server-streaming call on serialized messages (the request is sent at once).
    public func serverStreamingRaw(path: String, _ request: ByteBuffer, options: CallOptions = CallOptions()) async throws(RPCError) -> RawStreamingCall {
        let stream = try await self.withRetries(options: options) { () throws(RPCError) -> ClientStream in
            try await self.openStream(path: path, options: options, singleMessage: request)
        }
        return RawStreamingCall(stream: stream)
    }
}

/// A call's request headers apart from the method's constant ones: the authority they were
/// built for and the fields of this call (`grpc-timeout`, `grpc-encoding`, metadata).
struct RequestHeaders {
    var authority: String
    var extra: HeaderFields

    /// The fields every call of `path` sends, in this order, before its own.
    static func constantFields(path: String, authority: String) -> HeaderFields {
        [
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", authority),
            ("content-type", "application/grpc"), ("te", "trailers"),
            ("grpc-accept-encoding", CompressionAlgorithm.acceptEncodingHeader), ("user-agent", "tongxin-rpc/1.0"),
        ]
    }
}

/// A unary response with its metadata.
public struct RawResponse: Sendable {
    /// The serialized response message.
    public var message: ByteBuffer
    /// The response headers' custom metadata.
    public var initialMetadata: Metadata
    /// The trailers' custom metadata.
    public var trailingMetadata: Metadata
}

/// A streaming call at the byte level.
public struct RawStreamingCall: Sendable {
    let stream: ClientStream

    /// Sends a request message; suspends while the server does not read.
    public func send(_ message: ByteBuffer, compress: Bool = true) async throws(RPCError) {
        do {
            try await self.stream.send(message, compress: compress)
        } catch {
            throw RPCClient.rpcError(error)
        }
    }

    /// Half-closes the request side.
    public func closeSend() async throws(RPCError) {
        do {
            try await self.stream.closeSend()
        } catch {
            throw RPCClient.rpcError(error)
        }
    }

    /// The next response message; `nil` when the call ended OK. Throws the call's `RPCError`.
    public func receive() async throws(RPCError) -> ByteBuffer? {
        do {
            return try await withTaskCancellationHandler {
                try await self.stream.next()
            } onCancel: {
                self.stream.cancel()
            }
        } catch {
            throw RPCClient.rpcError(error)
        }
    }

    /// The response's initial metadata.
    public func initialMetadata() async throws(RPCError) -> Metadata {
        do {
            return try await self.stream.initialMetadata()
        } catch {
            throw RPCClient.rpcError(error)
        }
    }

    /// The trailing metadata, after `receive()` returned `nil` (or threw).
    public func trailingMetadata() async -> Metadata {
        (try? await self.stream.trailingMetadata()) ?? Metadata()
    }

    /// Cancels the call (RST_STREAM); pending operations throw `CANCELLED`.
    public func cancel() {
        self.stream.cancel()
    }
}
