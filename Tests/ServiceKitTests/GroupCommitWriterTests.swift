import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import ServiceKit

/// The writer's sync stage, with a recording connection (the writer's only collaborator
/// besides its sync step) and a sync step the test holds shut: when callers resume, what the
/// next transaction may do meanwhile, and what a failed sync does.
@Suite("Group commit with a sync stage")
struct GroupCommitWriterTests {
    @Test("a write resumes only after the sync that follows its commit; the next transaction runs during that sync")
    func syncAfterCommit() async throws {
        let fixture = Fixture()
        let writer = fixture.writer()
        defer { writer.close() }

        let first = Task { try await writer.write { connection in try connection.execute("INSERT 1", []) } }
        // The first transaction committed and its sync started; the gate holds the sync.
        try await fixture.waitForSyncs(1)
        #expect(fixture.statements.withLockedValue { $0 } == ["BEGIN", "INSERT 1", "COMMIT"])
        #expect(writer.begunGeneration == 1)
        #expect(writer.durableGeneration == 0)
        let durable = Task { await writer.waitUntilDurable(1) }

        // A second write runs and commits while the first one's sync is still held …
        let second = Task { try await writer.write { connection in try connection.execute("INSERT 2", []) } }
        try await fixture.waitForStatements(6)
        #expect(fixture.statements.withLockedValue { Array($0.suffix(3)) } == ["BEGIN", "INSERT 2", "COMMIT"])
        // … and neither caller has resumed.
        try await Task.sleep(for: .milliseconds(50))
        #expect(writer.durableGeneration == 0)
        #expect(fixture.syncs.withLockedValue { $0 } == 1)

        fixture.open()
        #expect(try await first.value == 1)
        #expect(try await second.value == 1)
        #expect(await durable.value == true)
        // One sync made the first transaction durable; the second needed a sync begun after
        // its own commit.
        #expect(fixture.syncs.withLockedValue { $0 } == 2)
        #expect(writer.durableGeneration == 2)
    }

    @Test("a failed sync fails its callers and every later write; waiters are not left hanging")
    func failedSync() async throws {
        let fixture = Fixture()
        fixture.failing.withLockedValue { $0 = true }
        fixture.open()
        let writer = fixture.writer()
        defer { writer.close() }

        await #expect {
            try await writer.write { connection in try connection.execute("INSERT 1", []) }
        } throws: { error in
            guard case StorageError.engine(let detail) = error else { return false }
            return detail.contains("could not be synced") && detail.contains("disk on fire")
        }
        #expect(await writer.waitUntilDurable(1) == true)
        // Nothing more is acknowledged, and no statement of a later write runs.
        let before = fixture.statements.withLockedValue { $0.count }
        await #expect(throws: StorageError.self) {
            try await writer.write { connection in try connection.execute("INSERT 2", []) }
        }
        #expect(fixture.statements.withLockedValue { $0.count } == before)
    }

    @Test("a transaction that fails is reported in order, after the syncs before it")
    func failedTransaction() async throws {
        let fixture = Fixture()
        fixture.open()
        let writer = fixture.writer()
        defer { writer.close() }
        fixture.failCommit.withLockedValue { $0 = true }
        await #expect(throws: StorageError.self) {
            try await writer.write { connection in try connection.execute("INSERT 1", []) }
        }
        #expect(fixture.statements.withLockedValue { $0.last } == "ROLLBACK")
        // Nothing committed, so nothing needed a sync; the generation still moves on.
        #expect(fixture.syncs.withLockedValue { $0 } == 0)
        #expect(writer.durableGeneration == 1)
    }

    @Test("a transaction of one write has no savepoint; writes sharing one get one each, and a failing one rolls back alone")
    func savepoints() async throws {
        let fixture = Fixture()
        fixture.open()
        let writer = fixture.writer()
        defer { writer.close() }
        struct Refused: Error {}

        // Alone and failing after a statement: the transaction is rolled back, the caller gets
        // its own error.
        await #expect(throws: Refused.self) {
            try await writer.write { connection in
                try connection.execute("INSERT 1", [])
                throw Refused()
            }
        }
        #expect(fixture.statements.withLockedValue { $0 } == ["BEGIN", "INSERT 1", "ROLLBACK"])

        // Two writes queue while the writer is held inside a third: they share the next
        // transaction, each in a savepoint, and the failing one is rolled back to it.
        let release = DispatchSemaphore(value: 0)
        let holder = Task {
            try await writer.write { connection in
                try connection.execute("INSERT 2", [])
                release.wait()
            }
        }
        try await fixture.waitForStatements(5)
        let good = Task { try await writer.write { connection in try connection.execute("INSERT 3", []) } }
        let bad = Task {
            try await writer.write { connection in
                try connection.execute("INSERT 4", [])
                throw Refused()
            }
        }
        for _ in 0..<500 where writer.queuedWrites < 2 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(writer.queuedWrites == 2)
        release.signal()
        try await holder.value
        #expect(try await good.value == 1)
        await #expect(throws: Refused.self) { try await bad.value }
        let second = fixture.statements.withLockedValue { Array($0.dropFirst(6)) }
        let expected = ["SAVEPOINT", "INSERT 3", "RELEASE", "SAVEPOINT", "INSERT 4", "ROLLBACK", "RELEASE", "COMMIT"]
        let otherOrder = ["SAVEPOINT", "INSERT 4", "ROLLBACK", "RELEASE", "SAVEPOINT", "INSERT 3", "RELEASE", "COMMIT"]
        #expect(second == ["BEGIN"] + expected || second == ["BEGIN"] + otherOrder)
    }
}

