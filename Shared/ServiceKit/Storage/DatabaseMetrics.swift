import Atomics
import Foundation
import Metrics

/// What a database reports through swift-metrics (the service runtime exposes it on the admin
/// port's /metrics), every series labelled with the engine:
/// - `tongxin_db_read_seconds`: a read, from the call to its result (waiting for a reader
///   connection included);
/// - `tongxin_db_write_seconds`: a write, from the call until its transaction is on disk;
/// - `tongxin_db_transaction_seconds`: one group-committed transaction, BEGIN to COMMIT (the
///   fsync included), and `tongxin_db_transaction_writes`, the writes it carried;
/// - `tongxin_db_errors_total{operation}`: reads and transactions that failed in the engine;
/// - `tongxin_db_connections{role}`: connections the database may hold (readers, writer), and
///   `tongxin_db_connections_busy`: reader connections in use now.
final class DatabaseMetrics: Sendable {
    let reads: Timer
    let writes: Timer
    let transactions: Timer
    let transactionWrites: Recorder
    let readErrors: Counter
    let transactionErrors: Counter
    private let busy: Gauge
    private let busyCount = ManagedAtomic<Int>(0)

    init(engine: SQLDialect, readers: Int) {
        let dimensions = [("engine", engine.rawValue)]
        self.reads = Timer(label: "tongxin_db_read_seconds", dimensions: dimensions)
        self.writes = Timer(label: "tongxin_db_write_seconds", dimensions: dimensions)
        self.transactions = Timer(label: "tongxin_db_transaction_seconds", dimensions: dimensions)
        self.transactionWrites = Recorder(label: "tongxin_db_transaction_writes", dimensions: dimensions, aggregate: true)
        self.readErrors = Counter(label: "tongxin_db_errors_total", dimensions: dimensions + [("operation", "read")])
        self.transactionErrors = Counter(
            label: "tongxin_db_errors_total", dimensions: dimensions + [("operation", "transaction")])
        self.busy = Gauge(label: "tongxin_db_connections_busy", dimensions: dimensions)
        Gauge(label: "tongxin_db_connections", dimensions: dimensions + [("role", "reader")]).record(readers)
        Gauge(label: "tongxin_db_connections", dimensions: dimensions + [("role", "writer")]).record(1)
    }

    /// Times a read on the calling thread's own connection (no pool, so nothing to count as
    /// busy).
    func quickRead<T>(_ body: () throws -> T) throws -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { self.reads.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start)) }
        do {
            return try body()
        } catch {
            try self.counted(error)
        }
    }

    /// Times a read and counts its reader connection as busy while it runs.
    func read<T>(_ body: () async throws -> T) async throws -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        self.busy.record(self.busyCount.wrappingIncrementThenLoad(ordering: .relaxed))
        defer {
            self.busy.record(self.busyCount.wrappingDecrementThenLoad(ordering: .relaxed))
            self.reads.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
        }
        do {
            return try await body()
        } catch {
            try self.counted(error)
        }
    }

    /// Counts `error` if it is the engine's (what a body throws, NOT_FOUND …, is business),
    /// and rethrows it.
    private func counted(_ error: any Error) throws -> Never {
        if error is StorageError {
            self.readErrors.increment()
        }
        throw error
    }
}
