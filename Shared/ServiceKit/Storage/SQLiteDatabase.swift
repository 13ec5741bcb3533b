import Foundation
import GRDB
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// SQLite through GRDB: a WAL database file whose writes are acknowledged only once the WAL
/// holding them has been fsync'd.
///
/// Reads run on GRDB's reader connections through its synchronous API, one queue hop per
/// ``read(_:)``, never one per statement. Writes go through one ``GroupCommitWriter``: many
/// concurrent callers share one `BEGIN IMMEDIATE … COMMIT` and one fsync. The writer commits
/// with `synchronous = NORMAL` (no fsync inside COMMIT) and the writer's syncer fsyncs the WAL
/// (``SyncOnlyFile``) before resuming the transaction's callers, so the next transaction
/// runs during the fsync of the last; the same guarantee as `FULL`, which fsyncs inside each
/// COMMIT and leaves the core idle while it waits.
public final class SQLiteDatabase: SQLDatabase {
    /// Always ``SQLDialect/sqlite``.
    public let dialect = SQLDialect.sqlite

    /// The database file.
    public let path: String

    private let pool: DatabasePool
    private let readQueue = DispatchQueue(label: "tongxin.sqlite.read", attributes: .concurrent)
    private let writer: GroupCommitWriter
    private let log: SyncOnlyFile
    private let checkpointer: SQLiteCheckpointer
    private let metrics: DatabaseMetrics
    /// Each thread's own read-only connection for ``quickQuery(_:_:)``, opened on first use: a
    /// lookup then takes no pool hand-off and no schema check (GRDB's pool spent more on
    /// those than on the lookup).
    /// The thread's slot refers to its connection weakly: ``openedThreadReaders`` owns them,
    /// so none is torn down by a thread's exit (GRDB must not deinit there) and ``close()``
    /// closes them all.
    private let threadReaders = ThreadSpecificVariable<ReaderSlot>()
    private let openedThreadReaders = NIOLockedValueBox<[DatabaseQueue]?>([])
    private let readerConfiguration: Configuration

    /// Opens (creating if needed) the database at `path` and applies `migrations` that have
    /// not been applied yet, each in its own transaction.
    /// - Parameters:
    ///   - path: the database file; its `-wal` and `-shm` companions live beside it.
    ///   - migrations: the schema's versioned steps, in any order.
    ///   - maximumReaders: concurrent read connections.
    /// - Throws: ``StorageError`` when the file cannot be opened or a migration fails.
    public convenience init(path: String, migrations: [Migration], maximumReaders: Int = 8) throws {
        try self.init(path: path, migrations: migrations, maximumReaders: maximumReaders, checkpointSyncPages: Self.checkpointSyncPages)
    }

    /// As ``init(path:migrations:maximumReaders:)``, with the WAL frames above which the
    /// background checkpointer also syncs the database file (tests lower it).
    init(path: String, migrations: [Migration], maximumReaders: Int, checkpointSyncPages: Int) throws {
        var configuration = Configuration()
        configuration.maximumReaderCount = maximumReaders
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // Pages through a memory map rather than a read() copy per page, and a page
            // cache per connection large enough for a province's hot indexes (SQLite's
            // default is 2 MiB, which made every statement re-read its pages from the OS).
            try db.execute(sql: "PRAGMA mmap_size = \(SQLiteDatabase.mapSize)")
            try db.execute(sql: "PRAGMA cache_size = -\(SQLiteDatabase.cacheKiB)")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        var readerConfiguration = configuration
        readerConfiguration.readonly = true
        // A lookup's snapshot stays open across GRDB accesses until its loop's turn ends
        // (``quickQuery(_:_:)``).
        readerConfiguration.allowsUnsafeTransactions = true
        self.readerConfiguration = readerConfiguration
        do {
            self.pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw SQLiteDatabase.storageError(error)
        }
        self.path = path
        let pool = self.pool
        self.metrics = DatabaseMetrics(engine: .sqlite, readers: maximumReaders)
        do {
            _ = try pool.writeWithoutTransaction { db in
                // NORMAL: a WAL commit writes its frames and returns without an fsync; the
                // writer's syncer fsyncs the WAL before a write is acknowledged (an
                // acknowledged write survives a power cut, not only a process crash).
                // Checkpoints still sync the WAL before copying it and the database after.
                // Only this connection commits.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                // Checkpoints (WAL pages copied into the database, which is then synced) every
                // 32 MiB of WAL rather than SQLite's 4 MiB: a page written by many transactions
                // in between is copied once.
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(SQLiteDatabase.checkpointPages)")
                try Migrator.apply(migrations, on: GRDBConnection(db: db))
            }
            // The WAL exists once the database has been used in WAL mode (just now).
            self.log = try SyncOnlyFile(logOf: path)
            // The migrations, committed without an fsync like every write.
            try self.log.sync()
        } catch {
            try? pool.close()
            throw SQLiteDatabase.storageError(error)
        }
        let log = self.log
        self.writer = GroupCommitWriter(
            threadPrefix: "sqlite", beginStatement: "BEGIN IMMEDIATE", metrics: self.metrics,
            sync: { try log.sync() }
        ) {
            _, batch in
            do {
                try pool.writeWithoutTransaction { db in
                    try batch(GRDBConnection(db: db))
                }
            } catch let error as DatabaseError {
                throw SQLiteDatabase.storageError(error)
            }
        }
        let writer = self.writer
        do {
            self.checkpointer = try SQLiteCheckpointer(
                path: path, configuration: configuration, syncAbovePages: checkpointSyncPages,
                catchUpAbovePages: Self.checkpointCatchUpPages
            ) {
                writer.durableGeneration
            }
        } catch {
            writer.close()
            try? pool.close()
            throw error
        }
    }

