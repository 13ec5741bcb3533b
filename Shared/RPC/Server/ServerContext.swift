import Synchronization

/// What a handler knows about its call: the method path, request metadata, the deadline and
/// the peer; and how it shapes the response (initial and trailing metadata, compression).
///
/// Pass `deadline` on to downstream calls (`CallOptions(deadline: context.deadline)`) so a
/// chain of services gives up together.
public struct ServerContext: Sendable {
    /// The `:path` of the call, `/package.Service/Method`.
    public let path: String
    /// The request's custom metadata (`-bin` values decoded).
    public var metadata: Metadata
    /// When the caller gives up, from `grpc-timeout`; `nil` when it waits forever.
    public let deadline: Deadline?
    /// The remote address, e.g. `[IPv4]127.0.0.1/127.0.0.1:51234`.
    public let peer: String
    let response: ResponseOptionsBox

    init(path: String, metadata: Metadata, deadline: Deadline?, peer: String, response: ResponseOptionsBox) {
        self.path = path
        self.metadata = metadata
        self.deadline = deadline
        self.peer = peer
        self.response = response
    }

    /// Sets the response's initial metadata; it is sent with the first response message (or
    /// with the status when there is none). Later calls after that point have no effect.
    public func setInitialMetadata(_ metadata: Metadata) {
        self.response.state.withLock { $0.initialMetadata = metadata }
    }

    /// Adds trailing metadata, sent with the final status.
    public func addTrailingMetadata(_ metadata: Metadata) {
        self.response.state.withLock { state in
            for entry in metadata { state.trailingMetadata.add(entry) }
        }
    }

    /// Compresses response messages with `algorithm` when the client accepts it. Set before
    /// the first response message.
    public func setResponseCompression(_ algorithm: CompressionAlgorithm) {
        self.response.state.withLock { $0.compression = algorithm }
    }

    /// Whether the most recently received request message was compressed on the wire.
    public var lastRequestWasCompressed: Bool {
        self.response.state.withLock { $0.lastRequestCompressed }
    }
}

/// Response options a handler sets from any thread; read by the connection on its loop.
/// `ServerCall` inherits it so a call costs one allocation, not two.
class ResponseOptionsBox: @unchecked Sendable {
    struct State: Sendable {
        var initialMetadata = Metadata()
        var trailingMetadata = Metadata()
        var compression = CompressionAlgorithm.identity
        var lastRequestCompressed = false
    }

    let state = Mutex(State())

    init() {}
}

/// The head of a request as interceptors see it.
public struct ServerRequestHead: Sendable {
    /// The `:path` of the call.
    public var path: String
    /// The request's custom metadata.
    public var metadata: Metadata
}

/// Code that runs around every handler, in array order: logging, auth, metrics.
///
/// Call `next` to continue (possibly with changed metadata or context), or throw an
/// `RPCError` to answer the call without running the handler.
public protocol ServerInterceptor: Sendable {
    /// Intercepts one call. Errors thrown end the call with their status (`RPCError`) or
    /// `internal` (anything else).
    func intercept(
        _ request: ServerRequestHead,
        context: ServerContext,
        next: @Sendable (ServerRequestHead, ServerContext) async throws -> Void
    ) async throws
}
