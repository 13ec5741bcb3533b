import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import Testing

@testable import RPC
@testable import ServiceKit

@Suite("Storage seam")
struct StorageTests {
    static let migrations = [
        Migration(version: 1, name: "items") { d in
            ["CREATE TABLE items (id BIGINT PRIMARY KEY, name \(d.textType) NOT NULL UNIQUE, data \(d.blobType))"]
        },
        Migration(version: 2, name: "items.note") { _ in
            ["ALTER TABLE items ADD COLUMN note TEXT"]
        },
    ]

    @Test("placeholders become $n outside quotes")
    func placeholders() {
        #expect(
            BlockingPostgresConnection.numberedPlaceholders("SELECT ? , '?', \"a?\" WHERE x = ? AND y IN (?, ?)")
                == "SELECT $1 , '?', \"a?\" WHERE x = $2 AND y IN ($3, $4)")
        #expect(BlockingPostgresConnection.numberedPlaceholders("SELECT 1") == "SELECT 1")
        // Non-ASCII text, a doubled quote inside a literal, and numbers of several digits.
        #expect(
            BlockingPostgresConnection.numberedPlaceholders("SELECT '同心 ''?' || ? AS \"名?\", ?")
                == "SELECT '同心 ''?' || $1 AS \"名?\", $2")
        let many = "VALUES " + Array(repeating: "(?, ?)", count: 600).joined(separator: ", ")
        let numbered = BlockingPostgresConnection.numberedPlaceholders(many)
        #expect(numbered.hasPrefix("VALUES ($1, $2), ($3, $4)"))
        #expect(numbered.contains("($9, $10), ($11, $12)"))
        #expect(numbered.contains("($99, $100), ($101, $102)"))
        #expect(numbered.contains("($999, $1000), ($1001, $1002)"))
        #expect(numbered.hasSuffix("($1199, $1200)"))
    }

    @Test("placeholders cast to their parameters' types for a prepared statement")
    func typedPlaceholders() {
        #expect(
            PreparedStatements.typedPlaceholders(
                "SELECT '?' WHERE a = ? AND b = ? AND c = ? AND d = ? AND e IS NOT DISTINCT FROM ?",
                [.integer(1), .text("x"), .blob([1]), .real(0.5), .null])
                == "SELECT '?' WHERE a = $1::bigint AND b = $2::text AND c = $3::bytea AND d = $4::double precision"
                + " AND e IS NOT DISTINCT FROM $5")
    }

    @Test("PostgreSQL prepares a lookup once a connection and parameter types; every type binds; errors stay errors; past the limit lookups run unprepared")
    func preparedStatements() async throws {
        guard let base = ProcessInfo.processInfo.environment["TONGXIN_TEST_POSTGRES_URL"], !base.isEmpty else {
            Issue.record("TONGXIN_TEST_POSTGRES_URL is not set: start a server with scripts/postgres.sh")
            return
        }
        let name = "tongxin_kit_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try await PostgreSQLDatabase.runAdministrativeStatement("CREATE DATABASE \(name)", url: base)
        var components = URLComponents(string: base)!
        components.path = "/" + name
        // One pooled connection, so every lookup finds the statements the last one prepared.
        let database = try await PostgreSQLDatabase(
            url: components.string!, migrations: StorageTests.migrations, maximumConnections: 1)
        do {
            let bytes: [UInt8] = [0, 1, 0xFF]
            try await database.write { connection in
                try connection.execute("INSERT INTO items (id, name, data) VALUES (?, ?, ?)", [1, "一", .blob(bytes)])
                try connection.execute("INSERT INTO items (id, name, data, note) VALUES (?, ?, ?, ?)", [2, "二", .blob([]), "n"])
            }
            let lookup = "SELECT id, name, data FROM items WHERE id = ?"
            for _ in 0..<3 {
                #expect(try await database.quickQuery(lookup, [1]).map(\.values) == [[.integer(1), .text("一"), .blob(bytes)]])
                #expect(try await database.quickQuery(lookup, [2]).first?["name"] == .text("二"))
                #expect(try await database.quickQuery(lookup, [3]).isEmpty)
            }
            #expect(database.preparedStatementCount == 1)
            // The same SQL with a parameter of another type (here NULL) is a statement of its own.
            let notes = "SELECT COUNT(*) FROM items WHERE note IS NOT DISTINCT FROM ?"
            #expect(try await database.quickQuery(notes, [.null]).first?.int64(0) == 1)
            #expect(try await database.quickQuery(notes, ["n"]).first?.int64(0) == 1)
            #expect(try await database.quickQuery(notes, ["m"]).first?.int64(0) == 0)
            #expect(database.preparedStatementCount == 3)
            #expect(
                try await database.quickQuery("SELECT id FROM items WHERE data = ? AND ? > 1.5", [.blob(bytes), .real(2.5)])
                    .map(\.values) == [[.integer(1)]])
            #expect(database.preparedStatementCount == 4)
            // A read transaction's statements are planned each time, not prepared.
            let read = try await database.read { connection in try connection.query(lookup + " AND id > ?", [2, 0]) }
            #expect(read.first?["data"] == .blob([]))
            #expect(database.preparedStatementCount == 4)
            // An error when preparing is not kept; an error when executing leaves the connection usable.
            await #expect(throws: StorageError.self) {
                try await database.quickQuery("SELECT no_such_column FROM items WHERE id = ?", [1])
            }
            do {
                _ = try await database.quickQuery("SELECT 10 / ?", [0])
                Issue.record("division by zero answered")
            } catch let StorageError.engine(detail) {
                #expect(detail.contains("22012"), "\(detail)")
            }
            #expect(try await database.quickQuery("SELECT 10 / ?", [5]).first?.int64(0) == 2)
            #expect(database.preparedStatementCount == 5)
            // Past the limit a connection prepares no more; the queries still answer.
            for k in 0..<(PreparedStatements.limitPerConnection + 5) {
                #expect(try await database.quickQuery("SELECT ? + \(k)", [1]).first?.int64(0) == Int64(k + 1))
            }
            #expect(database.preparedStatementCount == PreparedStatements.limitPerConnection)
        } catch {
            Issue.record(error)
        }
        try? await database.close()
        try? await PostgreSQLDatabase.runAdministrativeStatement("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", url: base)
    }

    @Test("postgres:// URLs")
    func endpoint() throws {
        let endpoint = try PostgreSQLDatabase.Endpoint(url: "postgres://me:secret@db.local:6543/tongxin")
        #expect(try endpoint == .init(url: "postgresql://me:secret@db.local:6543/tongxin"))
        #expect(endpoint.host == "db.local")
        #expect(endpoint.port == 6543)
        #expect(endpoint.username == "me")
        #expect(endpoint.password == "secret")
        #expect(endpoint.database == "tongxin")
        #expect(throws: StorageError.self) { try PostgreSQLDatabase.Endpoint(url: "mysql://x/y") }
    }

    @Test("SQLite runs in WAL mode, commits without an fsync and syncs the WAL itself; a checkpointer runs beside it")
    func sqliteDurabilitySettings() async throws {
        try await withTestDatabase("sqlite") { database in
            let settings = try await database.write { connection in
                (
                    try connection.queryOne("PRAGMA journal_mode")?.string(0),
                    try connection.queryOne("PRAGMA synchronous")?.int64(0)
                )
            }
            #expect(settings.0 == "wal")
            // NORMAL: COMMIT does not fsync; the writer's syncer does (GroupCommitWriterTests).
            #expect(settings.1 == 1)
            let sqlite = try #require(database as? SQLiteDatabase)
            #expect(sqlite.commitGeneration >= 1)
            // The background checkpointer copies the WAL into the database once commits come.
            for _ in 0..<100 where sqlite.backgroundCheckpoints == 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(sqlite.backgroundCheckpoints >= 1)
            // A WAL this short is far from the writer's automatic checkpoint: the database
            // file is left for SQLite to sync.
            #expect(sqlite.backgroundDatabaseSyncs == 0)
            // It checkpoints every 200 ms, and every 20 ms while the WAL holds more than a
            // quarter of the writer's automatic checkpoint (2,048 frames).
            #expect(sqlite.checkpointPause(afterFrames: 100) == .milliseconds(200))
            #expect(sqlite.checkpointPause(afterFrames: 2048) == .milliseconds(200))
            #expect(sqlite.checkpointPause(afterFrames: 2049) == .milliseconds(20))
            // What a durable read saw is durable when it returns.
            let count = try await database.durableRead { connection in
                try connection.queryOne("SELECT COUNT(*) FROM items")?.int64(0)
            }
            #expect(count == 0)
            #expect(sqlite.commitGeneration >= 1)
            // The storage threads carry their names (Linux sets none longer than 15 bytes), so
            // `top -H` and `perf` tell them apart.
            let names = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").map { task in
                try String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(Set(["sqlite.writer", "sqlite.sync", "sqlite.ckpt"]).isSubset(of: Set(names)), "\(names)")
        }
    }

    @Test("SQLite's background checkpointer syncs the database file once the WAL nears the writer's automatic checkpoint")
    func sqliteCheckpointerSyncsTheDatabase() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("kit.sqlite").path
        // Above 2 frames: the twenty commits below leave more in the WAL.
        let database = try SQLiteDatabase(path: path, migrations: Self.migrations, maximumReaders: 2, checkpointSyncPages: 2)
        for id in 0..<20 {
            _ = try await database.write { connection in
                try connection.execute("INSERT INTO items (id, name) VALUES (?, ?)", [.integer(Int64(id)), .text("item \(id)")])
            }
        }
        for _ in 0..<100 where database.backgroundDatabaseSyncs == 0 {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(database.backgroundDatabaseSyncs >= 1)
        #expect(database.backgroundCheckpoints >= database.backgroundDatabaseSyncs)
        try await database.close()
        // The file is whole: every row is there when it is opened again.
        let reopened = try SQLiteDatabase(path: path, migrations: Self.migrations)
        let count = try await reopened.read { connection in try connection.queryOne("SELECT COUNT(*) FROM items")?.int64(0) }
        #expect(count == 20)
        try await reopened.close()
    }

    @Test("values round-trip; a failed write rolls back alone; migrations apply once", arguments: ["sqlite", "postgres"])
    func roundTripAndIsolation(engine: String) async throws {
        try await withTestDatabase(engine) { database in
            let bytes: [UInt8] = [0, 1, 2, 255]
            _ = try await database.write { connection in
                try connection.execute(
                    "INSERT INTO items (id, name, data, note) VALUES (?, ?, ?, ?)",
                    [1, "一", .blob(bytes), nil])
            }
            let row = try await database.read { connection in
                try connection.queryOne("SELECT id, name, data, note FROM items WHERE id = ?", [1])
            }
            #expect(row?.values == [.integer(1), .text("一"), .blob(bytes), .null])
            #expect(row?["name"] == .text("一"))
            let sums = try await database.read { connection in
                try connection.queryOne("SELECT SUM(id), COUNT(*), SUM(id) / 2.0 FROM items")
            }
            #expect(sums?.values == [.integer(1), .integer(1), .real(0.5)])
            // Empty text and bytes stay empty, not NULL; doubles and negative integers keep
            // their values.
            _ = try await database.write { connection in
                try connection.execute(
                    "INSERT INTO items (id, name, data, note) VALUES (?, ?, ?, ?)", [-2, "", .blob([]), nil])
            }
            let edges = try await database.read { connection in
                try connection.queryOne(
                    "SELECT id, name, data, name IS NULL, data IS NULL, CAST(? AS DOUBLE PRECISION) * 2 FROM items WHERE id = ?",
                    [.real(-1.25), -2])
            }
            #expect(edges?.values == [.integer(-2), .text(""), .blob([]), .integer(0), .integer(0), .real(-2.5)])
            // The one-statement lookup answers as a read does, named columns and all (none: no rows).
            let quick = try await database.quickQuery("SELECT id, name, data, note FROM items WHERE id IN (?, ?) ORDER BY id", [1, -2])
            #expect(quick.map(\.values) == [[.integer(-2), .text(""), .blob([]), .null], [.integer(1), .text("一"), .blob(bytes), .null]])
            #expect(quick.first?["data"] == .blob([]))
            #expect(try await database.quickQuery("SELECT id FROM items WHERE id = ?", [99]).isEmpty)
            // A parameter count that does not match the statement is an error, not a crash.
            await #expect(throws: StorageError.self) {
                try await database.read { connection in
                    try connection.query("SELECT id FROM items WHERE id = ? AND name = ?", [1])
                }
            }
            await #expect(throws: StorageError.self) {
                try await database.quickQuery("SELECT id FROM items WHERE id = ? AND name = ?", [1])
            }
            await #expect(throws: StorageError.self) {
                try await database.quickQuery("SELECT no_such_column FROM items", [])
            }

            // Many writers at once: the one that breaks a constraint fails alone.
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for index in 2...41 {
                    group.addTask {
                        do {
                            try await database.write { connection in
                                try connection.execute(
                                    "INSERT INTO items (id, name) VALUES (?, ?)",
                                    [.int(index), .text(index == 20 ? "一" : "n\(index)")])
                                try connection.execute(
                                    "INSERT INTO items (id, name) VALUES (?, ?)",
                                    [.int(1000 + index), .text("m\(index)")])
                            }
                            return (index, true)
                        } catch let error as StorageError {
                            if case .uniqueViolation = error {
                                return (index, false)
                            }
                            return (-1, false)
                        } catch {
                            return (-1, false)
                        }
                    }
                }
                var outcomes: [Int: Bool] = [:]
                for await (index, ok) in group {
                    outcomes[index] = ok
                }
                return outcomes
            }
            // Group commit: the 40 concurrent writes shared fewer transactions than 40.
            let statistics = database.writeStatistics
            #expect(statistics.writes == 42)  // and the two single writes above
            #expect(statistics.transactions < 42)
            #expect(outcomes.count == 40)
            #expect(outcomes.filter { !$0.value }.map(\.key) == [20])
            let count = try await database.read { connection in
                try connection.queryOne("SELECT COUNT(*) FROM items")?.int64(0)
            }
            #expect(count == Int64(2 + 39 * 2))
            let orphan = try await database.read { connection in
                try connection.queryOne("SELECT COUNT(*) FROM items WHERE id = 1020")?.int64(0)
            }
            #expect(orphan == 0)

            // A write alone in its transaction (no savepoint) that fails after a statement:
            // the statement is rolled back, the caller gets the error, and the next write
            // finds no transaction left open.
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                try await database.write { connection in
                    try connection.execute("INSERT INTO items (id, name) VALUES (?, ?)", [500, "alone"])
                    throw Refused()
                }
            }
            await #expect(throws: StorageError.self) {
                try await database.write { connection in
                    try connection.execute("INSERT INTO items (id, name) VALUES (?, ?)", [501, "n2"])
                }
            }
            _ = try await database.write { connection in
                try connection.execute("INSERT INTO items (id, name) VALUES (?, ?)", [502, "after"])
            }
            let alone = try await database.read { connection in
                try connection.query("SELECT id FROM items WHERE id BETWEEN 500 AND 599 ORDER BY id", []).map { $0.int64(0) }
            }
            #expect(alone == [502])
        }
    }
}

