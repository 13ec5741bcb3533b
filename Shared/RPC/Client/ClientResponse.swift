/// Reading response headers and trailers (pure: no I/O).
enum ClientResponseHead {
    /// Response headers: metadata and message encoding, or the error a non-gRPC answer means.
    struct Headers {
        var metadata: Metadata
        var encoding: CompressionAlgorithm
        /// Present when the headers end the stream (Trailers-Only).
        var status: Status?
    }

    static func parseHeaders(_ fields: HeaderFields, endStream: Bool) -> Result<Headers, RPCError> {
        var httpStatus: String?
        var contentType: String?
        var encodingName: String?
        var grpcStatus: String?
        var grpcMessage: String?
        var metadata = Metadata()
        for (name, value) in fields {
            switch name {
            case ":status": httpStatus = value
            case "content-type": contentType = value
            case "grpc-encoding": encodingName = value
            case "grpc-status": grpcStatus = value
            case "grpc-message": grpcMessage = value
            default:
                if !Metadata.isReserved(name) { metadata.appendFromWire(name: name, value: value) }
            }
        }
        guard httpStatus == "200" else {
            // gRPC `http-grpc-status-mapping.md`.
            let code: Status.Code
            switch httpStatus {
            case "400": code = .internal
            case "401": code = .unauthenticated
            case "403": code = .permissionDenied
            case "404": code = .unimplemented
            case "429", "502", "503", "504": code = .unavailable
            default: code = .unknown
            }
            return .failure(RPCError(code: code, message: "HTTP status \(httpStatus ?? "missing")"
                + (grpcMessage.map { ": " + PercentEncoding.decode($0) } ?? ""), metadata: metadata))
        }
        if grpcStatus == nil {
            guard let contentType, RequestHead.isGRPCContentType(contentType) else {
                return .failure(RPCError(code: .unknown, message: "response content-type '\(contentType ?? "")' is not gRPC"))
            }
        }
        var encoding = CompressionAlgorithm.identity
        if let encodingName {
            guard let algorithm = CompressionAlgorithm(wireName: encodingName) else {
                return .failure(RPCError(code: .internal, message: "response compression '\(encodingName)' is not supported"))
            }
            encoding = algorithm
        }
        var status: Status?
        if endStream || grpcStatus != nil {
            status = Status(code: grpcStatus.map { Status.Code(wireValue: $0) } ?? .unknown,
                message: grpcMessage.map { PercentEncoding.decode($0) } ?? (grpcStatus == nil ? "missing grpc-status" : ""))
        }
        return .success(Headers(metadata: metadata, encoding: encoding, status: status))
    }

    /// Trailers: the status and trailing metadata.
    static func parseTrailers(_ fields: HeaderFields) -> (Status, Metadata) {
        var grpcStatus: String?
        var grpcMessage: String?
        var metadata = Metadata()
        for (name, value) in fields {
            switch name {
            case "grpc-status": grpcStatus = value
            case "grpc-message": grpcMessage = value
            default:
                if !Metadata.isReserved(name) { metadata.appendFromWire(name: name, value: value) }
            }
        }
        guard let grpcStatus else {
            return (Status(code: .unknown, message: "trailers without grpc-status"), metadata)
        }
        return (Status(code: Status.Code(wireValue: grpcStatus), message: grpcMessage.map { PercentEncoding.decode($0) } ?? ""), metadata)
    }
}
