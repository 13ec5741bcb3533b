// This test-support file is the only one of ModelTests that imports CProtobufC and
// CTongxinProtos: it fills a protobuf-c message of any type with synthetic values straight from
// its C descriptor and packs it, so the Swift model can be checked against libprotobuf-c for
// every field of every message with no per-message test code.
import CProtobufC
import CTongxinProtos

/// Packs synthetic messages of any generated type with libprotobuf-c itself.
struct SyntheticMessages {
    /// Which values to use: variant 0 uses extremes, 1 unknown enum values and empty
    /// repeated fields, 2 long repeated fields; variant `k` picks the k-th member of each oneof.
    let variant: Int
    private var allocations: [UnsafeMutableRawPointer] = []

    init(variant: Int) { self.variant = variant }

    /// Every message descriptor protoc-c generated, by full name.
    nonisolated(unsafe) static let descriptors: [String: UnsafePointer<ProtobufCMessageDescriptor>] = {
        var result: [String: UnsafePointer<ProtobufCMessageDescriptor>] = [:]
        for index in 0..<CTongxinProtos_message_descriptor_count() {
            let d = CTongxinProtos_message_descriptor(index)!
            result[String(cString: d.pointee.name)] = d
        }
        return result
    }()

    /// The largest number of members of any oneof of `name` and the messages below it, so the
    /// caller knows how many variants cover every oneof case.
    static func oneofWidth(_ name: String, depth: Int = 0) -> Int {
        guard depth < 3, let d = self.descriptors[name]?.pointee else { return 1 }
        var width = 1
        var perOneof: [UInt32: Int] = [:]
        for i in 0..<Int(d.n_fields) {
            let f = d.fields[i]
            if f.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0 {
                perOneof[f.quantifier_offset, default: 0] += 1
            }
            if f.type == PROTOBUF_C_TYPE_MESSAGE, let sub = f.descriptor {
                let subName = String(cString: sub.assumingMemoryBound(to: ProtobufCMessageDescriptor.self).pointee.name)
                width = max(width, self.oneofWidth(subName, depth: depth + 1))
            }
        }
        return max(width, perOneof.values.max() ?? 1)
    }

    /// The wire bytes of a synthetic `name` message, packed by libprotobuf-c.
    mutating func pack(_ name: String) -> [UInt8] {
        let descriptor = Self.descriptors[name]!
        let message = self.build(descriptor, depth: 0)
        let size = protobuf_c_message_get_packed_size(message)
        var bytes = [UInt8](repeating: 0, count: size)
        _ = bytes.withUnsafeMutableBufferPointer { protobuf_c_message_pack(message, $0.baseAddress!) }
        for allocation in self.allocations { allocation.deallocate() }
        self.allocations.removeAll()
        return bytes
    }

