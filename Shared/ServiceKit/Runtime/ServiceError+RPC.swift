import Logging
import Model
import RPC

extension ServiceError {
    /// The code callers see for this error.
    public var code: Status.Code {
        switch self {
        case .invalidArgument: return .invalidArgument
        case .notFound: return .notFound
        case .alreadyExists: return .alreadyExists
        case .failedPrecondition: return .failedPrecondition
        case .aborted: return .aborted
        case .permissionDenied: return .permissionDenied
        case .unauthenticated: return .unauthenticated
        case .resourceExhausted: return .resourceExhausted
        case .unavailable: return .unavailable
        case .cancelled: return .cancelled
        case .internal: return .internal
        }
    }

    /// The error as the caller receives it: code, message, and a `google.rpc.Status` in
    /// `grpc-status-details-bin` with `ErrorInfo` (reason, `domain`) and the detail that fits
    /// (`BadRequest` naming the field, `ResourceInfo`, `PreconditionFailure`), which stock
    /// clients decode. An internal error's cause goes to `logger`, never to the caller.
    public func rpcError(domain: String, logger: Logger) -> RPCError {
        var details: [GoogleProtobuf.AnyMessage] = []
        func pack<M: ProtoMessage>(_ message: M) {
            details.append(GoogleProtobuf.AnyMessage(
                typeUrl: "type.googleapis.com/\(M.protoMessageName)", value: message.serializedData()))
        }
        let reason: String
        switch self {
        case .invalidArgument(let field, let why, let errorReason):
            reason = errorReason
            pack(GoogleRPC.BadRequest(fieldViolations: [.init(field: field, description: why)]))
        case .notFound(let resource, let name):
            reason = "NOT_FOUND"
            pack(GoogleRPC.ResourceInfo(resourceType: resource, resourceName: name, description: self.description))
        case .alreadyExists(let resource, let name, let errorReason):
            reason = errorReason
            pack(GoogleRPC.ResourceInfo(resourceType: resource, resourceName: name, description: self.description))
        case .failedPrecondition(let why, let subject, let errorReason):
            reason = errorReason
            pack(GoogleRPC.PreconditionFailure(violations: [.init(type: errorReason, subject: subject, description: why)]))
        case .aborted:
            reason = "STALE_VERSION"
        case .permissionDenied(_, let errorReason):
            reason = errorReason
        case .unauthenticated:
            reason = "UNAUTHENTICATED"
        case .resourceExhausted:
            reason = "RESOURCE_EXHAUSTED"
        case .unavailable:
            reason = "UNAVAILABLE"
        case .cancelled:
            return RPCError(code: .cancelled, message: self.description)
        case .internal(let cause):
            logger.error("internal error", metadata: ["cause": "\(cause)"])
            return RPCError(code: .internal, message: "internal error")
        }
        details.insert(contentsOf: [GoogleProtobuf.AnyMessage(
            typeUrl: "type.googleapis.com/google.rpc.ErrorInfo",
            value: GoogleRPC.ErrorInfo(reason: reason, domain: domain).serializedData())], at: 0)
        let status = GoogleRPC.Status(code: Int32(self.code.rawValue), message: self.description, details: details)
        var metadata = Metadata()
        metadata.add("grpc-status-details-bin", binary: status.serializedBytes())
        return RPCError(code: self.code, message: self.description, metadata: metadata)
    }
}
