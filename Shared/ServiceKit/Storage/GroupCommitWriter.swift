import Foundation
import NIOCore
import NIOPosix

/// The one writer of a database: a dedicated thread that takes every write waiting at the
/// moment, runs them one after another in a single transaction (each inside its own
/// savepoint, so one caller's failure rolls back only its own statements; a transaction of
/// one step needs none), commits once, and only then resumes the callers. Under load many
/// callers share one transaction and one fsync; alone, a caller pays for one of each.
///
/// Writes are serialised, which also makes a change feed's sequence numbers follow commit
/// order on both engines.
///
/// With a `sync` step (SQLite: the engine commits without fsync and the step fsyncs its
/// log), durability moves off the writer thread: a second thread, the syncer, runs the step
/// for every transaction committed before it started and only then resumes their callers,
/// while the writer already runs the next transaction. The fsync of one transaction then
/// overlaps the statements of the next instead of stalling them. A committed transaction is
/// visible to readers before its fsync returns; ``durableGeneration`` and
/// ``waitUntilDurable(_:)`` let a reader hold back what it saw until it is on disk.
final class GroupCommitWriter: @unchecked Sendable {
    /// One caller's write: runs its body (recording the outcome) and reports whether the body
    /// succeeded, then learns whether the transaction committed.
    ///
    /// Unchecked: a job passes from its submitter to the writer thread and then, to complete,
    /// to its event loop, one holder at a time (the queue's lock and the loop's task queue
    /// order the hand-offs); what its closures capture (result boxes, batch slots,
    /// continuations) is only touched by the current holder.
    struct Job: @unchecked Sendable {
        /// Runs the body on the connection; true when it succeeded.
        let perform: (any SQLConnection) -> Bool
        /// Set when the write is one item of an ``SQLBatchWrite``: the writer runs the items
        /// of one batch kind waiting together as one set of statements.
        var group: Group? = nil
        /// Called once after the batch: nil when it committed, else why it did not.
        let complete: ((any Error)?) -> Void
        /// When it was queued (uptime nanoseconds), for the write timer.
        var queued: UInt64 = 0
        /// The event loop it was queued from, if any: the writer completes the jobs of one
        /// loop with one hop onto it, not one cross-thread wake-up per caller.
        var loop: (any EventLoop)? = nil
    }

    /// One item of a batched write, type-erased: which batch kind it belongs to, where its
    /// input and outcome live, and how to run a set of such slots.
    struct Group {
        /// The batch kind (the ``SQLBatchWrite`` instance).
        let key: ObjectIdentifier
        /// The item and, once run, its outcome.
        let slot: AnyObject
        /// Runs the slots of one kind as one set of statements, recording each outcome;
        /// throws when the set failed as a whole.
        let runAll: ([AnyObject], any SQLConnection) throws -> Void
    }

    /// Runs `jobs` with a connection: opens it if needed and calls the batch function.
    typealias BatchRunner = ([Job], (any SQLConnection) throws -> Void) throws -> Void

    private let condition = NSCondition()
    private var pending: [Job] = []
    private var closing = false
    private var finished = false
    private var committedTransactions = 0
    private var committedWrites = 0
    /// Transactions the writer has begun so far (each one's generation is the count after it).
    private var begun = 0
    /// Why writes can no longer be acknowledged (a failed sync): every later write fails with it.
    private var broken: (any Error)?
    private let maximumBatch: Int
    private let runner: BatchRunner
    private let beginStatement: String
    private let metrics: DatabaseMetrics?
    /// Makes every transaction committed before the call durable; nil when COMMIT already is.
    private let sync: (() throws -> Void)?
    /// Transactions run (committed or not) and waiting for the syncer, in order; guarded by
    /// ``syncCondition``.
    private var unsynced: [(jobs: [Job], failure: (any Error)?, generation: Int)] = []
    private let syncCondition = NSCondition()
    private var writerDone = false
    private var syncerDone = false
    /// Durable transactions (a failed one counts once the syncer has passed it), for those
    /// waiting to hear of the next one (change-feed watchers) and for ``waitUntilDurable(_:)``.
    let commits = CommitSignal()

