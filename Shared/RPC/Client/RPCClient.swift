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
    private let group: MultiThreadedEventLoopGroup
    private let next = ManagedAtomic<Int>(0)

    /// A task executor on the client's (first) event loop. Tasks that make many calls can run
    /// there (`group.addTask(executorPreference: client.taskExecutor)`) and skip the thread hop
    /// between the loop and Swift's global executor on every call.
    public let taskExecutor: any TaskExecutor

    /// A client for `targets` (`host:port` each). Throws `RPCError(.invalidArgument)` for a
    /// malformed target. Connections open on the first call.
    public init(targets: [String], configuration: ClientConfiguration = ClientConfiguration()) throws {
        guard !targets.isEmpty else { throw RPCError(code: .invalidArgument, message: "no target address") }
        self.configuration = configuration
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopCount))
        self.taskExecutor = EventLoopTaskExecutor(loop: self.group.next())
        var connections: [ClientConnection] = []
        for target in targets {
            guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]) else {
                throw RPCError(code: .invalidArgument, message: "target '\(target)' is not host:port")
            }
            var host = String(target[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            connections.append(ClientConnection(host: host, port: port, group: self.group, configuration: configuration))
        }
        self.connections = connections
        self.authority = targets[0]
    }

    private let authority: String

    /// Closes every connection and stops the client's threads.
    public func close() async {
        for connection in self.connections { await connection.close() }
        try? await self.group.shutdownGracefully()
    }

    // MARK: Connections

    private func pickHandler(options: CallOptions) async throws(RPCError) -> ClientConnectionHandler {
        let start = self.next.loadThenWrappingIncrement(ordering: .relaxed)
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

    private func requestHeaders(path: String, options: CallOptions) -> HeaderFields {
        var headers: HeaderFields = [
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", self.authority),
            ("content-type", "application/grpc"), ("te", "trailers"),
            ("grpc-accept-encoding", CompressionAlgorithm.acceptEncodingHeader), ("user-agent", "tongxin-rpc/1.0"),
        ]
        if let deadline = options.deadline {
            headers.append(("grpc-timeout", GRPCTimeout.format(deadline.remaining)))
        }
        if options.compression == .gzip {
            headers.append(("grpc-encoding", "gzip"))
        }
        headers.append(contentsOf: options.metadata.wireHeaders())
        return headers
    }

    private func openStream(path: String, options: CallOptions, singleMessage: ByteBuffer?) async throws(RPCError) -> ClientStream {
        if let deadline = options.deadline, deadline.hasPassed {
            throw RPCError(code: .deadlineExceeded, message: "deadline exceeded before the call started")
        }
        var attempt = 0
        while true {
            let handler = try await self.pickHandler(options: options)
            let stream = ClientStream(connection: handler, maxMessageSize: self.configuration.maxReceiveMessageSize,
                requestCompression: options.compression)
            do {
                try await stream.open(headers: self.requestHeaders(path: path, options: options), deadline: options.deadline, singleMessage: singleMessage)
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
        var attemptNumber = 0
        while true {
            do {
                return try await attempt()
            } catch {
                attemptNumber += 1
                guard error.code == .unavailable, options.safeToRetry,
                    attemptNumber < self.configuration.retryPolicy.maxAttempts
                else { throw error }
                let delay = self.configuration.retryPolicy.backoff.delay(attempt: attemptNumber - 1)
                if let deadline = options.deadline, deadline.remaining < delay { throw error }
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw RPCError(code: .cancelled, message: "the call was cancelled")
                }
            }
        }
    }

    // MARK: Raw calls

    /// A unary call on serialized messages; returns the response and its metadata.
    public func unaryRaw(path: String, _ request: ByteBuffer, options: CallOptions = CallOptions()) async throws(RPCError) -> RawResponse {
        try await self.withRetries(options: options) { () throws(RPCError) -> RawResponse in
            let stream = try await self.openStream(path: path, options: options, singleMessage: request)
            do {
                return try await withTaskCancellationHandler {
                    let initial = try await stream.initialMetadata()
                    guard let message = try await stream.next() else {
                        throw RPCError(code: .internal, message: "the server sent no response message")
                    }
                    guard try await stream.next() == nil else {
                        throw RPCError(code: .internal, message: "the server sent more than one response message")
                    }
                    return RawResponse(message: message, initialMetadata: initial, trailingMetadata: try await stream.trailingMetadata())
                } onCancel: {
                    stream.cancel()
                }
            } catch {
                throw Self.rpcError(error)
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
