import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// PostgreSQL through postgres-nio.
///
/// Reads lease a connection from a `PostgresClient` pool and run their closure on a thread of
/// a dedicated `NIOThreadPool`, where each statement is one round trip; the closure's thread
/// is not one of Swift's cooperative threads, so blocking on the round trip is harmless. A
/// one-statement lookup (``quickQuery(_:_:)``) is awaited by its task instead, without the hop,
/// and prepared once on each connection. The pool runs on the event loops the server gives it.
/// Writes go through one ``GroupCommitWriter`` on its own connection: many concurrent callers
/// share one transaction and one WAL flush, and commit order equals change-feed order.
public final class PostgreSQLDatabase: SQLDatabase {
    /// Always ``SQLDialect/postgres``.
    public let dialect = SQLDialect.postgres

    private let client: PostgresClient
    private let clientTask: Task<Void, Never>
    private let threadPool: NIOThreadPool
    private let writer: GroupCommitWriter
    private let writerConnection: WriterConnection
    private let logger: Logger
    private let metrics: DatabaseMetrics
    private let statements = PreparedStatements()

    /// Where to connect: parsed from `postgres://user[:password]@host[:port]/database`.
    public struct Endpoint: Sendable, Hashable {
        /// Host name or address.
        public var host: String
        /// TCP port.
        public var port: Int
        /// User name.
        public var username: String
        /// Password, if any.
        public var password: String?
        /// Database name.
        public var database: String

        /// Parses `url` (`postgres://` or `postgresql://`).
        /// - Throws: ``StorageError/connectionFailed(detail:)`` when it is not such a URL.
        public init(url: String) throws {
            guard let components = URLComponents(string: url),
                components.scheme == "postgres" || components.scheme == "postgresql",
                let host = components.host, !host.isEmpty
            else {
                throw StorageError.connectionFailed(detail: "not a postgres:// URL")
            }
            self.host = host
            self.port = components.port ?? 5432
            self.username = components.user ?? "postgres"
            self.password = components.password
            let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            self.database = path.isEmpty ? self.username : path
        }
    }

    /// Connects to `url`, applies `migrations` not yet applied, and starts the pool.
    /// - Parameters:
    ///   - url: `postgres://user[:password]@host[:port]/database` (no TLS: a local or
    ///     private-network server).
    ///   - migrations: the schema's versioned steps.
    ///   - maximumConnections: the read pool's size (the writer has one more).
    ///   - eventLoopGroup: the event loops the read pool's connections run on; a server passes
    ///     its own, so a handler awaiting a query stays on its loop (postgres-nio's shared group
    ///     otherwise). It must outlive the database. The writer's connection stays on
    ///     postgres-nio's group: the writer waits on each statement in turn, and on a server's
    ///     loop each answer would also wait for the loop's HTTP/2 work.
    /// - Throws: ``StorageError`` when the server cannot be reached or a migration fails.
    public init(
        url: String, migrations: [Migration], maximumConnections: Int = 8,
        eventLoopGroup: (any EventLoopGroup)? = nil, logger: Logger = Logger(label: "tongxin.postgres")
    ) async throws {
        let endpoint = try Endpoint(url: url)
        self.logger = logger
        var configuration = PostgresClient.Configuration(
            host: endpoint.host, port: endpoint.port, username: endpoint.username,
            password: endpoint.password, database: endpoint.database, tls: .disable)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 0
        let group = eventLoopGroup ?? PostgresClient.defaultEventLoopGroup
        let client = PostgresClient(configuration: configuration, eventLoopGroup: group, backgroundLogger: logger)
        self.client = client
        self.clientTask = Task { await client.run() }
        self.threadPool = NIOThreadPool(numberOfThreads: maximumConnections)
        self.threadPool.start()

        let connectionConfiguration = PostgresConnection.Configuration(
            host: endpoint.host, port: endpoint.port, username: endpoint.username,
            password: endpoint.password, database: endpoint.database, tls: .disable)
        let writerConnection = WriterConnection(
            configuration: connectionConfiguration, group: PostgresClient.defaultEventLoopGroup, logger: logger)
        self.writerConnection = writerConnection
        self.metrics = DatabaseMetrics(engine: .postgres, readers: maximumConnections)
        self.writer = GroupCommitWriter(threadPrefix: "postgres", beginStatement: "BEGIN", metrics: self.metrics) {
            _, batch in
            try batch(try writerConnection.connection())
        }
        do {
            _ = try await self.threadPool.runIfActive {
                try Migrator.apply(migrations, on: try writerConnection.connection())
            }
        } catch {
            self.writer.close()
            writerConnection.close()
            self.clientTask.cancel()
            try? await self.threadPool.shutdownGracefully()
            throw error
        }
    }

