import Model
import Testing

/// Malformed wire bytes end in a typed `ProtoDecodingError`, never a crash or a leak.
@Suite("Malformed input")
struct MalformedInputTests {
    typealias Request = GRPCTesting.SimpleRequest

    static func valid() -> [UInt8] {
        Request(
            responseType: .compressable, responseSize: 31_415,
            payload: GRPCTesting.Payload(body: Array(repeating: 7, count: 100).withUnsafeBytes { .init($0) }),
            fillUsername: true
        ).serializedBytes()
    }

    @Test("every truncation of a valid message that cuts a field is rejected")
    func truncated() {
        let bytes = Self.valid()
        var rejected = 0
        for length in 1..<bytes.count {
            if (try? Request(serializedBytes: Array(bytes[..<length]))) == nil { rejected += 1 }
        }
        // Cuts that fall exactly between fields are valid shorter messages; every other cut fails.
        #expect(rejected >= bytes.count - 5)
        #expect(throws: ProtoDecodingError.malformed(messageType: "grpc.testing.SimpleRequest")) {
            try Request(serializedBytes: Array(bytes.dropLast()))
        }
    }

    @Test("a known field with the wrong wire type is rejected")
    func wrongWireType() {
        // field 2 (response_size, varint) sent as a 32-bit fixed value (wire type 5)
        #expect(throws: ProtoDecodingError.malformed(messageType: "grpc.testing.SimpleRequest")) {
            try Request(serializedBytes: [0x15, 1, 2, 3, 4])
        }
        // field 3 (payload, length-delimited) sent as a varint
        #expect(throws: ProtoDecodingError.malformed(messageType: "grpc.testing.SimpleRequest")) {
            try Request(serializedBytes: [0x18, 0x01])
        }
    }

    @Test("a length past the end, and a 64 MiB length prefix on a few bytes, are rejected")
    func lengthPastEnd() {
        #expect(throws: ProtoDecodingError.malformed(messageType: "grpc.testing.SimpleRequest")) {
            try Request(serializedBytes: [0x1A, 0x10, 0x12, 0x01, 0x41])
        }
        // 64 MiB = 0x4000000 as a varint: 80 80 80 20
        #expect(throws: ProtoDecodingError.malformed(messageType: "grpc.testing.SimpleRequest")) {
            try Request(serializedBytes: [0x1A, 0x80, 0x80, 0x80, 0x20, 0x12, 0x00])
        }
        // a varint that never ends
        #expect(throws: ProtoDecodingError.malformed(messageType: "grpc.testing.SimpleRequest")) {
            try Request(serializedBytes: [0x10] + Array(repeating: 0xFF, count: 11))
        }
    }

    @Test("a tag with field number 0 or a reserved wire type is rejected")
    func badTags() {
        #expect(throws: ProtoDecodingError.self) { try Request(serializedBytes: [0x00, 0x01]) }
        #expect(throws: ProtoDecodingError.self) { try Request(serializedBytes: [0x0E, 0x01]) }
    }

    @Test("a string that is not UTF-8 names its field")
    func invalidUTF8() {
        // grpc.health.v1.HealthCheckRequest.service = "\xC3\x28" (an invalid two-byte sequence)
        #expect(throws: ProtoDecodingError.invalidUTF8(messageType: "grpc.health.v1.HealthCheckRequest", field: "service")) {
            try GRPCHealthV1.HealthCheckRequest(serializedBytes: [0x0A, 0x02, 0xC3, 0x28])
        }
        // the same inside a repeated string of a nested message
        let nested: [UInt8] = [0x32, 0x06, 0x0A, 0x04, 0x61, 0xFF, 0xFE, 0x62]
        #expect(throws: ProtoDecodingError.self) {
            try GRPCReflectionV1.ServerReflectionResponse(serializedBytes: nested)
        }
    }

    @Test("unknown fields are skipped, as proto3 wants")
    func unknownFields() throws {
        // field 99 varint, then field 2 = 5
        let bytes: [UInt8] = [0x98, 0x06, 0x01, 0x10, 0x05]
        #expect(try Request(serializedBytes: bytes).responseSize == 5)
    }
}
