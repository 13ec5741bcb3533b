/// A failed RPC as the caller or a handler sees it: a non-ok code, a message, the trailing
/// metadata and, locally only, the underlying cause (never sent on the wire).
public struct RPCError: Error, Sendable, CustomStringConvertible {
    /// The gRPC status code; never `ok`.
    public var code: Status.Code
    /// A message for developers, sent percent-encoded in `grpc-message`.
    public var message: String
    /// Trailing metadata sent with (or received with) the status.
    public var metadata: Metadata
    /// The local error that led to this one, for logs; not sent to the peer.
    public var cause: (any Error)?

    /// Creates an error. An `ok` code is replaced with `unknown`: an error is never ok.
    public init(code: Status.Code, message: String, metadata: Metadata = Metadata(), cause: (any Error)? = nil) {
        self.code = code == .ok ? .unknown : code
        self.message = message
        self.metadata = metadata
        self.cause = cause
    }

    /// The status this error stands for.
    public var status: Status { Status(code: self.code, message: self.message) }

    public var description: String {
        self.message.isEmpty ? "RPCError(\(self.code))" : "RPCError(\(self.code): \(self.message))"
    }
}
