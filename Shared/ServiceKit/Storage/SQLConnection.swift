/// The SQL engine behind a ``SQLDatabase``: what the business SQL may need to know to pick a
/// column type in a migration. Statements themselves are written once, in the SQL both
/// engines accept (`ON CONFLICT`, `RETURNING`, `?` placeholders).
public enum SQLDialect: String, Sendable, Hashable {
    /// SQLite 3.35 or later, through GRDB.
    case sqlite
    /// PostgreSQL 13 or later, through postgres-nio.
    case postgres

    /// The column type for bytes: `BLOB` or `bytea`.
    public var blobType: String {
        self == .sqlite ? "BLOB" : "BYTEA"
    }

    /// The column type for text that sorts and compares byte by byte on both engines
    /// (PostgreSQL's default collation would sort names differently from SQLite's).
    public var textType: String {
        self == .sqlite ? "TEXT" : "TEXT COLLATE \"C\""
    }
}

/// A connection inside a transaction, on the thread that owns it: run a statement with
/// parameters, read its rows. Not `Sendable`: it is only valid inside the closure that
/// ``SQLDatabase/read(_:)`` or ``SQLDatabase/write(_:)`` hands it to, and every call blocks
/// that closure's thread (a local call on SQLite, one round trip on PostgreSQL).
///
/// Placeholders are `?`, in order; PostgreSQL connections translate them to `$1, $2 …`.
public protocol SQLConnection {
    /// The engine.
    var dialect: SQLDialect { get }

    /// Runs `sql` with `parameters` and returns every row it produces.
    /// - Throws: ``StorageError`` (a constraint violation, a lost connection, an engine error).
    func query(_ sql: String, _ parameters: [SQLValue]) throws -> [SQLRow]

    /// Runs `sql` with `parameters` and returns the number of rows it inserted, updated or
    /// deleted.
    /// - Throws: ``StorageError``.
    @discardableResult
    func execute(_ sql: String, _ parameters: [SQLValue]) throws -> Int
}

extension SQLConnection {
    /// Runs `sql` and returns its first row, or nil when it produced none.
    public func queryOne(_ sql: String, _ parameters: [SQLValue] = []) throws -> SQLRow? {
        try self.query(sql, parameters).first
    }

    /// Inserts `rows` into `table` with multi-row statements (`INSERT INTO table (columns)
    /// VALUES (?, …), (?, …) suffix`), at most ``insertChunk`` rows each; `suffix` is an
    /// optional `ON CONFLICT …` clause. Every row has one value per column.
    /// - Throws: ``StorageError``.
    public func insert(into table: String, _ columns: [String], rows: [[SQLValue]], suffix: String = "") throws {
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + insertChunk)
            let tuple = "(" + SQLText.placeholders(columns.count) + ")"
            let sql = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
                + Array(repeating: tuple, count: end - start).joined(separator: ", ")
                + (suffix.isEmpty ? "" : " " + suffix)
            var parameters: [SQLValue] = []
            parameters.reserveCapacity((end - start) * columns.count)
            for row in rows[start..<end] {
                precondition(row.count == columns.count, "a row of \(table) has \(row.count) values for \(columns.count) columns")
                parameters.append(contentsOf: row)
            }
            try self.execute(sql, parameters)
            start = end
        }
    }

    /// Runs `sql` without parameters and returns the number of rows changed.
    @discardableResult
    public func execute(_ sql: String) throws -> Int {
        try self.execute(sql, [])
    }
}

/// A database both engines implement: reads on a snapshot, writes in transactions that are
/// committed durably (fsync'd) before the caller resumes, many concurrent writers sharing one
/// transaction and one commit (group commit).
///
/// Closures run synchronously on a thread of the engine, so a service's operation takes one
/// hop into the engine however many statements it runs. They must not block on anything but
/// their connection.
public protocol SQLDatabase: Sendable {
    /// The engine.
    var dialect: SQLDialect { get }

