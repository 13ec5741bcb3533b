/// A JSON document as the proto3 JSON mapping needs it: numbers keep their text, so an int64
/// like 9223372036854775807 is never rounded through a Double, and objects keep key order.
///
/// Foundation's JSONSerialization turns numbers into NSNumber/Double and cannot tell `1` from
/// `true` reliably on Linux, which the mapping must; hence this small parser.
public indirect enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number, as written.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order.
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let v): hasher.combine(v)
        case .number(let v): hasher.combine(v)
        case .string(let v): hasher.combine(v)
        case .array(let v): hasher.combine(v)
        case .object(let v):
            for (key, value) in v {
                hasher.combine(key)
                hasher.combine(value)
            }
        }
    }
}

/// Where and why JSON text could not be parsed.
public struct JSONSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Byte offset of the problem in the input.
    public let offset: Int
    /// What was wrong.
    public let reason: String
    public var description: String { "invalid JSON at byte \(self.offset): \(self.reason)" }
}

extension JSONValue {
    /// Parses one JSON document (RFC 8259); trailing non-space text is an error.
    /// - Throws: `JSONSyntaxError` with the byte offset.
    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        var parser = JSONParser(Array(text.utf8))
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.position == parser.bytes.count else { throw parser.error("unexpected text after the document") }
        return value
    }

    /// The value as compact JSON text.
    public var text: String {
        var out = ""
        self.write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let v): out += v ? "true" : "false"
        case .number(let v): out += v
        case .string(let v): Self.writeString(v, to: &out)
        case .array(let values):
            out += "["
            for (i, v) in values.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (k, v)) in members.enumerated() {
                if i > 0 { out += "," }
                Self.writeString(k, to: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }

    /// The value as indented JSON text (two spaces), for people.
    public var prettyText: String {
        var out = ""
        self.writePretty(to: &out, indent: "")
        return out
    }

    private func writePretty(to out: inout String, indent: String) {
        let inner = indent + "  "
        switch self {
        case .array(let values) where !values.isEmpty:
            out += "[\n"
            for (i, v) in values.enumerated() {
                out += inner
                v.writePretty(to: &out, indent: inner)
                out += i < values.count - 1 ? ",\n" : "\n"
            }
            out += indent + "]"
        case .object(let members) where !members.isEmpty:
            out += "{\n"
            for (i, (k, v)) in members.enumerated() {
                out += inner
                Self.writeString(k, to: &out)
                out += ": "
                v.writePretty(to: &out, indent: inner)
                out += i < members.count - 1 ? ",\n" : "\n"
            }
            out += indent + "}"
        default:
            self.write(to: &out)
        }
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var position = 0
    static let maxDepth = 100

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func error(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(offset: self.position, reason: reason) }

    mutating func skipSpace() {
        while self.position < self.bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(self.bytes[self.position]) {
            self.position += 1
        }
    }

    mutating func expect(_ literal: String, _ value: JSONValue) throws(JSONSyntaxError) -> JSONValue {
        let utf8 = Array(literal.utf8)
        guard self.position + utf8.count <= self.bytes.count,
            Array(self.bytes[self.position..<(self.position + utf8.count)]) == utf8
        else { throw self.error("expected \(literal)") }
        self.position += utf8.count
        return value
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth < Self.maxDepth else { throw self.error("nested more than \(Self.maxDepth) levels") }
        guard self.position < self.bytes.count else { throw self.error("unexpected end of input") }
        switch self.bytes[self.position] {
        case UInt8(ascii: "n"): return try self.expect("null", .null)
        case UInt8(ascii: "t"): return try self.expect("true", .bool(true))
        case UInt8(ascii: "f"): return try self.expect("false", .bool(false))
        case UInt8(ascii: "\""): return .string(try self.string())
        case UInt8(ascii: "["):
            self.position += 1
            var values: [JSONValue] = []
            self.skipSpace()
            if self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: "]") {
                self.position += 1
                return .array(values)
            }
            while true {
                self.skipSpace()
                values.append(try self.value(depth: depth + 1))
                self.skipSpace()
                guard self.position < self.bytes.count else { throw self.error("unterminated array") }
                let c = self.bytes[self.position]
                self.position += 1
                if c == UInt8(ascii: "]") { return .array(values) }
                guard c == UInt8(ascii: ",") else { throw self.error("expected , or ] in array") }
            }
        case UInt8(ascii: "{"):
            self.position += 1
            var members: [(String, JSONValue)] = []
            self.skipSpace()
            if self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: "}") {
                self.position += 1
                return .object(members)
            }
            while true {
                self.skipSpace()
                guard self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: "\"") else {
                    throw self.error("expected a quoted member name")
                }
                let key = try self.string()
                self.skipSpace()
                guard self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: ":") else {
                    throw self.error("expected : after member name")
                }
                self.position += 1
                self.skipSpace()
                members.append((key, try self.value(depth: depth + 1)))
                self.skipSpace()
                guard self.position < self.bytes.count else { throw self.error("unterminated object") }
                let c = self.bytes[self.position]
                self.position += 1
                if c == UInt8(ascii: "}") { return .object(members) }
                guard c == UInt8(ascii: ",") else { throw self.error("expected , or } in object") }
            }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try self.number())
        default:
            throw self.error("unexpected character")
        }
    }

    mutating func number() throws(JSONSyntaxError) -> String {
        let start = self.position
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.position
            while p.position < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.position]) { p.position += 1 }
            return p.position - s
        }
        if self.bytes[self.position] == UInt8(ascii: "-") { self.position += 1 }
        guard digits(&self) > 0 else { throw self.error("expected digits") }
        if self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: ".") {
            self.position += 1
            guard digits(&self) > 0 else { throw self.error("expected digits after .") }
        }
        if self.position < self.bytes.count, self.bytes[self.position] | 0x20 == UInt8(ascii: "e") {
            self.position += 1
            if self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: "+") || self.bytes[self.position] == UInt8(ascii: "-") {
                self.position += 1
            }
            guard digits(&self) > 0 else { throw self.error("expected exponent digits") }
        }
        return String(decoding: self.bytes[start..<self.position], as: UTF8.self)
    }

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard self.position + 4 <= self.bytes.count,
            let v = UInt32(String(decoding: self.bytes[self.position..<(self.position + 4)], as: UTF8.self), radix: 16)
        else { throw self.error("bad \\u escape") }
        self.position += 4
        return v
    }

    mutating func string() throws(JSONSyntaxError) -> String {
        self.position += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var runStart = self.position
        var result = ""
        while true {
            guard self.position < self.bytes.count else { throw self.error("unterminated string") }
            let c = self.bytes[self.position]
            if c == UInt8(ascii: "\"") {
                result += String(decoding: self.bytes[runStart..<self.position], as: UTF8.self)
                self.position += 1
                return result
            }
            if c < 0x20 { throw self.error("control character in string") }
            if c != UInt8(ascii: "\\") {
                self.position += 1
                continue
            }
            result += String(decoding: self.bytes[runStart..<self.position], as: UTF8.self)
            self.position += 1
            guard self.position < self.bytes.count else { throw self.error("unterminated escape") }
            let e = self.bytes[self.position]
            self.position += 1
            scalars.removeAll()
            switch e {
            case UInt8(ascii: "\""): result += "\""
            case UInt8(ascii: "\\"): result += "\\"
            case UInt8(ascii: "/"): result += "/"
            case UInt8(ascii: "b"): result += "\u{08}"
            case UInt8(ascii: "f"): result += "\u{0C}"
            case UInt8(ascii: "n"): result += "\n"
            case UInt8(ascii: "r"): result += "\r"
            case UInt8(ascii: "t"): result += "\t"
            case UInt8(ascii: "u"):
                var v = try self.hex4()
                if (0xD800...0xDBFF).contains(v) {
                    guard self.position + 2 <= self.bytes.count, self.bytes[self.position] == UInt8(ascii: "\\"),
                        self.bytes[self.position + 1] == UInt8(ascii: "u")
                    else { throw self.error("lone surrogate in \\u escape") }
                    self.position += 2
                    let low = try self.hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw self.error("bad surrogate pair") }
                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(v) else { throw self.error("lone surrogate in \\u escape") }
                result.unicodeScalars.append(scalar)
            default:
                throw self.error("bad escape \\\(Character(Unicode.Scalar(e)))")
            }
            runStart = self.position
        }
    }
}