    /// Runs `body` on a pooled connection in a `REPEATABLE READ READ ONLY` transaction, so
    /// every statement of it sees one snapshot.
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await self.metrics.read {
            try await self.readOnPool(body)
        }
    }

    /// Runs `body` like ``read(_:)``: PostgreSQL shows a commit to others only once its WAL
    /// is flushed (`synchronous_commit` on, its default), so whatever a read sees is durable.
    public func durableRead<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await self.read(body)
    }

    /// Runs the lookup as one query of the pool's, awaited by the calling task, without BEGIN
    /// and COMMIT around it (the statement is its own snapshot) and with no hop to the blocking
    /// read threads (on a one-core server those hops cost more than the query). The lookup is
    /// prepared on each connection the first time it runs there (``PreparedStatements``): a
    /// lookup by key, whose plan does not depend on its parameters. The statements of ``read(_:)``
    /// (searches, whose best plan can) are planned on each run.
    public func quickQuery(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow] {
        try await self.metrics.read {
            let statements = self.statements
            let logger = self.logger
            do {
                let rows = try await self.client.withConnection { connection in
                    try await statements.rows(sql, parameters, on: connection, logger: logger).get()
                }
                return try BlockingPostgresConnection.rows(rows)
            } catch where Task.isCancelled {
                throw CancellationError()
            } catch {
                throw BlockingPostgresConnection.storageError(error)
            }
        }
    }

    private func readOnPool<T: Sendable>(
        _ body: @escaping @Sendable (any SQLConnection) throws -> T
    ) async throws -> T {
        let threadPool = self.threadPool
        let logger = self.logger
        do {
            return try await self.client.withConnection { connection in
                try await threadPool.runIfActive {
                    let blocking = BlockingPostgresConnection(connection: connection, logger: logger)
                    try blocking.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    do {
                        let result = try body(blocking)
                        try blocking.execute("COMMIT")
                        return result
                    } catch {
                        _ = try? blocking.execute("ROLLBACK")
                        throw error
                    }
                }
            }
        } catch let error as PSQLError {
            throw BlockingPostgresConnection.storageError(error)
        } catch where Task.isCancelled {
            // The caller went away while the read waited for a pooled connection.
            throw CancellationError()
        }
    }

    /// Queries prepared on the read pool's open connections, for tests.
    var preparedStatementCount: Int {
        self.statements.count
    }

    /// Transactions committed and writes carried since opening.
    public var writeStatistics: WriteStatistics {
        self.writer.statistics
    }

    /// Write transactions committed by this process so far.
    public var commitGeneration: Int {
        self.writer.commits.generation
    }

    /// Waits for this process's next commit after `generation`, at most `timeout`.
    public func waitForCommit(after generation: Int, timeout: Duration) async -> Bool {
        await self.writer.commits.wait(after: generation, timeout: timeout)
    }

    /// Runs `body` in the next group-committed write transaction.
    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await self.writer.write(body)
    }

    /// Runs `item` with the other waiting items of its kind in the next group-committed
    /// write transaction.
    public func write<Batch: SQLBatchWrite>(_ item: Batch.Item, batchedBy batch: Batch) async throws -> Batch.Output {
        try await self.writer.write(item, batchedBy: batch)
    }

    /// Finishes queued writes, closes the writer's connection and the pool.
    public func close() async throws {
        self.writer.close()
        self.writerConnection.close()
        self.clientTask.cancel()
        // The pool's run() returns at once when cancelled, but was seen once (after thousands
        // of cancelled requests) not to return at all, which held the process after SIGTERM:
        // wait for it at most 5 s.
        let clientTask = self.clientTask
        let stopped = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let resumed = NIOLockedValueBox(false)
            let finish: @Sendable (Bool) -> Void = { value in
                if resumed.withLockedValue({ done in defer { done = true }; return !done }) {
                    continuation.resume(returning: value)
                }
            }
            Task { await clientTask.value; finish(true) }
            Task { try? await Task.sleep(for: .seconds(5)); finish(false) }
        }
        if !stopped {
            self.logger.warning("the PostgreSQL pool did not stop within 5 s; closing anyway")
        }
        try await self.threadPool.shutdownGracefully()
    }
}