    /// Runs `body` in a read-only transaction on a consistent snapshot and returns its result.
    /// - Throws: what `body` throws, or ``StorageError``.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T

    /// Runs one lookup statement (by key), `sql` with `parameters`, at the engine's lowest cost
    /// and returns its rows: on SQLite synchronously on the calling thread (no thread hops; the
    /// caller, an event loop, waits for it), on PostgreSQL as one query on a pooled connection
    /// awaited by the calling task (no hop to a blocking thread, no transaction around it).
    /// Several statements that must see one snapshot take ``read(_:)``.
    /// - Throws: ``StorageError``.
    func quickQuery(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow]

    /// Runs `body` in a write transaction and returns its result once the transaction has been
    /// committed to disk. When `body` throws, its changes are rolled back (and only its own:
    /// other callers batched into the same transaction are unaffected) and the error is
    /// rethrown.
    /// - Throws: what `body` throws, or ``StorageError`` (then nothing of `body` was committed).
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T

    /// Runs `item` through `batch` in a write transaction, together with the other items of
    /// the same kind waiting for it, and returns its output once the transaction has been
    /// committed to disk. An item that fails wrote nothing; the others are unaffected.
    /// - Throws: the item's own error, or ``StorageError`` (then nothing of it was committed).
    func write<Batch: SQLBatchWrite>(_ item: Batch.Item, batchedBy batch: Batch) async throws -> Batch.Output

    /// Runs `body` like ``read(_:)`` and returns once every write the read could have seen is
    /// durable: for what is passed on as a fact that must never be taken back, such as a change
    /// feed's events and positions. (An engine may show a commit to readers a moment before it
    /// is on disk; a write's own caller always resumes after.)
    /// - Throws: what `body` throws, or ``StorageError``.
    func durableRead<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T

    /// Transactions committed and writes carried since opening.
    var writeStatistics: WriteStatistics { get }

    /// Write transactions this process has made durable so far: pass it to
    /// ``waitForCommit(after:timeout:)``.
    var commitGeneration: Int { get }

    /// Returns true once this process has made a write transaction durable after `generation`
    /// (at once if it already has), false after `timeout`, on cancellation, or when the
    /// database closes. Another process's commits are not seen: poll as well.
    func waitForCommit(after generation: Int, timeout: Duration) async -> Bool

    /// Finishes pending writes and closes every connection. Later calls fail with
    /// ``StorageError/closed``.
    func close() async throws
}

/// Pieces of SQL text both engines accept.
public enum SQLText {
    /// `?, ?, …`: `count` placeholders, for an `IN (…)` list or a row of values.
    public static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}

/// Rows per statement of ``SQLConnection/insert(into:_:rows:suffix:)``: few enough for both
/// engines' parameter limits at any table's width, enough to make a statement per row rare.
public let insertChunk = 100

/// Why a storage operation failed, independent of the engine.
public enum StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A UNIQUE or PRIMARY KEY constraint rejected the statement.
    case uniqueViolation(detail: String)
    /// Another constraint (NOT NULL, CHECK, FOREIGN KEY) rejected the statement.
    case constraintViolation(detail: String)
    /// The database could not be reached or the connection broke.
    case connectionFailed(detail: String)
    /// The database has been closed.
    case closed
    /// A migration failed; nothing of it was applied.
    case migrationFailed(version: Int, detail: String)
    /// Any other error the engine reported, with its message.
    case engine(detail: String)

    /// The error in words, for logs (it may contain SQL; never sent to callers).
    public var description: String {
        switch self {
        case .uniqueViolation(let detail):
            return "unique constraint violated: \(detail)"
        case .constraintViolation(let detail):
            return "constraint violated: \(detail)"
        case .connectionFailed(let detail):
            return "connection failed: \(detail)"
        case .closed:
            return "the database is closed"
        case .migrationFailed(let version, let detail):
            return "migration \(version) failed: \(detail)"
        case .engine(let detail):
            return "database error: \(detail)"
        }
    }
}
