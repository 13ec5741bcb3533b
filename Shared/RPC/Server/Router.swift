import NIOCore

/// A handler at the byte level: what every typed handler compiles down to.
enum RawHandler: Sendable {
    case unary(@Sendable (ByteBuffer, ServerContext) async throws -> ByteBuffer)
    case serverStreaming(@Sendable (ByteBuffer, ServerContext, RawResponseWriter) async throws -> Void)
    case clientStreaming(@Sendable (RawRequestStream, ServerContext) async throws -> ByteBuffer)
    case bidirectionalStreaming(@Sendable (RawRequestStream, ServerContext, RawResponseWriter) async throws -> Void)

    var kind: StreamingKindTag {
        switch self {
        case .unary: return .unary
        case .serverStreaming: return .serverStreaming
        case .clientStreaming: return .clientStreaming
        case .bidirectionalStreaming: return .bidirectionalStreaming
        }
    }

    /// Whether the request carries exactly one message, delivered when the request ends.
    var hasSingleRequest: Bool {
        switch self {
        case .unary, .serverStreaming: return true
        case .clientStreaming, .bidirectionalStreaming: return false
        }
    }
}

/// The streaming kind of a handler (mirrors `StreamingKind` without depending on Model).
enum StreamingKindTag: Sendable { case unary, serverStreaming, clientStreaming, bidirectionalStreaming }

/// Maps `/package.Service/Method` paths to handlers. Unknown paths are answered with
/// `UNIMPLEMENTED` by the server.
public struct Router: Sendable {
    var handlers: [String: RawHandler] = [:]

    /// An empty router.
    public init() {}

    /// Every registered path.
    public var paths: [String] { self.handlers.keys.sorted() }

    /// The fully qualified names of the services with at least one registered method.
    public var serviceNames: [String] {
        Set(self.handlers.keys.compactMap { path -> String? in
            let parts = path.split(separator: "/")
            return parts.count == 2 ? String(parts[0]) : nil
        }).sorted()
    }

    /// Registers a unary handler on serialized messages.
    public mutating func registerRaw(unary path: String, _ handler: @escaping @Sendable (ByteBuffer, ServerContext) async throws -> ByteBuffer) {
        self.handlers[path] = .unary(handler)
    }

    /// Registers a server-streaming handler on serialized messages.
    public mutating func registerRaw(serverStreaming path: String, _ handler: @escaping @Sendable (ByteBuffer, ServerContext, RawResponseWriter) async throws -> Void) {
        self.handlers[path] = .serverStreaming(handler)
    }

    /// Registers a client-streaming handler on serialized messages.
    public mutating func registerRaw(clientStreaming path: String, _ handler: @escaping @Sendable (RawRequestStream, ServerContext) async throws -> ByteBuffer) {
        self.handlers[path] = .clientStreaming(handler)
    }

    /// Registers a bidirectional-streaming handler on serialized messages.
    public mutating func registerRaw(bidirectionalStreaming path: String, _ handler: @escaping @Sendable (RawRequestStream, ServerContext, RawResponseWriter) async throws -> Void) {
        self.handlers[path] = .bidirectionalStreaming(handler)
    }
}
