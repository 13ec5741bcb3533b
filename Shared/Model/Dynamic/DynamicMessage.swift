#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The type of a field's values, from libprotobuf-c's descriptors.
public enum ProtoFieldType: Sendable, Hashable {
    case int32, sint32, sfixed32, int64, sint64, sfixed64
    case uint32, fixed32, uint64, fixed64
    case float, double, bool, string, bytes
    case enumeration(ProtoEnumType)
    case message(ProtobufCMessageType)
}

/// One field of a message type, as the dynamic message and the JSON mapping see it.
public struct ProtoFieldInfo: Sendable, Hashable {
    /// Position in field-number order (what `ProtobufCReader`/`Writer` take).
    public let index: Int
    /// The name in the .proto, e.g. `region_code`.
    public let name: String
    /// The field number.
    public let number: UInt32
    /// The value type.
    public let type: ProtoFieldType
    /// Whether the field is `repeated` (maps are repeated entry messages).
    public let isRepeated: Bool
    /// Whether presence is tracked: messages, oneof members, proto2 optional and required.
    public let tracksPresence: Bool
    /// Whether the field is proto2 `required`.
    public let isRequired: Bool
    /// Fields with the same group belong to one oneof; nil for fields outside any oneof.
    public let oneofGroup: Int?

    /// The proto3 JSON name: lowerCamelCase of `name`, as protoc computes it.
    public let jsonName: String
    /// Whether this is a `map<K, V>` field (a repeated message whose type is a map entry).
    public let isMap: Bool

    /// A field as libprotobuf-c describes it; the JSON name and whether it is a map are
    /// worked out here, once per field (the JSON mapping asks for them for every field of every
    /// message it converts).
    public init(
        index: Int, name: String, number: UInt32, type: ProtoFieldType, isRepeated: Bool, tracksPresence: Bool,
        isRequired: Bool, oneofGroup: Int?
    ) {
        self.index = index
        self.name = name
        self.number = number
        self.type = type
        self.isRepeated = isRepeated
        self.tracksPresence = tracksPresence
        self.isRequired = isRequired
        self.oneofGroup = oneofGroup
        self.jsonName = Self.jsonName(of: name)
        if isRepeated, case .message(let type) = type {
            self.isMap = DescriptorPool.mapEntryTypes.contains(type.name)
        } else {
            self.isMap = false
        }
    }

