import Model
import Testing

/// Messages put together from already encoded parts decode as if encoded whole.
@Suite("Protobuf wire: appending an encoded field")
struct ProtoWireTests {
    @Test("a response of one embedded message equals its full encoding")
    func embeddedResponse() throws {
        let member = RegistryV1.Member(id: "m1", name: "张三", specialties: ["中医"])
        let bytes = ProtoWire.field(1, lengthDelimited: member.serializedBytes())
        #expect(bytes == RegistryV1.CreateMemberResponse(member: member).serializedBytes())
        #expect(try RegistryV1.GetMemberResponse(serializedBytes: bytes).member == member)
    }

    @Test("a field appended after the rest decodes as set, with a length of more than one varint byte")
    func appendedField() throws {
        // A name of 300 bytes makes the member's length a two-byte varint.
        let member = RegistryV1.Member(id: "m2", name: String(repeating: "名", count: 100), version: 3)
        let event = RegistryV1.ChangeEvent(sequence: 7, changeKind: .created, entityKind: .member, entityId: "m2")
        var bytes = event.serializedBytes()
        ProtoWire.appendField(11, lengthDelimited: member.serializedBytes(), to: &bytes)
        var expected = event
        expected.member = member
        #expect(try RegistryV1.ChangeEvent(serializedBytes: bytes) == expected)
        #expect(member.serializedBytes().count > 300)
    }
}
