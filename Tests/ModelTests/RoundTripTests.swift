import Model
import Testing

/// Every message type of the suite, filled from its C descriptor by libprotobuf-c, decodes into
/// the Swift model and encodes back to the very same bytes.
@Suite("Round trip of every message type through the Swift model")
struct RoundTripTests {
    static let messageNames = DescriptorPool.messageTypes.keys.sorted()

    @Test("every generated message type is in the protobuf-c table and checks its fields")
    func everyTypeIsKnown() {
        #expect(Self.messageNames.count > 100)
        for name in Self.messageNames {
            let type = DescriptorPool.messageTypes[name]!
            #expect(type.protoMessageName == name)
            #expect(type.protobufC.name == name)
            #expect(SyntheticMessages.descriptors[name] != nil, "\(name) has no protoc-c descriptor")
        }
    }

    @Test("C bytes → Swift → C bytes is the identity, for every oneof case", arguments: messageNames)
    func roundTrip(_ name: String) throws {
        let type = DescriptorPool.messageTypes[name]!
        let variants = max(3, SyntheticMessages.oneofWidth(name))
        for variant in 0..<variants {
            var synthetic = SyntheticMessages(variant: variant)
            let packed = synthetic.pack(name)
            try Self.check(type, packed, variant: variant)
        }
    }

    private static func check<M: ProtoMessage>(_ type: M.Type, _ packed: [UInt8], variant: Int) throws {
        let decoded = try M(serializedBytes: packed)
        let encoded = decoded.serializedBytes()
        #expect(encoded == packed, "\(M.protoMessageName) variant \(variant): \(packed.count) bytes in, \(encoded.count) out")
        #expect(try M(serializedBytes: encoded) == decoded)
    }

    @Test("a default message encodes to no bytes and decodes from none")
    func defaults() throws {
        for name in Self.messageNames {
            let type = DescriptorPool.messageTypes[name]!
            try Self.checkDefault(type)
        }
    }

    private static func checkDefault<M: ProtoMessage>(_ type: M.Type) throws {
        // proto2 required fields are always written, so only proto3-style messages encode to nothing.
        let empty = M()
        let bytes = empty.serializedBytes()
        if bytes.isEmpty {
            #expect(try M(serializedBytes: []) == empty)
        } else {
            #expect(try M(serializedBytes: bytes) == empty)
        }
    }
}