extension PostgreSQLDatabase {
    /// Runs one statement outside any transaction on a fresh connection to `url`, e.g.
    /// `CREATE DATABASE`, which PostgreSQL refuses inside a transaction. For tools and tests.
    /// - Throws: ``StorageError``.
    public static func runAdministrativeStatement(_ sql: String, url: String, logger: Logger = Logger(label: "tongxin.postgres")) async throws {
        let endpoint = try Endpoint(url: url)
        let configuration = PostgresConnection.Configuration(
            host: endpoint.host, port: endpoint.port, username: endpoint.username,
            password: endpoint.password, database: endpoint.database, tls: .disable)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        } catch {
            throw StorageError.connectionFailed(detail: "\(error)")
        }
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        } catch let error as PSQLError {
            try? await connection.close()
            throw BlockingPostgresConnection.storageError(error)
        }
        try? await connection.close()
    }
}

/// The writer's own connection, opened on first use and again after it broke. Used only on
/// the writer thread (and once for migrations before the writer gets work).
private final class WriterConnection: @unchecked Sendable {
    private let configuration: PostgresConnection.Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private var current: PostgresConnection?
    private var nextID = 1

    init(configuration: PostgresConnection.Configuration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    func connection() throws -> BlockingPostgresConnection {
        if let current = self.current, !current.isClosed {
            return BlockingPostgresConnection(connection: current, logger: self.logger)
        }
        do {
            let connection = try PostgresConnection.connect(
                on: self.group.next(), configuration: self.configuration,
                id: self.nextID, logger: self.logger
            ).wait()
            self.nextID += 1
            self.current = connection
            return BlockingPostgresConnection(connection: connection, logger: self.logger)
        } catch let error as PSQLError {
            throw BlockingPostgresConnection.storageError(error)
        } catch {
            throw StorageError.connectionFailed(detail: "\(error)")
        }
    }

    func close() {
        try? self.current?.close().wait()
        self.current = nil
    }
}

/// A postgres-nio connection seen through ``SQLConnection``: each call waits for its round
/// trip. Only for threads that may block (the writer thread, the read thread pool).
struct BlockingPostgresConnection: SQLConnection {
    let connection: PostgresConnection
    let logger: Logger

    var dialect: SQLDialect { .postgres }

    func query(_ sql: String, _ parameters: [SQLValue]) throws -> [SQLRow] {
        try Self.rows(self.run(sql, parameters).rows)
    }

    /// `rows` as rows named by the first one's columns.
    static func rows(_ rows: [PostgresRow]) throws -> [SQLRow] {
        guard let first = rows.first else {
            return []
        }
        let columns = first.makeRandomAccess().map(\.columnName)
        var result: [SQLRow] = []
        result.reserveCapacity(rows.count)
        for row in rows {
            var values: [SQLValue] = []
            values.reserveCapacity(columns.count)
            for cell in row {
                values.append(try Self.value(cell))
            }
            result.append(SQLRow(columns: columns, values: values))
        }
        return result
    }

    func execute(_ sql: String, _ parameters: [SQLValue]) throws -> Int {
        try self.run(sql, parameters).metadata.rows ?? 0
    }

    private func run(_ sql: String, _ parameters: [SQLValue]) throws -> PostgresQueryResult {
        do {
            return try self.connection.query(Self.query(sql, parameters), logger: self.logger).wait()
        } catch {
            throw Self.storageError(error)
        }
    }

