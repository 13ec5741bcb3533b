#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why JSON could not be mapped onto a message, naming the field path (e.g. `member.birthDate.year`).
public struct ProtoJSONError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The JSON path of the offending value; empty for the top-level message.
    public let path: String
    /// What was wrong, in words a caller understands.
    public let reason: String

    public var description: String {
        self.path.isEmpty ? self.reason : "field \(self.path): \(self.reason)"
    }
}

/// The proto3 JSON mapping (protobuf's `json_format`), driven by the embedded descriptors so
/// every message of every service works with no per-message code: lowerCamelCase names
/// (proto names accepted on input), enums by name, 64-bit integers as strings, bytes as base64,
/// `Timestamp` as RFC 3339, `Duration` as `"1.5s"`, wrappers as plain values, `FieldMask` as
/// `"a,b.c"`, `Any` with `@type`, maps as objects.
public enum ProtoJSON {
    /// How messages are printed and parsed.
    public struct Options: Sendable, Hashable {
        /// Print proto3 fields at their default value too (not oneof members or absent messages).
        public var emitDefaults = false
        /// Skip JSON members that name no field instead of failing.
        public var ignoreUnknownFields = false
        /// Print the names of the .proto (`region_code`) instead of JSON names (`regionCode`).
        public var preserveProtoNames = false

        public init(emitDefaults: Bool = false, ignoreUnknownFields: Bool = false, preserveProtoNames: Bool = false) {
            self.emitDefaults = emitDefaults
            self.ignoreUnknownFields = ignoreUnknownFields
            self.preserveProtoNames = preserveProtoNames
        }
    }