    private mutating func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 16)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(size, 1))
        self.allocations.append(pointer)
        return pointer
    }

    private mutating func cString(_ value: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(value.utf8) + [0]
        let pointer = self.allocate(utf8.count)
        pointer.copyMemory(from: utf8, byteCount: utf8.count)
        return pointer.assumingMemoryBound(to: CChar.self)
    }

    private mutating func build(
        _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, depth: Int
    ) -> UnsafeMutablePointer<ProtobufCMessage> {
        let d = descriptor.pointee
        let raw = self.allocate(d.sizeof_message)
        let message = raw.bindMemory(to: ProtobufCMessage.self, capacity: 1)
        d.message_init(message)
        var oneofSeen: [UInt32: Int] = [:]
        for i in 0..<Int(d.n_fields) {
            let f = d.fields[i]
            let member = raw + Int(f.offset)
            if f.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0 {
                let position = oneofSeen[f.quantifier_offset, default: 0]
                oneofSeen[f.quantifier_offset] = position + 1
                let members = (0..<Int(d.n_fields)).filter { d.fields[$0].quantifier_offset == f.quantifier_offset && d.fields[$0].flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0 }.count
                guard position == self.variant % members else { continue }
                if f.type == PROTOBUF_C_TYPE_MESSAGE && depth >= 3 { continue }
                (raw + Int(f.quantifier_offset)).storeBytes(of: f.id, as: UInt32.self)
                self.storeValue(f, at: member, depth: depth, ordinal: 0)
                continue
            }
            if f.label == PROTOBUF_C_LABEL_REPEATED {
                if f.type == PROTOBUF_C_TYPE_MESSAGE && depth >= 3 { continue }
                let isMap = f.type == PROTOBUF_C_TYPE_MESSAGE
                    && String(cString: f.descriptor!.assumingMemoryBound(to: ProtobufCMessageDescriptor.self).pointee.short_name).hasSuffix("Entry")
                let count = isMap ? min(1, self.repeatCount(depth)) : self.repeatCount(depth)
                guard count > 0 else { continue }
                let stride = Self.elementSize(f.type)
                let array = self.allocate(stride * count)
                for k in 0..<count { self.storeValue(f, at: array + k * stride, depth: depth, ordinal: k) }
                (raw + Int(f.quantifier_offset)).storeBytes(of: count, as: Int.self)
                member.storeBytes(of: array, as: UnsafeMutableRawPointer.self)
                continue
            }
            if f.type == PROTOBUF_C_TYPE_MESSAGE && depth >= 3 { continue }
            self.storeValue(f, at: member, depth: depth, ordinal: 0)
            if f.label == PROTOBUF_C_LABEL_OPTIONAL && f.type != PROTOBUF_C_TYPE_MESSAGE && f.type != PROTOBUF_C_TYPE_STRING {
                (raw + Int(f.quantifier_offset)).storeBytes(of: 1, as: protobuf_c_boolean.self)
            }
        }
        return message
    }

    /// Long repeated fields only at the top, so nested repeated messages stay small.
    private func repeatCount(_ depth: Int) -> Int { [2, 0, depth == 0 ? 300 : 2][self.variant % 3] }

    private static func elementSize(_ type: ProtobufCType) -> Int {
        switch type {
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64,
            PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64, PROTOBUF_C_TYPE_DOUBLE:
            return 8
        case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_MESSAGE:
            return MemoryLayout<UnsafeRawPointer>.stride
        case PROTOBUF_C_TYPE_BYTES:
            return MemoryLayout<ProtobufCBinaryData>.stride
        default:
            return 4
        }
    }

    private mutating func storeValue(_ f: ProtobufCFieldDescriptor, at p: UnsafeMutableRawPointer, depth: Int, ordinal: Int) {
        let v = self.variant
        switch f.type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32:
            p.storeBytes(of: [Int32.min, Int32.max, -1][(v + ordinal) % 3], as: Int32.self)
        case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32:
            p.storeBytes(of: [UInt32.max, 1, 0x8000_0000][(v + ordinal) % 3], as: UInt32.self)
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64:
            p.storeBytes(of: [Int64.min, Int64.max, -1][(v + ordinal) % 3], as: Int64.self)
        case PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64:
            p.storeBytes(of: [UInt64.max, 1, 1 << 63][(v + ordinal) % 3], as: UInt64.self)
        case PROTOBUF_C_TYPE_FLOAT:
            p.storeBytes(of: [Float(-1.5), .greatestFiniteMagnitude, .leastNonzeroMagnitude][(v + ordinal) % 3], as: Float.self)
        case PROTOBUF_C_TYPE_DOUBLE:
            p.storeBytes(of: [-2.25, Double.greatestFiniteMagnitude, .infinity][(v + ordinal) % 3], as: Double.self)
        case PROTOBUF_C_TYPE_BOOL:
            p.storeBytes(of: 1, as: protobuf_c_boolean.self)
        case PROTOBUF_C_TYPE_ENUM:
            let e = f.descriptor!.assumingMemoryBound(to: ProtobufCEnumDescriptor.self).pointee
            // variant 1 writes a number no enum of the suite knows; the others the last known value.
            let value: Int32 = v % 3 == 1 ? 7777 : e.values[Int(e.n_values) - 1].value
            p.storeBytes(of: value, as: Int32.self)
        case PROTOBUF_C_TYPE_STRING:
            let text = ["同心聚力·共同缔造 \(String(cString: f.name)) #\(ordinal)", "x", "乡村振兴 🌾 \(ordinal)"][(v + ordinal) % 3]
            p.storeBytes(of: self.cString(text), as: UnsafeMutablePointer<CChar>.self)
        case PROTOBUF_C_TYPE_BYTES:
            let bytes: [UInt8] = [0, 1, 2, 0xFF, UInt8(ordinal & 0xFF)]
            let data = self.allocate(bytes.count)
            data.copyMemory(from: bytes, byteCount: bytes.count)
            p.storeBytes(
                of: ProtobufCBinaryData(len: bytes.count, data: data.assumingMemoryBound(to: UInt8.self)),
                as: ProtobufCBinaryData.self)
        case PROTOBUF_C_TYPE_MESSAGE:
            let sub = f.descriptor!.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
            p.storeBytes(of: UnsafeMutableRawPointer(self.build(sub, depth: depth + 1)), as: UnsafeMutableRawPointer.self)
        default:
            preconditionFailure("unexpected protobuf-c type \(f.type)")
        }
    }
}