    /// A writer that hands batches to `runner`, opening each transaction with
    /// `beginStatement` (`BEGIN IMMEDIATE` on SQLite) and taking at most `maximumBatch`
    /// writes per transaction. With `sync`, a committed transaction's callers resume only
    /// after a call of `sync` that began after the commit, run on a thread of its own.
    /// The threads are named `threadPrefix.writer` and `threadPrefix.sync` (``Foundation/Thread/startNamed(_:_:)``).
    init(
        threadPrefix: String, beginStatement: String, maximumBatch: Int = 512, metrics: DatabaseMetrics? = nil,
        sync: (() throws -> Void)? = nil, runner: @escaping BatchRunner
    ) {
        self.runner = runner
        self.metrics = metrics
        self.beginStatement = beginStatement
        self.maximumBatch = maximumBatch
        self.sync = sync
        // The threads hold the writer until close() ends their loops.
        Thread.startNamed(threadPrefix + ".writer") { self.loop() }
        if sync != nil {
            Thread.startNamed(threadPrefix + ".sync") { self.syncLoop() }
        }
    }

    /// Queues `job`; it completes with ``StorageError/closed`` once ``close()`` has begun, and
    /// with the sync's error once a sync has failed.
    func submit(_ job: Job) {
        var job = job
        job.queued = DispatchTime.now().uptimeNanoseconds
        job.loop = MultiThreadedEventLoopGroup.currentEventLoop
        self.condition.lock()
        if self.closing || self.broken != nil {
            let error = self.broken ?? StorageError.closed
            self.condition.unlock()
            job.complete(error)
            return
        }
        self.pending.append(job)
        self.condition.signal()
        self.condition.unlock()
    }

    /// Runs what is queued, then stops the threads. Blocks until they have stopped.
    func close() {
        self.condition.broadcast({ self.closing = true }, thenWaitUntil: { self.finished })
        if self.sync != nil {
            self.syncCondition.broadcast({ self.writerDone = true }, thenWaitUntil: { self.syncerDone })
        }
        self.commits.close()
    }

    /// Writes queued and not yet taken into a transaction, for tests.
    var queuedWrites: Int {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.pending.count
    }

    /// Transactions begun so far: once ``durableGeneration`` reaches the value read after a
    /// read's statements, everything that read saw is durable.
    var begunGeneration: Int {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.begun
    }

    /// Transactions that are durable (or failed), counted in the order they were begun.
    var durableGeneration: Int {
        self.commits.generation
    }

    /// Returns true once the first `generation` transactions are durable (or failed); false
    /// when the writer closes first or the task is cancelled.
    func waitUntilDurable(_ generation: Int) async -> Bool {
        while self.commits.generation < generation {
            if self.commits.isClosed || Task.isCancelled {
                return false
            }
            _ = await self.commits.wait(after: generation - 1, timeout: .seconds(1))
        }
        return true
    }

    private func loop() {
        while true {
            self.condition.lock()
            while self.pending.isEmpty && !self.closing {
                self.condition.wait()
            }
            if self.pending.isEmpty && self.closing {
                self.finished = true
                self.condition.broadcast()
                self.condition.unlock()
                return
            }
            let take = min(self.pending.count, self.maximumBatch)
            let batch = Array(self.pending.prefix(take))
            self.pending.removeFirst(take)
            self.begun += 1
            let generation = self.begun
            let broken = self.broken
            self.condition.unlock()
            if let broken {
                // A sync failed while these waited: nothing more is acknowledged.
                self.finish(batch, failure: broken, generation: generation)
            } else {
                self.run(batch, generation: generation)
            }
        }
    }