    /// Checkpoints the background checkpointer has run, for tests.
    var backgroundCheckpoints: Int {
        self.checkpointer.checkpoints
    }

    /// Syncs of the database file the background checkpointer has run, for tests.
    var backgroundDatabaseSyncs: Int {
        self.checkpointer.databaseSyncs
    }

    /// The background checkpointer's pause after a checkpoint that found `frames` in the WAL,
    /// for tests.
    func checkpointPause(afterFrames frames: Int) -> Duration {
        self.checkpointer.pause(afterFrames: frames)
    }

    /// The most of the database file each connection maps into memory (SQLite caps it at
    /// about 2 GiB).
    static let mapSize = 4 << 30
    /// WAL pages (4 KiB) between automatic checkpoints.
    static let checkpointPages = 8192
    /// WAL pages above which the background checkpointer syncs the database file after its
    /// checkpoint: three quarters of the way to the writer's automatic checkpoint (see
    /// ``SQLiteCheckpointer``).
    static let checkpointSyncPages = checkpointPages * 3 / 4
    /// WAL pages above which the background checkpointer runs its next checkpoint after 20 ms
    /// rather than 200 (see ``SQLiteCheckpointer``).
    static let checkpointCatchUpPages = checkpointPages / 4
    /// Each connection's page cache, in KiB.
    static let cacheKiB = 64 << 10

