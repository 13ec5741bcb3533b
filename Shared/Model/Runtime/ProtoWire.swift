/// Protobuf's wire format where a message is put together from bytes already encoded: a
/// length-delimited field (tag, length, bytes) appended to a message's encoding. A parser
/// reads fields in any order, so a message encoded without field N, followed by field N's
/// bytes, decodes as the message with that field set, and an already encoded sub-message is
/// not decoded and encoded again.
public enum ProtoWire {
    /// Appends field `number` holding `bytes` (an encoded message, a string's UTF-8 or bytes)
    /// as a length-delimited field (wire type 2) to `message`.
    public static func appendField(_ number: Int, lengthDelimited bytes: [UInt8], to message: inout [UInt8]) {
        message.reserveCapacity(message.count + bytes.count + 10)
        Self.appendVarint(UInt64(number) << 3 | 2, to: &message)
        Self.appendVarint(UInt64(bytes.count), to: &message)
        message.append(contentsOf: bytes)
    }

    /// A message holding only field `number`, length-delimited, with `bytes`.
    public static func field(_ number: Int, lengthDelimited bytes: [UInt8]) -> [UInt8] {
        var message: [UInt8] = []
        Self.appendField(number, lengthDelimited: bytes, to: &message)
        return message
    }

    /// Appends `value` as a base-128 varint.
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }
}
