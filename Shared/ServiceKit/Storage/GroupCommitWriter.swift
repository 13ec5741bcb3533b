import Foundation

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
    struct Job {
        /// Runs the body on the connection; true when it succeeded.
        let perform: (any SQLConnection) -> Bool
        /// Called once after the batch: nil when it committed, else why it did not.
        let complete: ((any Error)?) -> Void
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

    /// A writer that hands batches to `runner`, opening each transaction with
    /// `beginStatement` (`BEGIN IMMEDIATE` on SQLite) and taking at most `maximumBatch`
    /// writes per transaction.
    init(name: String, beginStatement: String, maximumBatch: Int = 512, runner: @escaping BatchRunner) {
        self.runner = runner
        self.beginStatement = beginStatement
        self.maximumBatch = maximumBatch
        // The thread holds the writer until close() ends its loop.
        let thread = Thread { self.loop() }
        thread.name = name
        thread.start()
    }

    /// Queues `job`; it completes with ``StorageError/closed`` once ``close()`` has begun.
    func submit(_ job: Job) {
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
        var failure: (any Error)?
        do {
            try self.runner(batch) { connection in
                try connection.execute(self.beginStatement)
                do {
                    for job in batch {
                        try connection.execute("SAVEPOINT tongxin_write")
                        if job.perform(connection) {
                            try connection.execute("RELEASE SAVEPOINT tongxin_write")
                        } else {
                            try connection.execute("ROLLBACK TO SAVEPOINT tongxin_write")
                            try connection.execute("RELEASE SAVEPOINT tongxin_write")
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
        }
        for job in batch {
            job.complete(failure)
        }
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
