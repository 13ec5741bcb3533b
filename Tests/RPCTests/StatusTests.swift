import NIOCore
import Model
import Testing

@testable import RPC

@Suite("Status and percent-encoding")
struct StatusTests {
    @Test func parsesWireCodes() {
        #expect(Status.Code(wireValue: "0") == .ok)
        #expect(Status.Code(wireValue: "14") == .unavailable)
        #expect(Status.Code(wireValue: "17") == .unknown)
        #expect(Status.Code(wireValue: "abc") == .unknown)
        for code in Status.Code.allCases {
            #expect(Status.Code(wireValue: code.wireValue) == code)
        }
    }

    @Test func rpcErrorIsNeverOK() {
        #expect(RPCError(code: .ok, message: "x").code == .unknown)
    }

    @Test func percentEncodesNonASCIIAndPercent() {
        #expect(PercentEncoding.encode("plain text") == "plain text")
        #expect(PercentEncoding.encode("50%") == "50%25")
        #expect(PercentEncoding.encode("\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n")
            == "%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP %F0%9F%98%88%09%0A")
    }

    @Test func percentDecodesAndToleratesGarbage() {
        let original = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
        #expect(PercentEncoding.decode(PercentEncoding.encode(original)) == original)
        #expect(PercentEncoding.decode("100%") == "100%")
        #expect(PercentEncoding.decode("%zz%4") == "%zz%4")
        #expect(PercentEncoding.decode("%FF") == "\u{FFFD}")
    }
}

@Suite("grpc-timeout")
struct TimeoutTests {
    @Test(arguments: [
        ("1H", Duration.seconds(3600)), ("2M", .seconds(120)), ("3S", .seconds(3)),
        ("4m", .milliseconds(4)), ("5u", .microseconds(5)), ("6n", .nanoseconds(6)),
        ("99999999S", .seconds(99_999_999)),
    ])
    func parses(value: String, expected: Duration) {
        #expect(GRPCTimeout.parse(value) == expected)
    }

    @Test(arguments: ["", "S", "1", "1x", "123456789S", "-1S", "1.5S", " 1S"])
    func rejects(value: String) {
        #expect(GRPCTimeout.parse(value) == nil)
    }

    @Test func formatsWithinEightDigitsRoundingUp() {
        #expect(GRPCTimeout.format(.milliseconds(250)) == "250000u")
        #expect(GRPCTimeout.format(.seconds(1)).count <= 9)
        #expect(GRPCTimeout.format(.seconds(-1)) == "1n")
        let formatted = GRPCTimeout.format(.seconds(10_000_000))
        #expect(GRPCTimeout.parse(formatted)! >= .seconds(10_000_000))
        for duration in [Duration.nanoseconds(1), .microseconds(1500), .seconds(42), .seconds(86400 * 30)] {
            let parsed = GRPCTimeout.parse(GRPCTimeout.format(duration))!
            #expect(parsed >= duration)
        }
    }
}

@Suite("Metadata")
struct MetadataTests {
    @Test func base64RoundTripsPaddedAndUnpadded() {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 200) }
            for urlSafe in [false, true] {
                #expect(Base64Text.decode(Base64Text.encode(bytes, urlSafe: urlSafe, padded: true)) == bytes)
                #expect(Base64Text.decode(Base64Text.encode(bytes, urlSafe: urlSafe, padded: false)) == bytes)
            }
        }
        #expect(Base64Text.encode(Array("ab".utf8)) == "YWI=")
        #expect(Base64Text.encode(Array("ab".utf8), padded: false) == "YWI")
        #expect(Base64Text.encode([0xFB, 0xFF], urlSafe: true, padded: false) == "-_8")
        #expect(Base64Text.encode([0xFB, 0xFF]) == "+/8=")
        #expect(Base64Text.decode("-_8") == [0xFB, 0xFF])
        #expect(Base64Text.decode("+/8=") == [0xFB, 0xFF])
        #expect(Base64Text.decode("not base64!") == nil)
        #expect(Base64Text.decode("+_8") == nil)  // two alphabets at once
        #expect(Base64Text.decode("YWJjZ") == nil)  // one character too many
        #expect(Base64Text.decode("") == [])
    }

    @Test func binaryHeadersDecodeFromWire() {
        var metadata = Metadata()
        metadata.appendFromWire(name: "x-grpc-test-echo-trailing-bin", value: "q6ur")
        metadata.appendFromWire(name: "x-user", value: "alice")
        #expect(metadata.firstBinary("x-grpc-test-echo-trailing-bin") == [0xAB, 0xAB, 0xAB])
        #expect(metadata.first("X-User") == "alice")
        #expect(metadata.wireHeaders().map(\.1) == ["q6ur", "alice"])
    }

    @Test func reservedHeadersAreNotMetadata() {
        #expect(Metadata.isReserved(":path"))
        #expect(Metadata.isReserved("grpc-timeout"))
        #expect(!Metadata.isReserved("x-custom"))
    }
}

@Suite("Message framing")
struct FramingTests {
    private func framed(_ payloads: [[UInt8]]) -> [UInt8] {
        var buffer = ByteBuffer()
        for payload in payloads {
            MessageFramer.frame(ByteBuffer(bytes: payload), compressed: false, into: &buffer)
        }
        return Array(buffer.readableBytesView)
    }

