#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The special JSON forms of protobuf's well-known types.
enum WellKnownJSON {
    static let wrappers: Set<String> = [
        "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
    ]

    /// The JSON of `message` when its type has a special form, else nil.
    static func json(from message: DynamicMessage, options: ProtoJSON.Options) throws(ProtoJSONError) -> JSONValue? {
        let name = message.type.name
        switch name {
        case "google.protobuf.Timestamp":
            let seconds = message.int64(1)
            let nanos = message.int32(2)
            guard let text = Timestamps.format(seconds: seconds, nanos: nanos) else {
                throw ProtoJSONError(path: "", reason: "Timestamp \(seconds)s \(nanos)ns is outside 0001-01-01 … 9999-12-31")
            }
            return .string(text)
        case "google.protobuf.Duration":
            let seconds = message.int64(1)
            let nanos = message.int32(2)
            guard abs(seconds) <= 315_576_000_000, abs(nanos) < 1_000_000_000, seconds == 0 || nanos == 0 || (seconds < 0) == (nanos < 0) else {
                throw ProtoJSONError(path: "", reason: "Duration \(seconds)s \(nanos)ns is out of range")
            }
            let negative = seconds < 0 || nanos < 0
            return .string((negative ? "-" : "") + String(abs(seconds)) + Timestamps.fraction(abs(nanos)) + "s")
        case "google.protobuf.FieldMask":
            let paths = (message.fields[1] ?? []).compactMap { if case .string(let s) = $0 { s } else { nil } }
            return .string(paths.map(Self.camelPath).joined(separator: ","))
        case "google.protobuf.Empty":
            return .object([])
        case "google.protobuf.Any":
            return try self.anyJSON(message, options)
        default:
            guard self.wrappers.contains(name) else { return nil }
            let field = message.type.fields[0]
            let value = message.fields[1]?.last ?? ProtoJSON.zero(field.type)
            return try ProtoJSON.valueJSON(field, value, options)
        }
    }

    /// The message for `json` when `type` has a special form, else nil.
    static func message(from json: JSONValue, type: ProtobufCMessageType, options: ProtoJSON.Options) throws(ProtoJSONError) -> DynamicMessage? {
        var message = DynamicMessage(type: type)
        switch type.name {
        case "google.protobuf.Timestamp":
            guard case .string(let text) = json, let (seconds, nanos) = Timestamps.parse(text) else {
                throw ProtoJSONError(path: "", reason: "expected an RFC 3339 timestamp like \"2026-11-23T10:30:00Z\", got \(ProtoJSON.kind(json))")
            }
            message.set(1, seconds == 0 ? nil : .int64(seconds))
            message.set(2, nanos == 0 ? nil : .int32(nanos))
            return message
        case "google.protobuf.Duration":
            guard case .string(let text) = json, let (seconds, nanos) = Timestamps.parseDuration(text) else {
                throw ProtoJSONError(path: "", reason: "expected a duration like \"1.5s\", got \(ProtoJSON.kind(json))")
            }
            message.set(1, seconds == 0 ? nil : .int64(seconds))
            message.set(2, nanos == 0 ? nil : .int32(nanos))
            return message
        case "google.protobuf.FieldMask":
            guard case .string(let text) = json else {
                throw ProtoJSONError(path: "", reason: "expected a field mask like \"name,nativePlace.regionCode\", got \(ProtoJSON.kind(json))")
            }
            let paths = text.split(separator: ",").map { Self.snakePath(String($0)) }
            if !paths.isEmpty { message.fields[1] = paths.map(ProtoValue.string) }
            return message
        case "google.protobuf.Empty":
            guard case .object(let members) = json, members.isEmpty || options.ignoreUnknownFields else {
                throw ProtoJSONError(path: "", reason: "expected {} for google.protobuf.Empty")
            }
            return message
        case "google.protobuf.Any":
            return try self.anyMessage(json, options)
        default:
            guard self.wrappers.contains(type.name) else { return nil }
            let field = type.fields[0]
            let value = try ProtoJSON.value(field, json, options)
            if !DynamicMessage.isDefault(value) { message.fields[1] = [value] }
            return message
        }
    }

    private static func anyJSON(_ message: DynamicMessage, _ options: ProtoJSON.Options) throws(ProtoJSONError) -> JSONValue {
        let url = message.string(1)
        if url.isEmpty && message.fields[2] == nil { return .object([]) }
        let typeName = String(url.split(separator: "/").last ?? "")
        guard let type = ProtobufCMessageType.named(typeName) else {
            throw ProtoJSONError(path: "", reason: "Any holds \(url), a type this build does not know")
        }
        let bytes: [UInt8]
        if case .bytes(let data)? = message.fields[2]?.last { bytes = Array(data) } else { bytes = [] }
        let inner: DynamicMessage
        do { inner = try DynamicMessage(type: type, serializedBytes: bytes) } catch {
            throw ProtoJSONError(path: "value", reason: error.description)
        }
        let json = try ProtoJSON.json(from: inner, options: options)
        if case .object(let members) = json, try self.json(from: inner, options: options) == nil {
            return .object([("@type", .string(url))] + members)
        }
        return .object([("@type", .string(url)), ("value", json)])
    }

