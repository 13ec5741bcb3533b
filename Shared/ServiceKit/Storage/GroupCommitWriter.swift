import Foundation
import NIOCore
import NIOPosix

/// The one writer of a database: a dedicated thread that takes every write waiting at the
/// moment, runs them one after another in a single transaction (each inside its own
/// savepoint, so one caller's failure rolls back only its own statements), commits once, and
/// only then resumes the callers. Under load many callers share one transaction and one
/// fsync; alone, a caller pays for one of each.
///
/// Writes are serialised, which also makes a change feed's sequence numbers follow commit
/// order on both engines.
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
    private let maximumBatch: Int
    private let runner: BatchRunner
    private let beginStatement: String
    private let metrics: DatabaseMetrics?
    /// Commits, for those waiting to hear of the next one (change-feed watchers).
    let commits = CommitSignal()

    /// A writer that hands batches to `runner`, opening each transaction with
    /// `beginStatement` (`BEGIN IMMEDIATE` on SQLite) and taking at most `maximumBatch`
    /// writes per transaction.
    init(
        name: String, beginStatement: String, maximumBatch: Int = 512, metrics: DatabaseMetrics? = nil,
        runner: @escaping BatchRunner
    ) {
        self.runner = runner
        self.metrics = metrics
        self.beginStatement = beginStatement
        self.maximumBatch = maximumBatch
        // The thread holds the writer until close() ends its loop.
        let thread = Thread { self.loop() }
        thread.name = name
        thread.start()
    }

    /// Queues `job`; it completes with ``StorageError/closed`` once ``close()`` has begun.
    func submit(_ job: Job) {
        var job = job
        job.queued = DispatchTime.now().uptimeNanoseconds
        job.loop = MultiThreadedEventLoopGroup.currentEventLoop
        self.condition.lock()
        if self.closing {
            self.condition.unlock()
            job.complete(StorageError.closed)
            return
        }
        self.pending.append(job)
        self.condition.signal()
        self.condition.unlock()
    }

    /// Runs what is queued, then stops the thread. Blocks until it has stopped.
    func close() {
        self.condition.lock()
        self.closing = true
        self.condition.broadcast()
        while !self.finished {
            self.condition.wait()
        }
        self.condition.unlock()
    }

    private func loop() {
        while true {
            self.condition.lock()
            while self.pending.isEmpty && !self.closing {
                self.condition.wait()
            }
            if self.pending.isEmpty && self.closing {
                self.commits.close()
                self.finished = true
                self.condition.broadcast()
                self.condition.unlock()
                return
            }
            let take = min(self.pending.count, self.maximumBatch)
            let batch = Array(self.pending.prefix(take))
            self.pending.removeFirst(take)
            self.condition.unlock()
            self.run(batch)
        }
    }

    private func run(_ batch: [Job]) {
        let started = DispatchTime.now().uptimeNanoseconds
        var failure: (any Error)?
        do {
            try self.runner(batch) { connection in
                try connection.execute(self.beginStatement)
                do {
                    for unit in Self.units(batch) {
                        switch unit {
                        case .single(let job):
                            try Self.inSavepoint(connection) { job.perform(connection) }
                        case .group(let jobs):
                            // The kind's items together; if the set fails as a whole, each
                            // item runs alone so only the failing one fails.
                            let ran = try Self.inSavepoint(connection) {
                                do {
                                    try jobs[0].group!.runAll(jobs.map { $0.group!.slot }, connection)
                                    return true
                                } catch {
                                    return false
                                }
                            }
                            if !ran {
                                for job in jobs {
                                    try Self.inSavepoint(connection) { job.perform(connection) }
                                }
                            }
                        }
                    }
                    try connection.execute("COMMIT")
                } catch {
                    _ = try? connection.execute("ROLLBACK")
                    throw error
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
            self.commits.committed()
        }
        let finished = DispatchTime.now().uptimeNanoseconds
        if let metrics = self.metrics {
            metrics.transactions.recordNanoseconds(Int64(finished - started))
            metrics.transactionWrites.record(batch.count)
            if failure != nil {
                metrics.transactionErrors.increment()
            }
            for job in batch {
                metrics.writes.recordNanoseconds(Int64(finished - job.queued))
            }
        }
        Self.complete(batch, failure)
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
