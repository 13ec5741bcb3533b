// The only file of ServiceKit that imports SQLite's C API (GRDBSQLite): it binds parameters to,
// steps and reads one of GRDB's prepared statements. GRDB owns the statement (its cache
// finalizes it); a runner borrows it for one call and leaves it reset.
import GRDB
import GRDBSQLite

/// One statement run straight through SQLite's C API: ``SQLValue`` parameters bound in place
/// and rows read into ``SQLRow``s, without GRDB's `StatementArguments` and `Row` in between
/// (they cost more than the statement for the short, hot ones: a member lookup, a
/// multi-row insert).
///
/// Only for statements that cannot change the transaction state (GRDB follows BEGIN, COMMIT
/// and savepoints through its own execution path, so those stay on it).
struct SQLiteStatementRunner {
    private let statement: Statement
    private let database: Database

    /// A runner of `statement`, prepared on `database`; valid inside GRDB's access closure.
    init(_ statement: Statement, on database: Database) {
        self.statement = statement
        self.database = database
    }

    /// Binds `parameters`, steps to the end and returns every row.
    /// - Throws: GRDB's `DatabaseError` with SQLite's extended result code.
    func rows(_ parameters: [SQLValue]) throws -> [SQLRow] {
        let handle = self.statement.sqliteStatement
        let bytes = try self.bind(parameters)
        defer { self.release(bytes) }
        let count = sqlite3_column_count(handle)
        var columns: [String] = []
        columns.reserveCapacity(Int(count))
        for index in 0..<count {
            columns.append(String(cString: sqlite3_column_name(handle, index)))
        }
        var rows: [SQLRow] = []
        while try self.step() {
            var values: [SQLValue] = []
            values.reserveCapacity(Int(count))
            for index in 0..<count {
                values.append(Self.value(handle, index))
            }
            rows.append(SQLRow(columns: columns, values: values))
        }
        return rows
    }

    /// Binds `parameters`, steps to the end (discarding any rows) and returns the number of
    /// rows the statement inserted, updated or deleted.
    /// - Throws: GRDB's `DatabaseError` with SQLite's extended result code.
    func run(_ parameters: [SQLValue]) throws -> Int {
        let bytes = try self.bind(parameters)
        defer { self.release(bytes) }
        while try self.step() {}
        return Int(sqlite3_changes(self.database.sqliteConnection))
    }

    /// One step: true when it produced a row, false when the statement is done.
    private func step() throws -> Bool {
        let code = sqlite3_step(self.statement.sqliteStatement)
        switch code {
        case SQLITE_ROW:  // a result row is ready to read
            return true
        case SQLITE_DONE:  // ran to completion
            return false
        default:  // an error (constraint, busy, I/O …): reported with its extended code
            throw self.error()
        }
    }

    /// Binds `parameters`. The bytes of every text and blob are copied into one buffer, which
    /// is returned, and bound in place (SQLITE_STATIC) rather than copied by SQLite one
    /// allocation per value: a 64-row insert binds hundreds. The buffer must outlive the
    /// statement's use of it: pass it to ``release(_:)``, which resets the statement and
    /// clears its bindings before freeing it. On a throw nothing stays bound to it.
    private func bind(_ parameters: [SQLValue]) throws -> UnsafeMutableBufferPointer<CChar>? {
        let handle = self.statement.sqliteStatement
        // A statement that failed last time reports that failure on reset; it is reusable
        // after it, which is what this reset is for.
        sqlite3_reset(handle)
        guard Int(sqlite3_bind_parameter_count(handle)) == parameters.count else {
            throw DatabaseError(
                resultCode: .SQLITE_RANGE,
                message: "\(parameters.count) values for \(sqlite3_bind_parameter_count(handle)) parameters",
                sql: self.statement.sql)
        }
        var size = 0
        for parameter in parameters {
            switch parameter {
            case .text(let value): size += value.utf8.count
            case .blob(let bytes): size += bytes.count
            case .null, .integer, .real: break
            }
        }
        let buffer = size > 0 ? UnsafeMutableBufferPointer<CChar>.allocate(capacity: size) : nil
        var used = 0
        /// Copies `source` into the buffer: where it starts there and its length, or nil for
        /// no bytes.
        func place(_ source: UnsafeRawBufferPointer) -> (start: UnsafeMutablePointer<CChar>, count: Int32)? {
            guard let buffer, let base = source.baseAddress, source.count > 0 else {
                return nil
            }
            let start = buffer.baseAddress! + used
            UnsafeMutableRawPointer(start).copyMemory(from: base, byteCount: source.count)
            used += source.count
            return (start, Int32(source.count))
        }
        for (offset, parameter) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch parameter {
            case .null:
                code = sqlite3_bind_null(handle, index)
            case .integer(let value):
                code = sqlite3_bind_int64(handle, index, value)
            case .real(let value):
                code = sqlite3_bind_double(handle, index, value)
            case .text(var value):
                if let placed = value.withUTF8({ place(UnsafeRawBufferPointer($0)) }) {
                    code = sqlite3_bind_text(handle, index, placed.start, placed.count, nil)  // SQLITE_STATIC
                } else {
                    // "" must stay text, not NULL.
                    code = sqlite3_bind_text(handle, index, "", 0, Self.transient)
                }
            case .blob(let bytes):
                if let placed = bytes.withUnsafeBytes({ place($0) }) {
                    code = sqlite3_bind_blob(handle, index, placed.start, placed.count, nil)  // SQLITE_STATIC
                } else {
                    // A zero-length blob (a null pointer would bind NULL).
                    code = sqlite3_bind_zeroblob(handle, index, 0)
                }
            }
            switch code {
            case SQLITE_OK:  // bound
                continue
            default:  // SQLITE_TOOBIG, SQLITE_NOMEM, SQLITE_RANGE: reported as is
                let error = self.error()
                self.release(buffer)
                throw error
            }
        }
        return buffer
    }

    /// Ends a run: resets the statement, clears its bindings (none may point into `buffer`
    /// once it is freed) and frees `buffer`.
    private func release(_ buffer: UnsafeMutableBufferPointer<CChar>?) {
        let handle = self.statement.sqliteStatement
        sqlite3_reset(handle)
        if let buffer {
            sqlite3_clear_bindings(handle)
            buffer.deallocate()
        }
    }

    private static func value(_ handle: OpaquePointer, _ index: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER:  // a 64-bit integer
            return .integer(sqlite3_column_int64(handle, index))
        case SQLITE_FLOAT:  // a double
            return .real(sqlite3_column_double(handle, index))
        case SQLITE_TEXT:  // UTF-8 of the given length (sqlite3_column_bytes after the pointer)
            guard let text = sqlite3_column_text(handle, index) else {
                return .text("")
            }
            let count = Int(sqlite3_column_bytes(handle, index))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:  // bytes; a zero-length blob has a null pointer
            guard let blob = sqlite3_column_blob(handle, index) else {
                return .blob([])
            }
            let count = Int(sqlite3_column_bytes(handle, index))
            return .blob([UInt8](UnsafeRawBufferPointer(start: blob, count: count)))
        default:  // SQLITE_NULL
            return .null
        }
    }

    private func error() -> DatabaseError {
        let connection = self.database.sqliteConnection
        return DatabaseError(
            resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)),
            message: String(cString: sqlite3_errmsg(connection)), sql: self.statement.sql)
    }

    /// SQLITE_TRANSIENT: SQLite copies the bound bytes before the bind call returns.
    private static let transient = unsafeBitCast(Int(-1), to: sqlite3_destructor_type.self)
}
