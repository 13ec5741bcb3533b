/// Custom metadata of a call: ordered key/value pairs sent as HTTP/2 headers or trailers.
///
/// Keys are lower-cased ASCII. Keys ending in `-bin` carry binary values, base64-encoded on
/// the wire; all other values are printable ASCII strings. Reserved headers (pseudo-headers,
/// `content-type`, `te`, `grpc-*` transport headers) never appear here.
public struct Metadata: Sendable, Hashable, Sequence {
    /// A metadata value: text for ordinary keys, bytes for `-bin` keys.
    public enum Value: Sendable, Hashable, CustomStringConvertible {
        /// An ASCII value of an ordinary key.
        case string(String)
        /// The decoded bytes of a `-bin` key.
        case binary([UInt8])

        public var description: String {
            switch self {
            case .string(let s): return s
            case .binary(let b): return Base64.encode(b, padded: true)
            }
        }
    }

    /// One key/value pair.
    public struct Entry: Sendable, Hashable {
        /// The lower-cased key.
        public var key: String
        /// The value.
        public var value: Value
    }

    private var entries: [Entry]

    /// Empty metadata.
    public init() {
        self.entries = []
    }

    /// Metadata with the given string pairs, in order.
    public init(_ elements: [(String, String)]) {
        self.entries = []
        for (key, value) in elements {
            self.add(key, value)
        }
    }

    /// The number of pairs.
    public var count: Int { self.entries.count }

    /// Whether there are no pairs.
    public var isEmpty: Bool { self.entries.isEmpty }

    /// Appends a string value; the key is lower-cased.
    public mutating func add(_ key: String, _ value: String) {
        self.entries.append(Entry(key: key.lowercased(), value: .string(value)))
    }

    /// Appends a binary value; the key is lower-cased and should end in `-bin`.
    public mutating func add(_ key: String, binary value: [UInt8]) {
        self.entries.append(Entry(key: key.lowercased(), value: .binary(value)))
    }

    /// Appends a pair.
    public mutating func add(_ entry: Entry) {
        self.entries.append(entry)
    }

    /// Removes every pair with `key`.
    public mutating func removeAll(_ key: String) {
        let key = key.lowercased()
        self.entries.removeAll { $0.key == key }
    }

    /// The first string value for `key`, if any.
    public func first(_ key: String) -> String? {
        let key = key.lowercased()
        for entry in self.entries where entry.key == key {
            if case .string(let value) = entry.value { return value }
        }
        return nil
    }

    /// The first binary value for `key`, if any.
    public func firstBinary(_ key: String) -> [UInt8]? {
        let key = key.lowercased()
        for entry in self.entries where entry.key == key {
            if case .binary(let value) = entry.value { return value }
        }
        return nil
    }

    /// Every value for `key`, in order.
    public func values(_ key: String) -> [Value] {
        let key = key.lowercased()
        return self.entries.filter { $0.key == key }.map(\.value)
    }

    public func makeIterator() -> IndexingIterator<[Entry]> {
        self.entries.makeIterator()
    }

    /// Whether a received header name is a transport header rather than custom metadata.
    static func isReserved(_ name: String) -> Bool {
        if name.utf8.first == UInt8(ascii: ":") { return true }
        switch name {
        case "content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
            "grpc-status", "grpc-message", "content-length", "connection", "host":
            return true
        default:
            return false
        }
    }

    /// Appends a header as received from the wire: `-bin` values are base64-decoded (padded or
    /// not); a value that does not decode is dropped, as gRPC implementations do.
    mutating func appendFromWire(name: String, value: String) {
        if name.hasSuffix("-bin") {
            if let bytes = Base64.decode(value) {
                self.entries.append(Entry(key: name, value: .binary(bytes)))
            }
        } else {
            self.entries.append(Entry(key: name, value: .string(value)))
        }
    }

    /// The pairs as wire headers: binary values base64-encoded without padding.
    func wireHeaders() -> [(String, String)] {
        self.entries.map { entry in
            switch entry.value {
            case .string(let value): return (entry.key, value)
            case .binary(let bytes): return (entry.key, Base64.encode(bytes, padded: false))
            }
        }
    }
}

/// Standard base64 for `-bin` metadata.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, char) in Base64.alphabet.enumerated() {
            table[Int(char)] = UInt8(index)
        }
        return table
    }()

    static func encode(_ bytes: [UInt8], padded: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(Self.alphabet[Int(n >> 18 & 63)])
            out.append(Self.alphabet[Int(n >> 12 & 63)])
            out.append(Self.alphabet[Int(n >> 6 & 63)])
            out.append(Self.alphabet[Int(n & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out.append(Self.alphabet[Int(n >> 18 & 63)])
            out.append(Self.alphabet[Int(n >> 12 & 63)])
            if padded { out.append(contentsOf: [UInt8(ascii: "="), UInt8(ascii: "=")]) }
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out.append(Self.alphabet[Int(n >> 18 & 63)])
            out.append(Self.alphabet[Int(n >> 12 & 63)])
            out.append(Self.alphabet[Int(n >> 6 & 63)])
            if padded { out.append(UInt8(ascii: "=")) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded or unpadded base64; `nil` when the text is not base64.
    static func decode(_ text: String) -> [UInt8]? {
        var chars = Array(text.utf8)
        while chars.last == UInt8(ascii: "=") { chars.removeLast() }
        if chars.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for char in chars {
            let value = Self.reverse[Int(char)]
            if value == 0xFF { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }
}
