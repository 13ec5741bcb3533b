/// One SQL value as both engines store it: the storage classes of SQLite, onto which
/// PostgreSQL's `bigint`/`integer`, `double precision`, `text` and `bytea` map one to one.
public enum SQLValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// A 64-bit integer (SQLite INTEGER; PostgreSQL int2, int4, int8, and boolean as 0 or 1).
    case integer(Int64)
    /// A double (SQLite REAL; PostgreSQL float4, float8).
    case real(Double)
    /// UTF-8 text.
    case text(String)
    /// Bytes (SQLite BLOB; PostgreSQL bytea).
    case blob([UInt8])
}

extension SQLValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByNilLiteral {
    /// An integer literal as `.integer`.
    public init(integerLiteral value: Int64) {
        self = .integer(value)
    }

    /// A string literal as `.text`.
    public init(stringLiteral value: String) {
        self = .text(value)
    }

    /// `nil` as `.null`.
    public init(nilLiteral: ()) {
        self = .null
    }
}

extension SQLValue {
    /// An `Int` as `.integer`.
    public static func int(_ value: Int) -> SQLValue {
        .integer(Int64(value))
    }

    /// A `Bool` as `.integer` 0 or 1: both engines compare it with integer columns.
    public static func bool(_ value: Bool) -> SQLValue {
        .integer(value ? 1 : 0)
    }

    /// The value as an integer, or nil unless it is `.integer` (or a whole `.real`).
    public var integerValue: Int64? {
        switch self {
        case .integer(let value):
            return value
        case .real(let value):
            return Int64(exactly: value)
        case .null, .text, .blob:
            return nil
        }
    }

    /// The value as text, or nil unless it is `.text`.
    public var textValue: String? {
        if case .text(let value) = self {
            return value
        }
        return nil
    }

    /// The value as bytes: `.blob` as is, `.text` as its UTF-8; nil otherwise.
    public var bytesValue: [UInt8]? {
        switch self {
        case .blob(let bytes):
            return bytes
        case .text(let text):
            return Array(text.utf8)
        case .null, .integer, .real:
            return nil
        }
    }
}

/// One row of a result: the values in the order of the statement's result columns, and their
/// names. Column names are the statement's (lower case on PostgreSQL unless quoted, so the
/// business SQL writes them in lower case).
public struct SQLRow: Sendable, Hashable {
    /// The result column names, in order.
    public let columns: [String]

    /// The values, in the order of ``columns``.
    public let values: [SQLValue]

    /// A row of `values` named by `columns` (same count).
    public init(columns: [String], values: [SQLValue]) {
        precondition(columns.count == values.count, "a row needs one name per value")
        self.columns = columns
        self.values = values
    }

    /// The value at `index` (0-based).
    public subscript(index: Int) -> SQLValue {
        self.values[index]
    }

    /// The value of the column named `name`, or `.null` when there is no such column.
    public subscript(name: String) -> SQLValue {
        guard let index = self.columns.firstIndex(of: name) else {
            return .null
        }
        return self.values[index]
    }

    /// The integer at `index`, 0 when NULL.
    public func int64(_ index: Int) -> Int64 {
        self.values[index].integerValue ?? 0
    }

    /// The integer at `index` as `Int`, 0 when NULL.
    public func int(_ index: Int) -> Int {
        Int(self.int64(index))
    }

    /// The text at `index`, "" when NULL.
    public func string(_ index: Int) -> String {
        self.values[index].textValue ?? ""
    }

    /// The bytes at `index`, empty when NULL.
    public func bytes(_ index: Int) -> [UInt8] {
        self.values[index].bytesValue ?? []
    }

    /// Whether the value at `index` is NULL.
    public func isNull(_ index: Int) -> Bool {
        self.values[index] == .null
    }
}