/// A batch kind for the tests: inserts items with one multi-row statement; "bad…" names are
/// rejected item by item, and a duplicate name makes the whole set throw.
final class ItemInsertion: SQLBatchWrite {
    struct Item: Sendable {
        var id: Int
        var name: String
    }

    let sizes = NIOLockedValueBox<[Int]>([])

    func run(_ items: [Item], on connection: any SQLConnection) throws -> [Result<Int, any Error>] {
        self.sizes.withLockedValue { $0.append(items.count) }
        var outcomes: [Result<Int, any Error>] = []
        var rows: [[SQLValue]] = []
        for item in items {
            if item.name.hasPrefix("bad") {
                outcomes.append(.failure(StorageError.constraintViolation(detail: "bad name \(item.name)")))
            } else {
                rows.append([.int(item.id), .text(item.name)])
                outcomes.append(.success(item.id))
            }
        }
        try connection.insert(into: "items", ["id", "name"], rows: rows)
        return outcomes
    }
}

extension StorageTests {
    @Test("a commit wakes those waiting for it; a wait otherwise times out or is cancelled", arguments: ["sqlite", "postgres"])
    func commitWakeUps(engine: String) async throws {
        try await withTestDatabase(engine) { database in
            let before = database.commitGeneration
            // A waiter with an hour to wait is woken by the next commit, not by its timeout.
            let waiter = Task { await database.waitForCommit(after: before, timeout: .seconds(3600)) }
            try await Task.sleep(for: .milliseconds(50))
            _ = try await database.write { connection in
                try connection.execute("INSERT INTO items (id, name) VALUES (?, ?)", [7, "七"])
            }
            #expect(await waiter.value == true)
            #expect(database.commitGeneration == before + 1)
            // A commit already past answers at once; with none, the timeout ends the wait.
            #expect(await database.waitForCommit(after: before, timeout: .seconds(3600)) == true)
            #expect(await database.waitForCommit(after: before + 1, timeout: .milliseconds(20)) == false)
            let now = database.commitGeneration
            // Cancelling a waiter ends its wait.
            let cancelled = Task { await database.waitForCommit(after: now, timeout: .seconds(3600)) }
            try await Task.sleep(for: .milliseconds(50))
            cancelled.cancel()
            #expect(await cancelled.value == false)
        }
    }

