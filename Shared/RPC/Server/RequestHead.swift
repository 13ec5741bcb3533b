/// The validated request headers of one call (pure: no I/O).
struct RequestHead: Sendable {
    var path: String
    var metadata: Metadata
    var timeout: Duration?
    /// The request messages' compression; `identity` when absent.
    var encoding: CompressionAlgorithm
    /// Whether the client accepts gzip responses.
    var acceptsGzip: Bool
    var authority: String?

    /// Why a request is answered before any handler runs.
    enum Rejection: Error, Equatable {
        /// A non-gRPC request: an HTTP status (415, 405 …) with a gRPC status for gRPC clients.
        case http(status: String, grpc: Status)
        /// A gRPC error sent as a Trailers-Only response.
        case grpc(Status)
    }

    /// Validates request headers per gRPC `PROTOCOL-HTTP2.md`.
    static func parse(_ fields: HeaderFields) -> Result<RequestHead, Rejection> {
        var method: String?
        var path: String?
        var contentType: String?
        var timeout: Duration?
        var badTimeout = false
        var encodingName: String?
        var acceptsGzip = false
        var authority: String?
        var metadata = Metadata()
        for (name, value) in fields {
            switch name {
            case ":method": method = value
            case ":path": path = value
            case ":authority": authority = value
            case ":scheme": break
            case "content-type": contentType = value
            case "grpc-timeout":
                timeout = GRPCTimeout.parse(value)
                badTimeout = timeout == nil
            case "grpc-encoding": encodingName = value
            case "grpc-accept-encoding":
                acceptsGzip = Self.listContains(value, "gzip")
            case "te", "content-length", "user-agent":
                break
            default:
                if !Metadata.isReserved(name) {
                    metadata.appendFromWire(name: name, value: value)
                }
            }
        }
        guard let contentType, Self.isGRPCContentType(contentType) else {
            return .failure(.http(status: "415", grpc: Status(code: .unknown,
                message: "invalid gRPC request content-type '\(contentType ?? "")'")))
        }
        guard method == "POST" else {
            return .failure(.http(status: "405", grpc: Status(code: .unimplemented,
                message: "gRPC requires POST, got \(method ?? "none")")))
        }
        guard let path, path.utf8.first == UInt8(ascii: "/") else {
            return .failure(.grpc(Status(code: .unimplemented, message: "missing or invalid :path")))
        }
        if badTimeout {
            return .failure(.grpc(Status(code: .internal, message: "invalid grpc-timeout header")))
        }
        var encoding = CompressionAlgorithm.identity
        if let encodingName {
            guard let algorithm = CompressionAlgorithm(wireName: encodingName) else {
                return .failure(.grpc(Status(code: .unimplemented,
                    message: "message compression '\(encodingName)' is not supported")))
            }
            encoding = algorithm
        }
        return .success(RequestHead(path: path, metadata: metadata, timeout: timeout, encoding: encoding,
            acceptsGzip: acceptsGzip, authority: authority))
    }

    /// `application/grpc`, optionally followed by `+proto` (or another subtype) or parameters.
    static func isGRPCContentType(_ value: String) -> Bool {
        let prefix = "application/grpc"
        guard value.hasPrefix(prefix) else { return false }
        let rest = value.utf8.dropFirst(prefix.utf8.count)
        guard let next = rest.first else { return true }
        return next == UInt8(ascii: "+") || next == UInt8(ascii: ";")
    }
}

extension RequestHead {
    /// Whether the comma-separated `list` (spaces around items allowed) holds `item`. Every
    /// gRPC client sends `grpc-accept-encoding`: this reads its bytes in place, where splitting
    /// it into substrings cost an array per call.
    static func listContains(_ list: String, _ item: StaticString) -> Bool {
        let item = UnsafeBufferPointer(start: item.utf8Start, count: item.utf8CodeUnitCount)
        var list = list
        return list.withUTF8 { bytes in
            var start = 0
            for end in 0...bytes.count where end == bytes.count || bytes[end] == UInt8(ascii: ",") {
                var low = start
                var high = end
                while low < high && bytes[low] == UInt8(ascii: " ") { low += 1 }
                while high > low && bytes[high - 1] == UInt8(ascii: " ") { high -= 1 }
                if bytes[low..<high].elementsEqual(item) { return true }
                start = end + 1
            }
            return false
        }
    }
}
