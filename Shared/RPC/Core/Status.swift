/// The outcome of an RPC: a gRPC status code and an optional human-readable message.
///
/// Codes 0–16 as defined by gRPC (`doc/statuscodes.md`); `ok` is included here, unlike
/// `RPCError` which is never ok.
public struct Status: Sendable, Hashable, CustomStringConvertible {
    /// A gRPC status code.
    public enum Code: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case ok = 0
        case cancelled = 1
        case unknown = 2
        case invalidArgument = 3
        case deadlineExceeded = 4
        case notFound = 5
        case alreadyExists = 6
        case permissionDenied = 7
        case resourceExhausted = 8
        case failedPrecondition = 9
        case aborted = 10
        case outOfRange = 11
        case unimplemented = 12
        case `internal` = 13
        case unavailable = 14
        case dataLoss = 15
        case unauthenticated = 16

        /// Parses the decimal `grpc-status` trailer value; anything out of range is `unknown`
        /// as the protocol requires.
        public init(wireValue: some StringProtocol) {
            if let value = Int(wireValue), let code = Code(rawValue: value) {
                self = code
            } else {
                self = .unknown
            }
        }

        /// The upper snake case name used by gRPC, e.g. `DEADLINE_EXCEEDED`.
        public var description: String {
            switch self {
            case .ok: return "OK"
            case .cancelled: return "CANCELLED"
            case .unknown: return "UNKNOWN"
            case .invalidArgument: return "INVALID_ARGUMENT"
            case .deadlineExceeded: return "DEADLINE_EXCEEDED"
            case .notFound: return "NOT_FOUND"
            case .alreadyExists: return "ALREADY_EXISTS"
            case .permissionDenied: return "PERMISSION_DENIED"
            case .resourceExhausted: return "RESOURCE_EXHAUSTED"
            case .failedPrecondition: return "FAILED_PRECONDITION"
            case .aborted: return "ABORTED"
            case .outOfRange: return "OUT_OF_RANGE"
            case .unimplemented: return "UNIMPLEMENTED"
            case .internal: return "INTERNAL"
            case .unavailable: return "UNAVAILABLE"
            case .dataLoss: return "DATA_LOSS"
            case .unauthenticated: return "UNAUTHENTICATED"
            }
        }

        /// The decimal text sent in `grpc-status`.
        var wireValue: String {
            switch self {
            case .ok: return "0"
            case .cancelled: return "1"
            case .unknown: return "2"
            case .invalidArgument: return "3"
            case .deadlineExceeded: return "4"
            case .notFound: return "5"
            case .alreadyExists: return "6"
            case .permissionDenied: return "7"
            case .resourceExhausted: return "8"
            case .failedPrecondition: return "9"
            case .aborted: return "10"
            case .outOfRange: return "11"
            case .unimplemented: return "12"
            case .internal: return "13"
            case .unavailable: return "14"
            case .dataLoss: return "15"
            case .unauthenticated: return "16"
            }
        }
    }

    /// The status code.
    public var code: Code
    /// A message for developers; empty when there is none.
    public var message: String

    /// Creates a status.
    public init(code: Code, message: String = "") {
        self.code = code
        self.message = message
    }

    /// The successful status.
    public static let ok = Status(code: .ok)

    public var description: String {
        self.message.isEmpty ? "\(self.code)" : "\(self.code): \(self.message)"
    }
}