    /// Parses `text` as JSON for the message type `typeName` and returns its wire bytes.
    /// - Throws: `ProtoJSONError` for unknown types, malformed JSON, unknown fields, wrong types.
    public static func serializedBytes(
        fromJSON text: String, messageType typeName: String, options: Options = Options()
    ) throws(ProtoJSONError) -> [UInt8] {
        guard let type = ProtobufCMessageType.named(typeName) else {
            throw ProtoJSONError(path: "", reason: "unknown message type \(typeName)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw ProtoJSONError(path: "", reason: error.description) }
        return try self.message(from: json, type: type, options: options).serializedBytes()
    }

    /// Decodes wire bytes of `typeName` and prints them as JSON.
    /// - Throws: `ProtoJSONError` for unknown types or malformed bytes.
    public static func json(
        fromSerializedBytes bytes: [UInt8], messageType typeName: String, options: Options = Options()
    ) throws(ProtoJSONError) -> JSONValue {
        guard let type = ProtobufCMessageType.named(typeName) else {
            throw ProtoJSONError(path: "", reason: "unknown message type \(typeName)")
        }
        let message: DynamicMessage
        do { message = try DynamicMessage(type: type, serializedBytes: bytes) } catch {
            throw ProtoJSONError(path: "", reason: error.description)
        }
        return try self.json(from: message, options: options)
    }

    // MARK: message → JSON

    /// The JSON of a dynamic message.
    /// - Throws: `ProtoJSONError` only for values JSON cannot carry (an `Any` of an unknown
    ///   type, a Timestamp out of range).
    public static func json(from message: DynamicMessage, options: Options = Options()) throws(ProtoJSONError) -> JSONValue {
        if let special = try WellKnownJSON.json(from: message, options: options) { return special }
        var members: [(String, JSONValue)] = []
        for field in message.type.fields {
            let key = options.preserveProtoNames ? field.name : field.jsonName
            guard let values = message.fields[field.number] else {
                if options.emitDefaults && !field.tracksPresence {
                    members.append((key, self.defaultJSON(field)))
                }
                continue
            }
            if field.isMap {
                members.append((key, try self.mapJSON(field, values, options)))
            } else if field.isRepeated {
                var array: [JSONValue] = []
                for value in values { array.append(try self.valueJSON(field, value, options)) }
                members.append((key, .array(array)))
            } else if let value = values.last {
                members.append((key, try self.valueJSON(field, value, options)))
            }
        }
        return .object(members)
    }

    private static func defaultJSON(_ field: ProtoFieldInfo) -> JSONValue {
        if field.isRepeated { return field.isMap ? .object([]) : .array([]) }
        switch field.type {
        case .int64, .sint64, .sfixed64, .uint64, .fixed64: return .string("0")
        case .int32, .sint32, .sfixed32, .uint32, .fixed32, .float, .double: return .number("0")
        case .bool: return .bool(false)
        case .string, .bytes: return .string("")
        case .enumeration(let e): return e.name(of: 0).map(JSONValue.string) ?? .number("0")
        case .message: return .null
        }
    }

    private static func mapJSON(_ field: ProtoFieldInfo, _ values: [ProtoValue], _ options: Options) throws(ProtoJSONError) -> JSONValue {
        guard case .message(let entryType) = field.type else { return .object([]) }
        let entryFields = entryType.fields
        var members: [(String, JSONValue)] = []
        for value in values {
            guard case .message(let entry) = value else { continue }
            let key = entry.fields[1]?.last.map(Self.mapKeyText) ?? Self.mapKeyText(Self.zero(entryFields[0].type))
            let valueField = entryFields[1]
            let v = try entry.fields[2]?.last.map { (v) throws(ProtoJSONError) in try self.valueJSON(valueField, v, options) }
                ?? self.defaultJSON(valueField)
            members.append((key, v == .null ? .object([]) : v))
        }
        return .object(members)
    }

    private static func mapKeyText(_ value: ProtoValue) -> String {
        switch value {
        case .string(let s): return s
        case .int32(let v): return String(v)
        case .int64(let v): return String(v)
        case .uint32(let v): return String(v)
        case .uint64(let v): return String(v)
        case .bool(let v): return v ? "true" : "false"
        default: return ""
        }
    }

    static func zero(_ type: ProtoFieldType) -> ProtoValue {
        switch type {
        case .int32, .sint32, .sfixed32: return .int32(0)
        case .int64, .sint64, .sfixed64: return .int64(0)
        case .uint32, .fixed32: return .uint32(0)
        case .uint64, .fixed64: return .uint64(0)
        case .float: return .float(0)
        case .double: return .double(0)
        case .bool: return .bool(false)
        case .string: return .string("")
        case .bytes: return .bytes(Data())
        case .enumeration: return .enumeration(0)
        case .message(let t): return .message(DynamicMessage(type: t))
        }
    }

    static func valueJSON(_ field: ProtoFieldInfo, _ value: ProtoValue, _ options: Options) throws(ProtoJSONError) -> JSONValue {
        switch value {
        case .int32(let v): return .number(String(v))
        case .uint32(let v): return .number(String(v))
        case .int64(let v): return .string(String(v))
        case .uint64(let v): return .string(String(v))
        case .float(let v): return self.floatingJSON(Double(v), text: "\(v)")
        case .double(let v): return self.floatingJSON(v, text: "\(v)")
        case .bool(let v): return .bool(v)
        case .string(let v): return .string(v)
        case .bytes(let v): return .string(Base64Text.encode(v))
        case .enumeration(let v):
            if case .enumeration(let e) = field.type, let name = e.name(of: v) { return .string(name) }
            return .number(String(v))
        case .message(let m):
            do { return try self.json(from: m, options: options) } catch {
                throw ProtoJSONError(path: self.join(field.jsonName, error.path), reason: error.reason)
            }
        }
    }

    private static func floatingJSON(_ v: Double, text: String) -> JSONValue {
        if v.isNaN { return .string("NaN") }
        if v.isInfinite { return .string(v < 0 ? "-Infinity" : "Infinity") }
        // Swift prints the shortest text that round-trips; JSON has no "1e+20" issue, but
        // integral values print as "1.0": keep that as "1".
        return .number(text.hasSuffix(".0") ? String(text.dropLast(2)) : text)
    }

    static func join(_ a: String, _ b: String) -> String { b.isEmpty ? a : a + "." + b }

    // MARK: JSON → message

    /// A dynamic message of `type` from its JSON.
    /// - Throws: `ProtoJSONError` naming the field path for unknown fields and wrong types.
    public static func message(from json: JSONValue, type: ProtobufCMessageType, options: Options = Options()) throws(ProtoJSONError) -> DynamicMessage {
        if let special = try WellKnownJSON.message(from: json, type: type, options: options) { return special }
        guard case .object(let members) = json else {
            throw ProtoJSONError(path: "", reason: "expected a JSON object for \(type.name), got \(Self.kind(json))")
        }
        let byName = type.fieldsByName
        var message = DynamicMessage(type: type)
        var oneofSeen: [Int: String] = [:]
        for (key, value) in members {
            guard let field = byName[key] else {
                if options.ignoreUnknownFields { continue }
                throw ProtoJSONError(path: key, reason: "\(type.name) has no field named \"\(key)\"")
            }
            // null means "absent" for every field type of the suite (there is no google.protobuf.Value).
            if value == .null { continue }
            if let group = field.oneofGroup {
                if let other = oneofSeen[group], other != key {
                    throw ProtoJSONError(path: key, reason: "\"\(other)\" and \"\(key)\" belong to the same oneof; set at most one")
                }
                oneofSeen[group] = key
            }
            do {
                message.fields[field.number] = try self.fieldValues(field, value, options)
            } catch {
                throw ProtoJSONError(path: self.join(key, error.path), reason: error.reason)
            }
        }
        return message
    }

    private static func fieldValues(_ field: ProtoFieldInfo, _ json: JSONValue, _ options: Options) throws(ProtoJSONError) -> [ProtoValue] {
        if field.isMap {
            guard case .object(let members) = json, case .message(let entryType) = field.type else {
                throw ProtoJSONError(path: "", reason: "expected a JSON object (a map), got \(Self.kind(json))")
            }
            let entryFields = entryType.fields
            var result: [ProtoValue] = []
            for (key, value) in members {
                var entry = DynamicMessage(type: entryType)
                do {
                    entry.fields[1] = [try self.mapKey(entryFields[0].type, key)]
                    entry.fields[2] = [try self.value(entryFields[1], value, options)]
                } catch {
                    throw ProtoJSONError(path: self.join(key, error.path), reason: error.reason)
                }
                result.append(.message(entry))
            }
            return result
        }
        if field.isRepeated {
            guard case .array(let items) = json else {
                throw ProtoJSONError(path: "", reason: "expected a JSON array, got \(Self.kind(json))")
            }
            var result: [ProtoValue] = []
            for (i, item) in items.enumerated() {
                do { result.append(try self.value(field, item, options)) } catch {
                    throw ProtoJSONError(path: self.join("\(i)", error.path), reason: error.reason)
                }
            }
            return result
        }
        return [try self.value(field, json, options)]
    }

    private static func mapKey(_ type: ProtoFieldType, _ key: String) throws(ProtoJSONError) -> ProtoValue {
        switch type {
        case .string: return .string(key)
        case .bool:
            guard key == "true" || key == "false" else { throw ProtoJSONError(path: "", reason: "map key \"\(key)\" is not true or false") }
            return .bool(key == "true")
        default:
            return try self.integer(type, .string(key))
        }
    }

    static func value(_ field: ProtoFieldInfo, _ json: JSONValue, _ options: Options) throws(ProtoJSONError) -> ProtoValue {
        switch field.type {
        case .int32, .sint32, .sfixed32, .int64, .sint64, .sfixed64, .uint32, .fixed32, .uint64, .fixed64:
            return try self.integer(field.type, json)
        case .float, .double:
            let v: Double
            switch json {
            case .number(let text): v = Double(text) ?? .nan
            case .string("NaN"): v = .nan
            case .string("Infinity"): v = .infinity
            case .string("-Infinity"): v = -.infinity
            case .string(let text):
                guard let parsed = Double(text), !text.isEmpty else {
                    throw ProtoJSONError(path: "", reason: "expected a number, got the string \"\(text)\"")
                }
                v = parsed
            default: throw ProtoJSONError(path: "", reason: "expected a number, got \(Self.kind(json))")
            }
            if case .float = field.type {
                guard v.isNaN || v.isInfinite || abs(v) <= Double(Float.greatestFiniteMagnitude) else {
                    throw ProtoJSONError(path: "", reason: "\(v) is out of range for a float")
                }
                return .float(Float(v))
            }
            return .double(v)
        case .bool:
            guard case .bool(let v) = json else { throw ProtoJSONError(path: "", reason: "expected true or false, got \(Self.kind(json))") }
            return .bool(v)
        case .string:
            guard case .string(let v) = json else { throw ProtoJSONError(path: "", reason: "expected a string, got \(Self.kind(json))") }
            return .string(v)
        case .bytes:
            guard case .string(let v) = json else { throw ProtoJSONError(path: "", reason: "expected base64 text, got \(Self.kind(json))") }
            guard let data = Self.base64(v) else { throw ProtoJSONError(path: "", reason: "\"\(v.prefix(40))\" is not base64") }
            return .bytes(data)
        case .enumeration(let e):
            switch json {
            case .string(let name):
                guard let number = e.number(of: name) else {
                    let known = e.values.map(\.name).joined(separator: ", ")
                    throw ProtoJSONError(path: "", reason: "\"\(name)\" is not a value of \(e.name) (one of \(known))")
                }
                return .enumeration(number)
            case .number:
                guard case .int32(let v) = try self.integer(.int32, json) else { return .enumeration(0) }
                return .enumeration(v)
            default:
                throw ProtoJSONError(path: "", reason: "expected an enum name of \(e.name), got \(Self.kind(json))")
            }
        case .message(let type):
            return .message(try self.message(from: json, type: type, options: options))
        }
    }

    static func integer(_ type: ProtoFieldType, _ json: JSONValue) throws(ProtoJSONError) -> ProtoValue {
        let text: String
        switch json {
        case .number(let t): text = t
        case .string(let t): text = t
        default: throw ProtoJSONError(path: "", reason: "expected an integer, got \(Self.kind(json))")
        }
        func fail() -> ProtoJSONError { ProtoJSONError(path: "", reason: "\"\(text)\" is not an integer in range for \(type)") }
        // Integers may be written with an exponent or ".0" (e.g. 1e3); they must still be whole.
        var whole = text
        if Int64(text) == nil && UInt64(text) == nil {
            guard let d = Double(text), d.rounded() == d, abs(d) < 1.8446744073709552e19 else { throw fail() }
            whole = d < 0 ? String(Int64(d)) : String(UInt64(d))
        }
        switch type {
        case .int32, .sint32, .sfixed32:
            guard let v = Int32(whole) else { throw fail() }
            return .int32(v)
        case .uint32, .fixed32:
            guard let v = UInt32(whole) else { throw fail() }
            return .uint32(v)
        case .int64, .sint64, .sfixed64:
            guard let v = Int64(whole) else { throw fail() }
            return .int64(v)
        default:
            guard let v = UInt64(whole) else { throw fail() }
            return .uint64(v)
        }
    }

    static func base64(_ text: String) -> Data? {
        Base64Text.decode(text).map { Data($0) }
    }

    static func kind(_ json: JSONValue) -> String {
        switch json {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number(let n): return "the number \(n)"
        case .string(let s): return "the string \"\(s.prefix(40))\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