    private func run(_ batch: [Job], generation: Int) {
        let started = DispatchTime.now().uptimeNanoseconds
        var failure: (any Error)?
        do {
            try self.runner(batch) { connection in
                let units = Self.units(batch)
                if units.count == 1 {
                    try self.runAlone(units[0], connection)
                    return
                }
                try self.inTransaction(connection) {
                    for unit in units {
                        switch unit {
                        case .single(let job):
                            try Self.inSavepoint(connection) { job.perform(connection) }
                        case .group(let jobs):
                            // The kind's items together; if the set fails as a whole, each
                            // item runs alone so only the failing one fails.
                            if try !Self.inSavepoint(connection, { Self.runSet(jobs, connection) }) {
                                try Self.runEach(jobs, connection)
                            }
                        }
                    }
                    return true
                }
            }
        } catch {
            failure = error
        }
        if failure == nil {
            self.condition.lock()
            self.committedTransactions += 1
            self.committedWrites += batch.count
            self.condition.unlock()
        }
        if let metrics = self.metrics {
            metrics.transactions.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
            metrics.transactionWrites.record(batch.count)
            if failure != nil {
                metrics.transactionErrors.increment()
            }
        }
        self.finish(batch, failure: failure, generation: generation)
    }

    /// Hands a run transaction on: to the syncer, or (no sync step) straight to its callers.
    private func finish(_ batch: [Job], failure: (any Error)?, generation: Int) {
        guard self.sync != nil else {
            // The generation first: a resumed caller's next read must find it advanced.
            self.commits.advance(to: generation)
            self.completed(batch, failure)
            return
        }
        self.syncCondition.lock()
        self.unsynced.append((batch, failure, generation))
        self.syncCondition.signal()
        self.syncCondition.unlock()
    }

    /// The syncer: takes every transaction run so far, syncs once if any of them committed,
    /// and resumes their callers.
    private func syncLoop() {
        while true {
            self.syncCondition.lock()
            while self.unsynced.isEmpty && !self.writerDone {
                self.syncCondition.wait()
            }
            if self.unsynced.isEmpty {
                self.syncerDone = true
                self.syncCondition.broadcast()
                self.syncCondition.unlock()
                return
            }
            let runs = self.unsynced
            self.unsynced.removeAll(keepingCapacity: true)
            self.syncCondition.unlock()
            var syncFailure: (any Error)?
            if runs.contains(where: { $0.failure == nil }) {
                do {
                    try self.sync!()
                } catch {
                    // Committed but perhaps not on disk, and a later sync may not tell
                    // (the kernel can drop the failed pages): acknowledge nothing from now on.
                    syncFailure = StorageError.engine(detail: "the write log could not be synced to disk: \(error)")
                    self.metrics?.transactionErrors.increment()
                    self.condition.lock()
                    self.broken = syncFailure
                    self.condition.unlock()
                }
            }
            // The generation first: a resumed caller's next read must find it advanced (a
            // lookup keeps its snapshot while the generation stays the same).
            self.commits.advance(to: runs.last!.generation)
            for run in runs {
                self.completed(run.jobs, run.failure ?? syncFailure)
            }
        }
    }

    /// Records the write timer of `jobs` and completes them.
    private func completed(_ jobs: [Job], _ failure: (any Error)?) {
        if let metrics = self.metrics {
            let now = DispatchTime.now().uptimeNanoseconds
            for job in jobs {
                metrics.writes.recordNanoseconds(Int64(now - job.queued))
            }
        }
        Self.complete(jobs, failure)
    }