    @Test func readsMessagesSplitAtEveryByte() throws {
        let payloads: [[UInt8]] = [[1, 2, 3], [], Array(repeating: 7, count: 300)]
        let wire = self.framed(payloads)
        for split in 0...wire.count {
            var deframer = MessageDeframer(maxMessageSize: 1024)
            var received: [[UInt8]] = []
            for chunk in [wire[..<split], wire[split...]] {
                deframer.append(ByteBuffer(bytes: chunk))
                while let message = try deframer.next() {
                    received.append(Array(message.payload.readableBytesView))
                }
            }
            #expect(received == payloads)
            #expect(!deframer.hasPartialMessage)
        }
    }

    @Test func readsOneByteAtATime() throws {
        let payloads: [[UInt8]] = [[9, 8, 7, 6], [5]]
        var deframer = MessageDeframer(maxMessageSize: 1024)
        var received: [[UInt8]] = []
        for byte in self.framed(payloads) {
            deframer.append(ByteBuffer(bytes: [byte]))
            while let message = try deframer.next() {
                received.append(Array(message.payload.readableBytesView))
            }
        }
        #expect(received == payloads)
    }

    @Test func refusesOversizedMessageFromItsPrefix() {
        var deframer = MessageDeframer(maxMessageSize: 4 * 1024 * 1024)
        var prefix = ByteBuffer()
        prefix.writeInteger(UInt8(0))
        prefix.writeInteger(UInt32(10 * 1024 * 1024))
        deframer.append(prefix)
        #expect(throws: DeframingError.messageTooLarge(length: 10 * 1024 * 1024, limit: 4 * 1024 * 1024)) {
            try deframer.next()
        }
        #expect(DeframingError.messageTooLarge(length: 1, limit: 0).rpcError.code == .resourceExhausted)
    }

    @Test func refusesBadFlag() {
        var deframer = MessageDeframer(maxMessageSize: 10)
        deframer.append(ByteBuffer(bytes: [2, 0, 0, 0, 0]))
        #expect(throws: DeframingError.invalidCompressionFlag(2)) { try deframer.next() }
    }

    @Test func gzipRoundTripsAndEnforcesLimit() throws {
        let input = ByteBuffer(bytes: Array(repeating: UInt8(ascii: "a"), count: 100_000))
        let compressed = try Gzip.compress(input)
        #expect(compressed.readableBytes < 1000)
        #expect(compressed.getInteger(at: compressed.readerIndex, as: UInt16.self) == 0x1F8B)
        let output = try Gzip.decompress(compressed, limit: 1 << 20)
        #expect(output == input)
        #expect(throws: CompressionError.tooLarge(limit: 1000)) { try Gzip.decompress(compressed, limit: 1000) }
        #expect(throws: (any Error).self) { try Gzip.decompress(ByteBuffer(bytes: [1, 2, 3, 4]), limit: 1000) }
    }
}

@Suite("Request head validation")
struct RequestHeadTests {
    let base: HeaderFields = [(":method", "POST"), (":scheme", "http"), (":path", "/a.B/C"), ("content-type", "application/grpc"), ("te", "trailers")]

    @Test func acceptsGRPCContentTypes() throws {
        for type in ["application/grpc", "application/grpc+proto", "application/grpc;charset=utf-8"] {
            var fields = self.base
            fields[3] = ("content-type", type)
            #expect((try? RequestHead.parse(fields).get()) != nil)
        }
    }

    @Test func rejectsOtherContentTypeWith415() {
        var fields = self.base
        fields[3] = ("content-type", "application/json")
        guard case .failure(.http(let status, _)) = RequestHead.parse(fields) else {
            Issue.record("expected an HTTP rejection")
            return
        }
        #expect(status == "415")
    }

    @Test(arguments: [
        ("gzip", true), (" gzip ", true), ("identity,gzip", true), ("deflate, gzip, identity", true), ("gzip,", true),
        ("", false), ("identity", false), ("gzipx", false), ("x-gzip", false), (",", false), ("g zip", false),
    ])
    func acceptEncodingListIsReadItemByItem(value: String, acceptsGzip: Bool) {
        #expect(RequestHead.listContains(value, "gzip") == acceptsGzip)
    }

    @Test func parsesTimeoutEncodingAndMetadata() throws {
        var fields = self.base
        fields.append(("grpc-timeout", "100m"))
        fields.append(("grpc-encoding", "gzip"))
        fields.append(("grpc-accept-encoding", "identity, gzip"))
        fields.append(("x-id", "7"))
        fields.append(("x-b-bin", "AAE"))
        let head = try RequestHead.parse(fields).get()
        #expect(head.timeout == .milliseconds(100))
        #expect(head.encoding == .gzip)
        #expect(head.acceptsGzip)
        #expect(head.metadata.first("x-id") == "7")
        #expect(head.metadata.firstBinary("x-b-bin") == [0, 1])
    }

    @Test func unsupportedEncodingIsUnimplemented() {
        var fields = self.base
        fields.append(("grpc-encoding", "snappy"))
        guard case .failure(.grpc(let status)) = RequestHead.parse(fields) else {
            Issue.record("expected a gRPC rejection")
            return
        }
        #expect(status.code == .unimplemented)
    }
}