    /// Runs `body` on a reader connection, in a read transaction (one WAL snapshot).
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await self.metrics.read {
            try await self.readOnQueue(body)
        }
    }

    /// Runs the statement on the calling thread's own read-only connection.
    ///
    /// On an event loop's thread, the lookups of one turn of the loop share a read
    /// transaction (one snapshot): the first begins it and a task queued behind the turn's I/O
    /// ends it. Each SQLite read transaction otherwise takes and drops a lock on the WAL index
    /// with two `fcntl` calls, which cost GetMember about 8 % of the server's CPU. A lookup
    /// still sees every write acknowledged before it: the snapshot is begun again whenever a
    /// commit became durable after it was begun (a caller is resumed only after that), and
    /// since it never outlives the turn, checkpoints are not held back. Elsewhere (a thread
    /// with no event loop) each lookup is its own transaction.
    public func quickQuery(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow] {
        try self.metrics.quickRead {
            let slot = try self.threadSlot()
            guard let reader = slot.reader else {
                throw StorageError.closed
            }
            do {
                return try reader.inDatabase { db in
                    if let loop = MultiThreadedEventLoopGroup.currentEventLoop {
                        try self.holdSnapshot(db, slot: slot, loop: loop)
                    }
                    return try GRDBConnection(db: db).query(sql, parameters)
                }
            } catch let error as DatabaseError {
                throw SQLiteDatabase.storageError(error)
            }
        }
    }

    /// Makes `db` (the slot's reader) be inside a read transaction begun after the latest
    /// durable commit, ended by a task on `loop` after this turn.
    private func holdSnapshot(_ db: Database, slot: ReaderSlot, loop: any EventLoop) throws {
        // Read before BEGIN: the snapshot (taken by the first statement after it) is then at
        // least as new as every commit durable at this moment.
        let generation = self.writer.durableGeneration
        if db.isInsideTransaction {
            if slot.snapshotGeneration == generation {
                return
            }
            try Self.endSnapshot(db)
        } else {
            // The turn's first lookup: the snapshot ends once the turn's I/O is handled.
            loop.execute {
                try? slot.reader?.inDatabase(Self.endSnapshot)
            }
        }
        try db.cachedStatement(sql: "BEGIN DEFERRED").execute()
        slot.snapshotGeneration = generation
    }

    /// Ends the read transaction `db` is in, if any.
    private static func endSnapshot(_ db: Database) throws {
        if db.isInsideTransaction {
            try db.cachedStatement(sql: "COMMIT").execute()
        }
    }

    /// The calling thread's slot, its read-only connection opened on first use.
    private func threadSlot() throws -> ReaderSlot {
        if let slot = self.threadReaders.currentValue, slot.reader != nil {
            return slot
        }
        let reader = try DatabaseQueue(path: self.path, configuration: self.readerConfiguration)
        let kept = self.openedThreadReaders.withLockedValue { readers -> Bool in
            guard readers != nil else { return false }
            readers!.append(reader)
            return true
        }
        guard kept else {
            try? reader.close()
            throw StorageError.closed
        }
        let slot = ReaderSlot(reader)
        self.threadReaders.currentValue = slot
        return slot
    }

    /// Runs `body` like ``read(_:)``, then waits until every commit its snapshot could include
    /// is durable (a commit is visible to readers from its COMMIT, a moment before the syncer's
    /// fsync), so what it returns can never be undone by a power cut.
    public func durableRead<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        let writer = self.writer
        let (value, begun) = try await self.read { connection in
            // Read after the statements: a commit they saw was begun before them.
            (try body(connection), writer.begunGeneration)
        }
        guard await writer.waitUntilDurable(begun) else {
            try Task.checkCancellation()
            throw StorageError.closed
        }
        return value
    }

    private func readOnQueue<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        let pool = self.pool
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            self.readQueue.async {
                continuation.resume(
                    with: Result {
                        do {
                            return try pool.read { db in try body(GRDBConnection(db: db)) }
                        } catch let error as DatabaseError {
                            throw SQLiteDatabase.storageError(error)
                        }
                    })
            }
        }
    }

    /// Transactions committed and writes carried since opening.
    public var writeStatistics: WriteStatistics {
        self.writer.statistics
    }

    /// Write transactions this process has made durable so far.
    public var commitGeneration: Int {
        self.writer.durableGeneration
    }

    /// Waits for this process's next durable commit after `generation`, at most `timeout`.
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

    /// Finishes queued writes and closes the connections.
    public func close() async throws {
        for reader in self.openedThreadReaders.withLockedValue({ readers in defer { readers = nil }; return readers ?? [] }) {
            // A lookup's snapshot still open is rolled back by the close.
            try? reader.close()
        }
        self.writer.close()
        self.checkpointer.close()
        try self.pool.close()
    }

    static func storageError(_ error: any Error) -> any Error {
        guard let error = error as? DatabaseError else {
            return error
        }
        let detail = error.message ?? "\(error)"
        switch error.extendedResultCode {
        case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
            return StorageError.uniqueViolation(detail: detail)
        default:
            if error.resultCode == .SQLITE_CONSTRAINT {
                return StorageError.constraintViolation(detail: detail)
            }
            return StorageError.engine(detail: detail)
        }
    }
}

/// A thread's reference to its read-only connection, which the database owns, and the state
/// of the snapshot its lookups share. Only its own thread reads or writes it (it lives in
/// thread-specific storage, and the task that ends a snapshot runs on the same event loop).
final class ReaderSlot: @unchecked Sendable {
    weak var reader: DatabaseQueue?
    /// The durable generation read just before the BEGIN of the reader's open snapshot (while
    /// the reader is inside a transaction).
    var snapshotGeneration = 0

    init(_ reader: DatabaseQueue) {
        self.reader = reader
    }
}

/// A GRDB connection seen through ``SQLConnection``; valid only inside GRDB's closure.
struct GRDBConnection: SQLConnection {
    let db: Database

    var dialect: SQLDialect { .sqlite }

    func query(_ sql: String, _ parameters: [SQLValue]) throws -> [SQLRow] {
        do {
            return try SQLiteStatementRunner(self.db.cachedStatement(sql: sql), on: self.db).rows(parameters)
        } catch {
            throw SQLiteDatabase.storageError(error)
        }
    }

    func execute(_ sql: String, _ parameters: [SQLValue]) throws -> Int {
        do {
            if parameters.isEmpty {
                // Transaction control (BEGIN, COMMIT, savepoints) and schema steps go through
                // GRDB, which follows the transaction state by them; a migration step of
                // several statements is compiled once, not cached.
                if sql.utf8.contains(UInt8(ascii: ";")) {
                    try self.db.execute(sql: sql)
                } else {
                    try self.db.cachedStatement(sql: sql).execute()
                }
                return self.db.changesCount
            }
            return try SQLiteStatementRunner(self.db.cachedStatement(sql: sql), on: self.db).run(parameters)
        } catch {
            throw SQLiteDatabase.storageError(error)
        }
    }
}