    @Test("SQLite lookups on an event loop share one snapshot a turn, which never hides an acknowledged write")
    func lookupSnapshotPerTurn() async throws {
        try await withTestDatabase("sqlite") { database in
            let sqlite = try #require(database as? SQLiteDatabase)
            // A second registry process on the same file: its commits are not this one's.
            let other = try SQLiteDatabase(path: sqlite.path, migrations: StorageTests.migrations)
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let executor = EventLoopTaskExecutor(loop: group.next())
            @Sendable func count() async throws -> Int64 {
                try await database.quickQuery("SELECT COUNT(*) FROM items", []).first?.int64(0) ?? -1
            }
            @Sendable func insert(_ id: Int64, into target: any SQLDatabase) async throws {
                _ = try await target.write { connection in
                    try connection.execute("INSERT INTO items (id, name) VALUES (?, ?)", [.integer(id), .text("item \(id)")])
                }
            }
            let (first, afterOwn, afterOther) = try await withTaskExecutorPreference(executor) {
                // One turn of the loop: the three lookups run without giving the loop up, while
                // writes are made and acknowledged on other threads.
                let first = try await count()
                waitBlocking { try await insert(1, into: database) }
                let afterOwn = try await count()
                waitBlocking { try await insert(2, into: other) }
                let afterOther = try await count()
                return (first, afterOwn, afterOther)
            }
            #expect(first == 0)
            // This process acknowledged the write: the lookup begins a new snapshot for it.
            #expect(afterOwn == 1)
            // Another process's commit is seen from the next turn on, not within this one.
            #expect(afterOther == 1)
            let nextTurn = try await withTaskExecutorPreference(executor) { try await count() }
            #expect(nextTurn == 2)
            // Off the event loops each lookup is its own snapshot.
            #expect(try await count() == 2)
            try await other.close()
            try await group.shutdownGracefully()
        }
    }