    /// Completes `jobs`: those queued from an event loop on that loop, in one hop per loop;
    /// the others here.
    private static func complete(_ jobs: [Job], _ failure: (any Error)?) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, jobs: [Job])] = [:]
        for job in jobs {
            guard let loop = job.loop else {
                job.complete(failure)
                continue
            }
            byLoop[ObjectIdentifier(loop), default: (loop, [])].jobs.append(job)
        }
        for (loop, jobs) in byLoop.values {
            loop.execute {
                for job in jobs {
                    job.complete(failure)
                }
            }
        }
    }

    /// What one step of a transaction runs: a write alone, or the waiting items of one batch kind.
    private enum Unit {
        case single(Job)
        case group([Job])
    }

    /// The batch's writes as steps: items of a batch kind are gathered into one step at the
    /// place of the kind's first item; the other writes keep their order.
    private static func units(_ batch: [Job]) -> [Unit] {
        var units: [Unit] = []
        var groupIndex: [ObjectIdentifier: Int] = [:]
        var groups: [[Job]] = []
        for job in batch {
            guard let group = job.group else {
                units.append(.single(job))
                continue
            }
            if let index = groupIndex[group.key] {
                groups[index].append(job)
            } else {
                groupIndex[group.key] = groups.count
                groups.append([job])
                units.append(.group([]))  // placeholder, filled below
            }
        }
        var next = 0
        return units.map { unit in
            guard case .group = unit else { return unit }
            defer { next += 1 }
            return groups[next].count == 1 ? .single(groups[next][0]) : .group(groups[next])
        }
    }

    /// Runs a transaction's only step without a savepoint: two statements fewer (two round
    /// trips on PostgreSQL) for every transaction of one write or of one batch kind. A step
    /// that fails is rolled back with its transaction; a set's items then run again, each in
    /// a savepoint of a new transaction, so only the failing ones fail.
    private func runAlone(_ unit: Unit, _ connection: any SQLConnection) throws {
        switch unit {
        case .single(let job):
            // A write that fails leaves nothing to commit; its own error reaches its caller.
            try self.inTransaction(connection) { job.perform(connection) }
        case .group(let jobs):
            if try !self.inTransaction(connection, { Self.runSet(jobs, connection) }) {
                try self.inTransaction(connection) {
                    try Self.runEach(jobs, connection)
                    return true
                }
            }
        }
    }

    /// Runs `body` in a transaction, committed when it returns true and rolled back when it
    /// returns false or throws; returns what `body` returned.
    @discardableResult
    private func inTransaction(_ connection: any SQLConnection, _ body: () throws -> Bool) throws -> Bool {
        try connection.execute(self.beginStatement)
        do {
            let kept = try body()
            try connection.execute(kept ? "COMMIT" : "ROLLBACK")
            return kept
        } catch {
            // A failed statement, or a COMMIT that failed and may have left the transaction
            // open (SQLite): the writer's next transaction must find none.
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Runs the items of one batch kind as one set of statements; false when the set failed
    /// as a whole.
    private static func runSet(_ jobs: [Job], _ connection: any SQLConnection) -> Bool {
        do {
            try jobs[0].group!.runAll(jobs.map { $0.group!.slot }, connection)
            return true
        } catch {
            return false
        }
    }

    /// Runs the items of one batch kind one by one, each in a savepoint of its own, so only
    /// the failing ones fail (after their set failed as a whole).
    private static func runEach(_ jobs: [Job], _ connection: any SQLConnection) throws {
        for job in jobs {
            try Self.inSavepoint(connection) { job.perform(connection) }
        }
    }

    /// Runs `body` inside a savepoint that is kept when it returns true and rolled back when
    /// it returns false; returns what `body` returned.
    @discardableResult
    private static func inSavepoint(_ connection: any SQLConnection, _ body: () -> Bool) throws -> Bool {
        try connection.execute("SAVEPOINT tongxin_write")
        let kept = body()
        if !kept {
            try connection.execute("ROLLBACK TO SAVEPOINT tongxin_write")
        }
        try connection.execute("RELEASE SAVEPOINT tongxin_write")
        return kept
    }

    /// Transactions committed so far and the writes they carried.
    var statistics: WriteStatistics {
        self.condition.lock()
        defer { self.condition.unlock() }
        return WriteStatistics(transactions: self.committedTransactions, writes: self.committedWrites)
    }
}

/// How well group commit is grouping: committed transactions and the writes they carried
/// (a write whose body failed still counts: it shared the transaction).
public struct WriteStatistics: Sendable, Hashable {
    /// Transactions committed (one fsync each).
    public var transactions: Int
    /// Writes those transactions carried.
    public var writes: Int
}

/// A mutable slot for a value produced on one thread and read on another after a
/// synchronisation point (the writer's completion, a queue hop).
final class ResultBox<T>: @unchecked Sendable {
    var value: Result<T, any Error>?
}

extension GroupCommitWriter {
    /// Queues `body` as one write and resumes when its transaction has committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let box = ResultBox<T>()
            self.submit(
                Job(
                    perform: { connection in
                        do {
                            box.value = .success(try body(connection))
                            return true
                        } catch {
                            box.value = .failure(error)
                            return false
                        }
                    },
                    complete: { failure in
                        if let failure {
                            continuation.resume(throwing: failure)
                        } else if let result = box.value {
                            continuation.resume(with: result)
                        } else {
                            continuation.resume(throwing: StorageError.engine(detail: "write did not run"))
                        }
                    }))
        }
    }
}

