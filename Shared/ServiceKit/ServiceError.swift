/// The domain error of every service: what went wrong in terms a caller can act on. The RPC
/// layer maps each case to a gRPC status code and `google.rpc` error details; the reasons are
/// the names of `tongxin.common.v1.ErrorReason` without their prefix.
public enum ServiceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// INVALID_ARGUMENT: `field` (its request path, e.g. "member.resident_id_number") breaks
    /// a rule, said in `reason`; `errorReason` is the machine-readable cause ("INVALID_FIELD",
    /// "INVALID_RESIDENT_ID_NUMBER", "INVALID_PAGE_TOKEN", "INVALID_UPDATE_MASK" …).
    case invalidArgument(field: String, reason: String, errorReason: String = "INVALID_FIELD")
    /// NOT_FOUND: no `resource` (a type name, e.g. "tongxin.registry.v1.Member") named `name`.
    case notFound(resource: String, name: String)
    /// ALREADY_EXISTS: a `resource` named `name` exists; `errorReason` is "ALREADY_EXISTS" or
    /// "REQUEST_ID_CONFLICT".
    case alreadyExists(resource: String, name: String, errorReason: String = "ALREADY_EXISTS")
    /// FAILED_PRECONDITION: the state of `subject` does not allow the call, as `reason` says;
    /// `errorReason` is e.g. "INVALID_STATE_TRANSITION", "NEGATIVE_LIST_MATCH".
    case failedPrecondition(reason: String, subject: String, errorReason: String)
    /// ABORTED (STALE_VERSION): the request's version is not `currentVersion`.
    case aborted(currentVersion: Int64)
    /// PERMISSION_DENIED: `reason` in words; `errorReason` "OUT_OF_REGION_SCOPE" or
    /// "ROLE_NOT_ALLOWED".
    case permissionDenied(reason: String, errorReason: String)
    /// UNAUTHENTICATED: the call does not say who is calling, as `reason` explains.
    case unauthenticated(reason: String)
    /// RESOURCE_EXHAUSTED: a rate or size limit was hit.
    case resourceExhausted(reason: String)
    /// UNAVAILABLE: the storage or a peer is down; retry with backoff.
    case unavailable(reason: String)
    /// CANCELLED: the caller went away (cancelled the call, or its deadline passed) while the
    /// operation waited; nothing went wrong on this side, so nothing is logged as an error.
    case cancelled
    /// INTERNAL: anything else. `cause` is for the log, never for the caller.
    case `internal`(cause: String)

    /// The error in words, as sent in the status message (never for `internal`).
    public var description: String {
        switch self {
        case .invalidArgument(let field, let reason, _):
            return "\(field): \(reason)"
        case .notFound(let resource, let name):
            return "\(resource) \(name) not found"
        case .alreadyExists(let resource, let name, let errorReason):
            if errorReason == "REQUEST_ID_CONFLICT" {
                return "request_id \(name) was used for a different request"
            }
            return "\(resource) \(name) already exists"
        case .failedPrecondition(let reason, let subject, _):
            return "\(subject): \(reason)"
        case .aborted(let currentVersion):
            return "stale version: the current version is \(currentVersion); read again and retry"
        case .permissionDenied(let reason, _):
            return reason
        case .unauthenticated(let reason):
            return reason
        case .resourceExhausted(let reason):
            return reason
        case .unavailable(let reason):
            return reason
        case .cancelled:
            return "the call was cancelled"
        case .internal:
            return "internal error"
        }
    }
}

extension ServiceError {
    /// `error` as a service error: itself if it is one, a `CancellationError` as `cancelled`,
    /// storage connection failures as `unavailable`, anything else as `internal` with the
    /// cause for the log.
    public static func from(_ error: any Error) -> ServiceError {
        if let error = error as? ServiceError {
            return error
        }
        if error is CancellationError {
            return .cancelled
        }
        if let error = error as? StorageError {
            switch error {
            case .connectionFailed, .closed:
                return .unavailable(reason: "storage unavailable")
            default:
                return .internal(cause: error.description)
            }
        }
        return .internal(cause: "\(error)")
    }
}