/// A recording connection, a sync step behind a gate, and a writer wired to both.
private final class Fixture: Sendable {
    let statements = NIOLockedValueBox<[String]>([])
    let syncs = NIOLockedValueBox(0)
    let failing = NIOLockedValueBox(false)
    let failCommit = NIOLockedValueBox(false)
    private let gate = NSCondition()
    private let isOpen = NIOLockedValueBox(false)

    func writer() -> GroupCommitWriter {
        GroupCommitWriter(
            threadPrefix: "test", beginStatement: "BEGIN",
            sync: {
                self.gate.lock()
                self.syncs.withLockedValue { $0 += 1 }
                while !self.isOpen.withLockedValue({ $0 }) {
                    self.gate.wait()
                }
                self.gate.unlock()
                if self.failing.withLockedValue({ $0 }) {
                    throw StorageError.engine(detail: "disk on fire")
                }
            }
        ) { _, batch in
            try batch(RecordingConnection(fixture: self))
        }
    }

    /// Lets every sync through, now and later.
    func open() {
        self.gate.lock()
        self.isOpen.withLockedValue { $0 = true }
        self.gate.broadcast()
        self.gate.unlock()
    }

    func waitForSyncs(_ count: Int) async throws {
        try await self.waitUntil { self.syncs.withLockedValue { $0 } >= count }
    }

    func waitForStatements(_ count: Int) async throws {
        try await self.waitUntil { self.statements.withLockedValue { $0.count } >= count }
    }

    private func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(condition())
    }
}

/// Records each statement's first word (and an INSERT's argument); fails COMMIT on demand.
private struct RecordingConnection: SQLConnection {
    let fixture: Fixture

    var dialect: SQLDialect { .sqlite }

    func query(_ sql: String, _ parameters: [SQLValue]) throws -> [SQLRow] {
        _ = try self.execute(sql, parameters)
        return []
    }

    func execute(_ sql: String, _ parameters: [SQLValue]) throws -> Int {
        let words = sql.split(separator: " ")
        let recorded = words.first == "INSERT" ? sql : String(words.first ?? "")
        self.fixture.statements.withLockedValue { $0.append(recorded) }
        if recorded == "COMMIT" && self.fixture.failCommit.withLockedValue({ $0 }) {
            throw StorageError.engine(detail: "commit refused")
        }
        return 1
    }
}
