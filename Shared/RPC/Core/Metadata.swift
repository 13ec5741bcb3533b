import Model

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
            case .binary(let b): return Base64Text.encode(b)
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
            if let bytes = Base64Text.decode(value) {
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
            case .binary(let bytes): return (entry.key, Base64Text.encode(bytes, padded: false))
            }
        }
    }
}
