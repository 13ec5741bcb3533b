/// A protobuf message of the suite: a Swift value type whose wire encoding and decoding go
/// through libprotobuf-c. Every conforming type is generated from `Protos/` by
/// `Tools/generate.sh`; the generated code only describes fields, the C work lives in
/// `ProtobufCRuntime.swift`.
public protocol ProtoMessage: Sendable, Hashable {
    /// The fully qualified protobuf name, e.g. `tongxin.registry.v1.Member`.
    static var protoMessageName: String { get }

    /// The libprotobuf-c type of this message, found once by name in the generated table.
    static var protobufC: ProtobufCMessageType { get }

    /// A message with every field at its default.
    init()

    /// Reads every field from an unpacked protobuf-c message.
    /// - Throws: `ProtoDecodingError.invalidUTF8` when a string field is not valid UTF-8.
    init(protobufC reader: ProtobufCReader) throws(ProtoDecodingError)

    /// Writes every non-default field into a protobuf-c message being built in an arena.
    func write(protobufC writer: ProtobufCWriter)
}

/// Why bytes could not be decoded as a message. Never a crash: every malformed input
/// (truncated, wrong wire type, a length past the end, invalid UTF-8 …) ends here.
public enum ProtoDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// libprotobuf-c rejected the bytes as a `messageType` (truncated, bad tag, wrong wire
    /// type, length past the end, missing required field in proto2 …).
    case malformed(messageType: String)
    /// A string field held bytes that are not valid UTF-8.
    case invalidUTF8(messageType: String, field: String)
    /// The input is larger than protobuf-c can address (`Int` overflow guard).
    case tooLarge(messageType: String, size: Int)

    public var description: String {
        switch self {
        case .malformed(let type):
            return "malformed protobuf for \(type)"
        case .invalidUTF8(let type, let field):
            return "field \(field) of \(type) is not valid UTF-8"
        case .tooLarge(let type, let size):
            return "\(size) bytes is too large to decode as \(type)"
        }
    }
}

/// How a method streams, as declared in its service's `.proto`.
public enum StreamingKind: String, Sendable, Hashable, CaseIterable {
    /// One request, one response.
    case unary
    /// One request, a stream of responses.
    case serverStreaming
    /// A stream of requests, one response.
    case clientStreaming
    /// Streams in both directions.
    case bidirectionalStreaming
}

/// One RPC method of a service, as generated from its `.proto`.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// The fully qualified service name, e.g. `tongxin.registry.v1.RegistryService`.
    public let serviceName: String
    /// The method's simple name, e.g. `GetMember`.
    public let name: String
    /// How the method streams.
    public let kind: StreamingKind
    /// The fully qualified request message name.
    public let inputType: String
    /// The fully qualified response message name.
    public let outputType: String
    /// The HTTP/2 `:path` of the method: `/package.Service/Method`.
    public let path: String

    /// Creates a descriptor; generated code is the only caller.
    public init(serviceName: String, name: String, kind: StreamingKind, inputType: String, outputType: String) {
        self.serviceName = serviceName
        self.name = name
        self.kind = kind
        self.inputType = inputType
        self.outputType = outputType
        self.path = "/\(serviceName)/\(name)"
    }

    public var description: String { self.path }
}

/// A service and its methods, as generated from its `.proto`.
public struct ServiceDescriptor: Sendable, Hashable {
    /// The fully qualified service name.
    public let name: String
    /// The `.proto` file that declares it, relative to `Protos/` (or the standard include path).
    public let file: String
    /// Every method, in declaration order.
    public let methods: [MethodDescriptor]

    /// Creates a descriptor; generated code is the only caller.
    public init(name: String, file: String, methods: [MethodDescriptor]) {
        self.name = name
        self.file = file
        self.methods = methods
    }
}

/// A method of a generated service, as a type: it carries the request and response types so
/// the RPC layer can offer typed handlers and calls for every method with no per-method code.
public protocol RPCMethod: Sendable {
    /// The request message.
    associatedtype Input: ProtoMessage
    /// The response message.
    associatedtype Output: ProtoMessage
    /// Path, name and streaming kind.
    static var descriptor: MethodDescriptor { get }
}