    @Test("batched writes share statements; a rejected item and a failing set fail only their own", arguments: ["sqlite", "postgres"])
    func batchedWrites(engine: String) async throws {
        try await withTestDatabase(engine) { database in
            let insertion = ItemInsertion()
            let outcomes = await withTaskGroup(of: (Int, String).self) { group in
                for index in 1...60 {
                    group.addTask {
                        // 7 and 8 share a name: whichever set holds both throws and is rerun item by item.
                        let name = index == 13 ? "bad13" : index == 8 ? "n7" : "n\(index)"
                        do {
                            let id = try await database.write(ItemInsertion.Item(id: index, name: name), batchedBy: insertion)
                            return (index, id == index ? "ok" : "wrong id \(id)")
                        } catch let error as StorageError {
                            switch error {
                            case .uniqueViolation: return (index, "unique")
                            case .constraintViolation: return (index, "rejected")
                            default: return (index, "\(error)")
                            }
                        } catch {
                            return (index, "\(error)")
                        }
                    }
                }
                var outcomes: [Int: String] = [:]
                for await (index, outcome) in group {
                    outcomes[index] = outcome
                }
                return outcomes
            }
            #expect(outcomes[13] == "rejected")
            // Exactly one of the two writers of "n7" won.
            #expect([outcomes[7], outcomes[8]].filter { $0 == "ok" }.count == 1)
            #expect([outcomes[7], outcomes[8]].filter { $0 == "unique" }.count == 1)
            #expect(outcomes.filter { $0.value == "ok" }.count == 58)
            let stored = try await database.read { connection in
                try connection.query("SELECT id FROM items ORDER BY id", []).map { Int($0.int64(0)) }
            }
            #expect(stored == (1...60).filter { $0 != 13 && $0 != (outcomes[7] == "ok" ? 8 : 7) })
            // Concurrent items of the kind ran as sets, not one by one.
            #expect(insertion.sizes.withLockedValue { $0.max() ?? 0 } > 1)
        }
    }
}