    private static func anyMessage(_ json: JSONValue, _ options: ProtoJSON.Options) throws(ProtoJSONError) -> DynamicMessage {
        guard case .object(let members) = json else {
            throw ProtoJSONError(path: "", reason: "expected an object with \"@type\" for google.protobuf.Any")
        }
        var message = DynamicMessage(type: ProtobufCMessageType.named("google.protobuf.Any")!)
        guard let url = members.first(where: { $0.0 == "@type" }).map(\.1) else {
            if members.isEmpty { return message }
            throw ProtoJSONError(path: "@type", reason: "an Any needs \"@type\"")
        }
        guard case .string(let urlText) = url, let type = ProtobufCMessageType.named(String(urlText.split(separator: "/").last ?? "")) else {
            throw ProtoJSONError(path: "@type", reason: "\(ProtoJSON.kind(url)) names no message type this build knows")
        }
        let rest = members.filter { $0.0 != "@type" }
        let inner: DynamicMessage
        if try self.message(from: .object([]), type: type, options: options) != nil, type.name != "google.protobuf.Empty" {
            inner = try ProtoJSON.message(from: rest.first(where: { $0.0 == "value" })?.1 ?? .null, type: type, options: options)
        } else {
            inner = try ProtoJSON.message(from: .object(rest), type: type, options: options)
        }
        message.fields[1] = [.string(urlText)]
        message.fields[2] = [.bytes(Data(inner.serializedBytes()))]
        return message
    }

    static func camelPath(_ path: String) -> String {
        path.split(separator: ".", omittingEmptySubsequences: false).map { part in
            var out = ""
            var upper = false
            for c in part {
                if c == "_" { upper = true } else if upper { out += c.uppercased(); upper = false } else { out.append(c) }
            }
            return out
        }.joined(separator: ".")
    }

    static func snakePath(_ path: String) -> String {
        var out = ""
        for c in path {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }
}

extension DynamicMessage {
    fileprivate func int64(_ number: UInt32) -> Int64 {
        if case .int64(let v)? = self.fields[number]?.last { return v }
        return 0
    }

    fileprivate func int32(_ number: UInt32) -> Int32 {
        if case .int32(let v)? = self.fields[number]?.last { return v }
        return 0
    }

    fileprivate func string(_ number: UInt32) -> String {
        if case .string(let v)? = self.fields[number]?.last { return v }
        return ""
    }

    fileprivate mutating func set(_ number: UInt32, _ value: ProtoValue?) {
        self.fields[number] = value.map { [$0] }
    }
}

/// RFC 3339 text for protobuf Timestamps (UTC, 0001-01-01 … 9999-12-31), with no calendar
/// library: days from the civil date and back (Howard Hinnant's algorithms).
enum Timestamps {
    static let minSeconds: Int64 = -62_135_596_800  // 0001-01-01T00:00:00Z
    static let maxSeconds: Int64 = 253_402_300_799  // 9999-12-31T23:59:59Z

    static func format(seconds: Int64, nanos: Int32) -> String? {
        guard seconds >= self.minSeconds, seconds <= self.maxSeconds, nanos >= 0, nanos < 1_000_000_000 else { return nil }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (y, m, d) = self.civil(fromDays: days)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
            + self.fraction(nanos) + "Z"
    }

    /// ".5", ".000000001", or "" — 0, 3, 6 or 9 digits, as protobuf prints them.
    static func fraction(_ nanos: Int32) -> String {
        guard nanos != 0 else { return "" }
        let digits = String(nanos)
        let nine = String(repeating: "0", count: 9 - digits.count) + digits
        if nanos % 1_000_000 == 0 { return "." + nine.prefix(3) }
        if nanos % 1_000 == 0 { return "." + nine.prefix(6) }
        return "." + nine
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`.
    static func parse(_ text: String) -> (Int64, Int32)? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for c in b[from..<(from + count)] {
                guard (48...57).contains(c) else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            return v
        }
        guard b.count >= 20, let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2),
            b[10] | 0x20 == UInt8(ascii: "t"), let h = num(11, 2), b[13] == 58, let mi = num(14, 2), b[16] == 58,
            let s = num(17, 2), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 60, y >= 1
        else { return nil }
        let daysInMonth: [Int64] = [31, (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= daysInMonth[Int(mo) - 1] else { return nil }
        var i = 19
        var nanos: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, (48...57).contains(b[i]) {
                guard digits < 9 else { return nil }
                nanos = nanos * 10 + Int64(b[i] - 48)
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 { nanos *= 10 }
        }
        var offset: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] | 0x20 == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), b.count > i + 3, b[i + 3] == 58, let om = num(i + 4, 2) {
            offset = (oh * 3600 + om * 60) * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = self.days(fromCivil: y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset
        guard seconds >= self.minSeconds, seconds <= self.maxSeconds else { return nil }
        return (seconds, Int32(nanos))
    }

    /// Parses `-?\d+(\.\d{1,9})?s`.
    static func parseDuration(_ text: String) -> (Int64, Int32)? {
        guard text.hasSuffix("s") else { return nil }
        var body = Substring(text.dropLast())
        let negative = body.hasPrefix("-")
        if negative { body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0]), !parts[0].isEmpty, parts[0].allSatisfy(\.isNumber) else { return nil }
        var nanos: Int64 = 0
        if parts.count == 2 {
            let f = parts[1]
            guard !f.isEmpty, f.count <= 9, f.allSatisfy(\.isNumber), let v = Int64(f) else { return nil }
            nanos = v
            for _ in f.count..<9 { nanos *= 10 }
        }
        guard whole <= 315_576_000_000 else { return nil }
        return negative ? (-whole, Int32(-nanos)) : (whole, Int32(nanos))
    }
}