/// A kind of write whose concurrent calls the writer runs together: all items of the kind
/// waiting for one transaction go to one ``run(_:on:)``, so N callers cost one set of
/// statements (multi-row inserts, `IN (…)` lookups) instead of N.
///
/// Keep one instance per kind (it identifies the kind). `run` must check every item before
/// writing anything and write nothing for an item it fails; when `run` throws, the writer
/// rolls the set back and runs each item alone (a set of one), so only a failing item fails.
public protocol SQLBatchWrite: AnyObject, Sendable {
    /// One caller's input.
    associatedtype Item: Sendable
    /// One caller's result.
    associatedtype Output: Sendable

    /// Runs `items` in order on `connection`, inside the writer's transaction, and returns
    /// one outcome per item, in the same order: its output, or the error it alone fails with.
    func run(_ items: [Item], on connection: any SQLConnection) throws -> [Result<Output, any Error>]
}

/// One batched item and, after the run, its outcome.
final class BatchSlot<Batch: SQLBatchWrite>: @unchecked Sendable {
    let item: Batch.Item
    var outcome: Result<Batch.Output, any Error>?

    init(_ item: Batch.Item) {
        self.item = item
    }

    /// Runs `slots` (all of this type) through `batch`, recording each outcome.
    static func runAll(_ batch: Batch, _ slots: [AnyObject], _ connection: any SQLConnection) throws {
        let typed = slots.map { $0 as! BatchSlot<Batch> }
        let outcomes = try batch.run(typed.map(\.item), on: connection)
        guard outcomes.count == typed.count else {
            throw StorageError.engine(detail: "batched write returned \(outcomes.count) outcomes for \(typed.count) items")
        }
        for (slot, outcome) in zip(typed, outcomes) {
            slot.outcome = outcome
        }
    }
}

extension GroupCommitWriter {
    /// Queues `item` of the batch kind `batch` and resumes when its transaction has committed.
    func write<Batch: SQLBatchWrite>(_ item: Batch.Item, batchedBy batch: Batch) async throws -> Batch.Output {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Batch.Output, any Error>) in
            let slot = BatchSlot<Batch>(item)
            let runAll: ([AnyObject], any SQLConnection) throws -> Void = { slots, connection in
                try BatchSlot<Batch>.runAll(batch, slots, connection)
            }
            self.submit(
                Job(
                    perform: { connection in
                        do {
                            try runAll([slot], connection)
                        } catch {
                            slot.outcome = .failure(error)
                        }
                        if case .success = slot.outcome {
                            return true
                        }
                        return false
                    },
                    group: Group(key: ObjectIdentifier(batch), slot: slot, runAll: runAll),
                    complete: { failure in
                        if let failure {
                            continuation.resume(throwing: failure)
                        } else if let outcome = slot.outcome {
                            continuation.resume(with: outcome)
                        } else {
                            continuation.resume(throwing: StorageError.engine(detail: "write did not run"))
                        }
                    }))
        }
    }
}

extension NSCondition {
    /// Makes `change` under the lock, wakes every waiter, then waits (the lock released
    /// meanwhile) until `done` holds: how a thread loop is asked to stop and waited for.
    func broadcast(_ change: () -> Void, thenWaitUntil done: () -> Bool) {
        self.lock()
        change()
        self.broadcast()
        while !done() {
            self.wait()
        }
        self.unlock()
    }
}