    /// lowerCamelCase of a field name, as protoc computes the JSON name.
    static func jsonName(of name: String) -> String {
        var result = ""
        var upperNext = false
        for character in name {
            if character == "_" {
                upperNext = true
            } else if upperNext {
                result += character.uppercased()
                upperNext = false
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// One value of a field of a dynamic message.
public indirect enum ProtoValue: Sendable, Hashable {
    case int32(Int32)
    case int64(Int64)
    case uint32(UInt32)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case bool(Bool)
    case string(String)
    case bytes(Data)
    /// An enum value by number (kept even when the enum does not know it).
    case enumeration(Int32)
    case message(DynamicMessage)
}

/// A message of any generated type, known only by its descriptor: what the client tool and the
/// JSON mapping work with when they have a type name and bytes but no Swift type.
public struct DynamicMessage: Sendable, Hashable {
    /// The message type.
    public let type: ProtobufCMessageType
    /// The present fields by field number: singular fields hold one value, repeated fields an
    /// array. A proto3 field at its default is absent.
    public var fields: [UInt32: [ProtoValue]]

    /// An empty message of `type`.
    public init(type: ProtobufCMessageType) {
        self.type = type
        self.fields = [:]
    }

    /// Decodes wire bytes as `type`.
    /// - Throws: `ProtoDecodingError` for malformed input.
    public init(type: ProtobufCMessageType, serializedBytes bytes: [UInt8]) throws(ProtoDecodingError) {
        self = try bytes.withUnsafeBytes { raw in
            Result { () throws(ProtoDecodingError) -> DynamicMessage in
                try type.withUnpacked(raw) { (reader) throws(ProtoDecodingError) -> DynamicMessage in
                    try DynamicMessage(type: type, reader: reader)
                }
            }
        }.get()
    }

    /// The message's wire bytes, packed by libprotobuf-c.
    public func serializedBytes() -> [UInt8] {
        self.type.withPacked({ self.write(to: $0) }) { Array($0) }
    }

    private init(type: ProtobufCMessageType, reader r: ProtobufCReader) throws(ProtoDecodingError) {
        self.type = type
        self.fields = [:]
        for field in type.fields {
            if field.isRepeated {
                let values = try Self.readRepeated(field, r)
                if !values.isEmpty { self.fields[field.number] = values }
                continue
            }
            if field.tracksPresence {
                guard r.has(field.index) else { continue }
            }
            let value = try Self.readSingle(field, r)
            if field.tracksPresence || !Self.isDefault(value) {
                self.fields[field.number] = [value]
            }
        }
    }

    static func isDefault(_ value: ProtoValue) -> Bool {
        switch value {
        case .int32(let v): return v == 0
        case .int64(let v): return v == 0
        case .uint32(let v): return v == 0
        case .uint64(let v): return v == 0
        case .float(let v): return v == 0 && v.sign == .plus
        case .double(let v): return v == 0 && v.sign == .plus
        case .bool(let v): return !v
        case .string(let v): return v.isEmpty
        case .bytes(let v): return v.isEmpty
        case .enumeration(let v): return v == 0
        case .message: return false
        }
    }

    private static func readSingle(_ field: ProtoFieldInfo, _ r: ProtobufCReader) throws(ProtoDecodingError) -> ProtoValue {
        let i = field.index
        switch field.type {
        case .int32, .sint32, .sfixed32: return .int32(r.scalar(i, as: Int32.self))
        case .int64, .sint64, .sfixed64: return .int64(r.scalar(i, as: Int64.self))
        case .uint32, .fixed32: return .uint32(r.scalar(i, as: UInt32.self))
        case .uint64, .fixed64: return .uint64(r.scalar(i, as: UInt64.self))
        case .float: return .float(r.scalar(i, as: Float.self))
        case .double: return .double(r.scalar(i, as: Double.self))
        case .bool: return .bool(r.bool(i))
        case .string: return .string(try r.string(i))
        case .bytes: return .bytes(r.bytes(i))
        case .enumeration: return .enumeration(r.enumValue(i))
        case .message(let type):
            guard let sub = r.messageReader(i, type: type) else { return .message(DynamicMessage(type: type)) }
            return .message(try DynamicMessage(type: type, reader: sub))
        }
    }

    private static func readRepeated(_ field: ProtoFieldInfo, _ r: ProtobufCReader) throws(ProtoDecodingError) -> [ProtoValue] {
        let i = field.index
        switch field.type {
        case .int32, .sint32, .sfixed32: return r.repeatedScalar(i, as: Int32.self).map(ProtoValue.int32)
        case .int64, .sint64, .sfixed64: return r.repeatedScalar(i, as: Int64.self).map(ProtoValue.int64)
        case .uint32, .fixed32: return r.repeatedScalar(i, as: UInt32.self).map(ProtoValue.uint32)
        case .uint64, .fixed64: return r.repeatedScalar(i, as: UInt64.self).map(ProtoValue.uint64)
        case .float: return r.repeatedScalar(i, as: Float.self).map(ProtoValue.float)
        case .double: return r.repeatedScalar(i, as: Double.self).map(ProtoValue.double)
        case .bool: return r.repeatedBool(i).map(ProtoValue.bool)
        case .string: return try r.repeatedString(i).map(ProtoValue.string)
        case .bytes: return r.repeatedBytes(i).map(ProtoValue.bytes)
        case .enumeration: return r.repeatedEnumValues(i).map(ProtoValue.enumeration)
        case .message(let type):
            var result: [ProtoValue] = []
            for sub in r.repeatedMessageReaders(i, type: type) {
                result.append(.message(try sub.map { (s) throws(ProtoDecodingError) in try DynamicMessage(type: type, reader: s) } ?? DynamicMessage(type: type)))
            }
            return result
        }
    }

    private func write(to w: ProtobufCWriter) {
        for field in self.type.fields {
            guard let values = self.fields[field.number], !values.isEmpty else { continue }
            let i = field.index
            if field.isRepeated {
                Self.writeRepeated(field, values, w)
            } else {
                Self.writeSingle(i, values[values.count - 1], w)
            }
        }
    }

    private static func writeSingle(_ i: Int, _ value: ProtoValue, _ w: ProtobufCWriter) {
        switch value {
        case .int32(let v): w.setScalar(i, v)
        case .int64(let v): w.setScalar(i, v)
        case .uint32(let v): w.setScalar(i, v)
        case .uint64(let v): w.setScalar(i, v)
        case .float(let v): w.setScalar(i, v)
        case .double(let v): w.setScalar(i, v)
        case .bool(let v): w.setBool(i, v)
        case .string(let v): w.setString(i, v)
        case .bytes(let v): w.setBytes(i, v)
        case .enumeration(let v): w.setEnumValue(i, v)
        case .message(let m): w.setMessage(i, type: m.type) { m.write(to: $0) }
        }
    }

    private static func writeRepeated(_ field: ProtoFieldInfo, _ values: [ProtoValue], _ w: ProtobufCWriter) {
        let i = field.index
        switch field.type {
        case .int32, .sint32, .sfixed32: w.setRepeatedScalar(i, values.compactMap { if case .int32(let v) = $0 { v } else { nil } })
        case .int64, .sint64, .sfixed64: w.setRepeatedScalar(i, values.compactMap { if case .int64(let v) = $0 { v } else { nil } })
        case .uint32, .fixed32: w.setRepeatedScalar(i, values.compactMap { if case .uint32(let v) = $0 { v } else { nil } })
        case .uint64, .fixed64: w.setRepeatedScalar(i, values.compactMap { if case .uint64(let v) = $0 { v } else { nil } })
        case .float: w.setRepeatedScalar(i, values.compactMap { if case .float(let v) = $0 { v } else { nil } })
        case .double: w.setRepeatedScalar(i, values.compactMap { if case .double(let v) = $0 { v } else { nil } })
        case .bool: w.setRepeatedBool(i, values.compactMap { if case .bool(let v) = $0 { v } else { nil } })
        case .string: w.setRepeatedString(i, values.compactMap { if case .string(let v) = $0 { v } else { nil } })
        case .bytes: w.setRepeatedBytes(i, values.compactMap { if case .bytes(let v) = $0 { v } else { nil } })
        case .enumeration: w.setRepeatedEnumValues(i, values.compactMap { if case .enumeration(let v) = $0 { v } else { nil } })
        case .message(let type):
            let messages = values.compactMap { if case .message(let m) = $0 { m } else { nil } }
            w.setRepeatedMessage(i, type: type, count: messages.count) { offset, writer in messages[offset].write(to: writer) }
        }
    }
}