/// Runs `body` on another task and blocks the calling thread (an event loop's, in the middle of
/// its turn) until it is done; fails the test if it throws.
func waitBlocking(_ body: @escaping @Sendable () async throws -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do {
            try await body()
        } catch {
            Issue.record(error)
        }
        done.signal()
    }
    done.wait()
}

/// A fresh database with ``StorageTests/migrations``, on "sqlite" or "postgres" (which needs
/// TONGXIN_TEST_POSTGRES_URL and fails without it).
func withTestDatabase(_ engine: String, _ body: (any SQLDatabase) async throws -> Void) async throws {
    let name = "tongxin_kit_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    if engine == "sqlite" {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(String(name))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("kit.sqlite").path
        let database = try SQLiteDatabase(path: path, migrations: StorageTests.migrations)
        try await body(database)
        try await database.close()
        // Opening again applies nothing new and keeps the data.
        let reopened = try SQLiteDatabase(path: path, migrations: StorageTests.migrations)
        let versions = try await reopened.read { connection in
            try connection.query("SELECT version FROM schema_migrations ORDER BY version", []).map { $0.int64(0) }
        }
        #expect(versions == [1, 2])
        try await reopened.close()
        return
    }
    guard let base = ProcessInfo.processInfo.environment["TONGXIN_TEST_POSTGRES_URL"], !base.isEmpty else {
        Issue.record("TONGXIN_TEST_POSTGRES_URL is not set: start a server with scripts/postgres.sh")
        return
    }
    try await PostgreSQLDatabase.runAdministrativeStatement("CREATE DATABASE \(name)", url: base)
    var components = URLComponents(string: base)!
    components.path = "/" + name
    let database = try await PostgreSQLDatabase(url: components.string!, migrations: StorageTests.migrations)
    do {
        try await body(database)
    } catch {
        Issue.record(error)
    }
    try? await database.close()
    let again = try await PostgreSQLDatabase(url: components.string!, migrations: StorageTests.migrations)
    let versions = try await again.read { connection in
        try connection.query("SELECT version FROM schema_migrations ORDER BY version", []).map { $0.int64(0) }
    }
    #expect(versions == [1, 2])
    try? await again.close()
    try? await PostgreSQLDatabase.runAdministrativeStatement("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", url: base)
}