    /// `sql` (`?` placeholders) with `parameters` bound, as postgres-nio sends it.
    static func query(_ sql: String, _ parameters: [SQLValue]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            switch parameter {
            case .null:
                bindings.appendNull()
            case .integer(let value):
                bindings.append(value)
            case .real(let value):
                bindings.append(value)
            case .text(let value):
                bindings.append(value)
            case .blob(let bytes):
                bindings.append(ByteBuffer(bytes: bytes))
            }
        }
        return PostgresQuery(unsafeSQL: Self.numberedPlaceholders(sql), binds: bindings)
    }

    private static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else {
            return .null
        }
        // Every statement goes by the extended protocol, whose results postgres-nio always
        // asks for in binary; but a prepared query's cells come labelled text (postgres-nio
        // issue 303, fixed by its pull request 671, after the 1.33.2 this builds with), and
        // an integer read as text fails.
        var cell = cell
        cell.format = .binary
        switch cell.dataType {
        case .int2, .int4, .int8:
            return .integer(try cell.decode(Int64.self))
        case .bool:
            return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .float4, .float8:
            return .real(try cell.decode(Double.self))
        case .numeric:
            // SUM over bigint is numeric: whole values come back as integers, as on SQLite.
            let decimal = try cell.decode(Decimal.self)
            let double = NSDecimalNumber(decimal: decimal).doubleValue
            if let integer = Int64(exactly: double) {
                return .integer(integer)
            }
            return .real(double)
        case .bytea:
            var buffer = try cell.decode(ByteBuffer.self)
            return .blob(buffer.readBytes(length: buffer.readableBytes) ?? [])
        default:
            return .text(try cell.decode(String.self))
        }
    }

    /// `?` placeholders as `$1, $2 …`, leaving those inside quoted literals and identifiers.
    ///
    /// Works on the UTF-8 bytes: quotes and `?` are ASCII, which no byte of a multi-byte
    /// character can be. (A batch's multi-row insert has hundreds of placeholders; walked as
    /// `Character`s, this was a quarter of the PostgreSQL writer's CPU.)
    static func numberedPlaceholders(_ sql: String, suffix: (Int) -> String = { _ in "" }) -> String {
        let question = UInt8(ascii: "?")
        let utf8 = sql.utf8
        guard utf8.contains(question) else {
            return sql
        }
        var output: [UInt8] = []
        output.reserveCapacity(utf8.count * 2)
        var number = 0
        var quote: UInt8?
        for byte in utf8 {
            if let open = quote {
                if byte == open {
                    quote = nil
                }
                output.append(byte)
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                quote = byte
                output.append(byte)
            } else if byte == question {
                number += 1
                output.append(UInt8(ascii: "$"))
                Self.appendDecimal(number, to: &output)
                output.append(contentsOf: suffix(number).utf8)
            } else {
                output.append(byte)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends the decimal digits of `value` (positive).
    private static func appendDecimal(_ value: Int, to output: inout [UInt8]) {
        var divisor = 1
        while divisor <= value / 10 {
            divisor *= 10
        }
        var rest = value
        while divisor > 0 {
            output.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// `error` (postgres-nio's, of either generation) as a ``StorageError``.
    static func storageError(_ error: any Error) -> StorageError {
        switch error {
        case let error as StorageError:
            return error
        case let error as PSQLError:
            return Self.storageError(error)
        case PostgresError.server(let message):
            // A prepared statement's errors come in postgres-nio's older form.
            let detail = [message.fields[.message], message.fields[.detail]].compactMap { $0 }.joined(separator: ": ")
            return Self.storageError(sqlState: message.fields[.sqlState] ?? "", detail: detail)
        case PostgresError.connectionClosed:
            return .connectionFailed(detail: "the connection was closed")
        default:
            return .engine(detail: "\(error)")
        }
    }

    static func storageError(_ error: PSQLError) -> StorageError {
        if let info = error.serverInfo {
            let detail = [info[.message], info[.detail]].compactMap { $0 }.joined(separator: ": ")
            return Self.storageError(sqlState: info[.sqlState] ?? "", detail: detail)
        }
        // The code and what lay under it (say "connection refused"), never the query's text.
        let detail = "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection:
            return .connectionFailed(detail: detail)
        default:
            return .engine(detail: detail)
        }
    }

    private static func storageError(sqlState state: String, detail: String) -> StorageError {
        if state == "23505" {
            return .uniqueViolation(detail: detail)
        }
        if state.hasPrefix("23") {
            return .constraintViolation(detail: detail)
        }
        return .engine(detail: "\(state) \(detail)")
    }
}

/// The queries each connection has prepared, by their SQL and their parameters' types: a
/// query run again on the same connection sends only its parameters (Bind and Execute), so
/// PostgreSQL neither parses nor plans it again. Measured on GetMember: PostgreSQL's CPU a call
/// halved (Benchmarks/registry/RESULTS.md, session 13).
final class PreparedStatements: Sendable {
    /// The most queries kept prepared on one connection; past it a query runs unprepared, so
    /// SQL that varies (a list of n placeholders) cannot grow a connection's memory unbounded.
    static let limitPerConnection = 64

    private struct Entry {
        let connection: PostgresConnection
        var statements: [String: PreparedQuery] = [:]
    }

    private let entries = NIOLockedValueBox<[PostgresConnection.ID: Entry]>([:])

    /// Queries prepared on open connections, for tests.
    var count: Int {
        self.entries.withLockedValue { $0.values.reduce(0) { $0 + $1.statements.count } }
    }

    /// The rows of `sql` with `parameters` on `connection`, prepared there on its first run.
    func rows(_ sql: String, _ parameters: [SQLValue], on connection: PostgresConnection, logger: Logger)
        -> EventLoopFuture<[PostgresRow]>
    {
        // Each parameter's type is part of the statement: PostgreSQL fixes them when it
        // prepares (cast in the SQL, as postgres-nio declares them for an unprepared query).
        var signature = sql
        signature.append("\u{0}")
        for parameter in parameters {
            signature.append(Self.typeLetter(parameter))
        }
        let key = signature
        let id = connection.id
        enum Found { case prepared(PreparedQuery), prepare, full }
        let found = self.entries.withLockedValue { entries -> Found in
            guard let entry = entries[id], entry.connection === connection else {
                return .prepare
            }
            if let statement = entry.statements[key] {
                return .prepared(statement)
            }
            return entry.statements.count < Self.limitPerConnection ? .prepare : .full
        }
        let binds = parameters.map(Self.data)
        switch found {
        case .prepared(let statement):
            return statement.execute(binds)
        case .prepare:
            return connection.prepare(query: Self.typedPlaceholders(sql, parameters)).flatMap { statement in
                self.entries.withLockedValue { entries in
                    // Connections the pool has closed since go, with their statements.
                    entries = entries.filter { !$0.value.connection.isClosed }
                    if entries[id]?.connection !== connection {
                        entries[id] = Entry(connection: connection)
                    }
                    entries[id]!.statements[key] = statement
                }
                return statement.execute(binds)
            }
        case .full:
            return connection.query(BlockingPostgresConnection.query(sql, parameters), logger: logger).map(\.rows)
        }
    }

    private static func typeLetter(_ value: SQLValue) -> Character {
        switch value {
        case .null: return "n"
        case .integer: return "i"
        case .real: return "r"
        case .text: return "t"
        case .blob: return "b"
        }
    }

    /// `sql` with its `?` placeholders numbered and cast to their parameters' types (a NULL's
    /// type is left to PostgreSQL).
    static func typedPlaceholders(_ sql: String, _ parameters: [SQLValue]) -> String {
        let casts = parameters.map { parameter -> String in
            switch parameter {
            case .null: return ""
            case .integer: return "::bigint"
            case .real: return "::double precision"
            case .text: return "::text"
            case .blob: return "::bytea"
            }
        }
        return BlockingPostgresConnection.numberedPlaceholders(sql) { number in
            number <= casts.count ? casts[number - 1] : ""
        }
    }

    private static func data(_ value: SQLValue) -> PostgresData {
        switch value {
        case .null: return .null
        case .integer(let value): return PostgresData(int64: value)
        case .real(let value): return PostgresData(double: value)
        case .text(let value): return PostgresData(string: value)
        case .blob(let bytes): return PostgresData(bytes: bytes)
        }
    }
}
