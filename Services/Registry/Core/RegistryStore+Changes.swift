import Model
import ServiceKit

/// A slice of the change feed.
public struct ChangePage: Sendable, Hashable {
    /// The events that passed the filters, in sequence order.
    public var events: [RegistryV1.ChangeEvent]
    /// The sequence scanned up to (inclusive), filtered or not: resume after it. Equal to the
    /// request's `after` when nothing newer was committed.
    public var scannedThrough: Int64
}

extension RegistryStore {
    /// Changes committed after `sequence`, in commit order: at most `limit` feed rows are
    /// scanned, and those matching `entityKinds` (empty: every kind) and `regionCode` (its
    /// subtree, before or after a move; empty: everywhere) are returned. Sequences only grow
    /// and are assigned in commit order, so a reader that resumes after `scannedThrough`
    /// neither misses nor repeats a change.
    /// - Throws: INVALID_ARGUMENT (region code malformed, limit not 1–10,000).
    public func changes(
        after sequence: Int64, limit: Int = 500, entityKinds: [RegistryV1.ChangeEntityKind] = [],
        regionCode: String = ""
    ) async throws(ServiceError) -> ChangePage {
        guard (1...10_000).contains(limit) else {
            throw Validate.invalid("limit", "must be 1–10,000")
        }
        let range = regionCode.isEmpty ? nil : RegionKeys.subtree(try Validate.regionCode(regionCode, "region_code"))
        let kinds = Set(entityKinds.map { Int64($0.rawValue) })
        // Durable: a change handed to a watcher, or a position it resumes from, is never
        // undone by a power cut (which would hand its sequence to another change).
        return try await self.durableRead { connection in
            let rows = try connection.query(
                """
                SELECT sequence, entity_kind, region_key, previous_region_key, body FROM changes
                WHERE sequence > ? ORDER BY sequence LIMIT ?
                """, [.integer(sequence), .int(limit)])
            var page = ChangePage(events: [], scannedThrough: rows.last?.int64(0) ?? sequence)
            for row in rows {
                if !kinds.isEmpty && !kinds.contains(row.int64(1)) {
                    continue
                }
                if let range {
                    let inside = { (key: String) in !key.isEmpty && key >= range.low && key <= range.high }
                    guard inside(row.string(2)) || inside(row.string(3)) else {
                        continue
                    }
                }
                page.events.append(try Self.decode(RegistryV1.ChangeEvent.self, row.bytes(4)))
            }
            return page
        }
    }

    /// Write transactions this process has made durable so far (see ``waitForChange(after:timeout:)``).
    public var commitGeneration: Int {
        self.database.commitGeneration
    }

    /// Returns once this process has committed a write after `generation` (true), or after
    /// `timeout` (false): a watcher's wait between looks at the feed. Commits by another
    /// process (PostgreSQL shared by several instances) are only found by the next look.
    @discardableResult
    public func waitForChange(after generation: Int, timeout: Duration) async -> Bool {
        await self.database.waitForCommit(after: generation, timeout: timeout)
    }

    /// The oldest retained and the latest committed sequence (0 and 0 for an empty feed): a
    /// watcher starting "from now" resumes after `latest`; a token below `oldest - 1` is
    /// past retention.
    public func changeFeedBounds() async throws(ServiceError) -> (oldest: Int64, latest: Int64) {
        try await self.durableRead { connection in
            let row = try connection.queryOne("SELECT COALESCE(MIN(sequence), 0) FROM changes")
            let latest = try connection.queryOne("SELECT value FROM counters WHERE name = 'changes'")
            return (row?.int64(0) ?? 0, latest?.int64(0) ?? 0)
        }
    }

    /// Deletes changes committed before `microseconds` (UTC), keeping the newest one so the
    /// feed's position survives; returns how many were deleted. Works from the oldest in
    /// chunks of `chunk`, each its own write, so a large backlog never holds the writer long
    /// and a chunk never scans past the oldest `chunk` changes.
    public func pruneChanges(before microseconds: Int64, chunk: Int = 1000) async throws(ServiceError) -> Int {
        try await self.deleteInChunks(
            """
            DELETE FROM changes WHERE sequence IN (
                SELECT sequence FROM (SELECT sequence, change_us FROM changes ORDER BY sequence LIMIT ?) oldest
                WHERE change_us < ?)
            AND sequence < (SELECT MAX(sequence) FROM changes)
            """,
            [.int(chunk), .integer(microseconds)], chunk: chunk)
    }

    /// Forgets idempotency records made before `microseconds` (UTC), oldest first in chunks
    /// like ``pruneChanges(before:chunk:)``; returns how many. Records older than 24 hours
    /// answer no retry anyway (a reused request_id then makes a new record).
    public func pruneIdempotencyRecords(before microseconds: Int64, chunk: Int = 1000) async throws(ServiceError) -> Int {
        if self.database.dialect == .sqlite {
            // No index by age on SQLite (schema v7): records are kept in rowid order, which is
            // the order they were made in, so the oldest are the first rows. A chunk is the
            // first `chunk` rows, of which those older than the cutoff go; a chunk with a
            // younger row in it ends the prune.
            return try await self.deleteInChunks(
                """
                DELETE FROM idempotency WHERE rowid IN (
                    SELECT rowid FROM (SELECT rowid, create_us FROM idempotency ORDER BY rowid LIMIT ?)
                    WHERE create_us < ?)
                """,
                [.int(chunk), .integer(microseconds)], chunk: chunk)
        }
        return try await self.deleteInChunks(
            """
            DELETE FROM idempotency WHERE (caller_id, method, request_id) IN (
                SELECT caller_id, method, request_id FROM idempotency WHERE create_us < ? ORDER BY create_us LIMIT ?)
            """,
            [.integer(microseconds), .int(chunk)], chunk: chunk)
    }

    /// Runs `sql` with `values`, each time its own write, until a run deletes fewer than
    /// `chunk` rows; returns the rows deleted.
    private func deleteInChunks(_ sql: String, _ values: [SQLValue], chunk: Int) async throws(ServiceError) -> Int {
        var deleted = 0
        while true {
            let count = try await self.write { connection in try connection.execute(sql, values) }
            deleted += count
            if count < chunk {
                return deleted
            }
        }
    }
}
