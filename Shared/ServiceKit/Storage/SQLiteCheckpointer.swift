import Foundation
import GRDB

/// Copies the WAL of a SQLite database into the database file on a thread and connection of
/// its own, so the writer rarely has to.
///
/// SQLite's automatic checkpoint runs on the connection that committed, right after its
/// commit: the writer then copies every page written since the last checkpoint and waits for
/// two fsyncs (the WAL's, the database file's) while no transaction runs and every caller
/// waits. Measured at 64 concurrent creates, that cost 7 % of the throughput and put p99 above
/// 100 ms. This thread runs a PASSIVE checkpoint (it never blocks the writer or readers) every
/// ``interval`` while commits come in, so the writer's own automatic checkpoint, kept as the
/// backstop that restarts the WAL from its beginning, finds almost nothing left to copy.
///
/// Under heavy writes the WAL outgrows one pause: at 10,000 creates/s it reaches the backstop
/// in about a quarter of a second, and the backstop, run by the writer, copied most of it while
/// every caller waited (the slowest create of each second took 45–55 ms). So once a checkpoint
/// finds more than ``catchUpAbovePages`` frames in the WAL, the next one follows after
/// ``catchUpInterval`` instead.
///
/// A PASSIVE checkpoint syncs the database file only when it has copied the whole WAL, which
/// under steady writes it never has (the writer commits more while it copies). The pages it
/// copied would then stay dirty until the writer's backstop syncs the file and the kernel
/// writes them all back, tens of milliseconds in which every caller waits. So once the WAL
/// holds ``syncAbovePages`` frames, near the backstop, this thread syncs the database file
/// itself after its checkpoint: about once between two backstops, so a page is still written
/// back about once a cycle, and the backstop's sync finds only the last pages dirty.
final class SQLiteCheckpointer: @unchecked Sendable {
    /// The pause between checkpoints while commits come in.
    static let interval: Duration = .milliseconds(200)
    /// The pause after a checkpoint that found more than ``catchUpAbovePages`` frames.
    static let catchUpInterval: Duration = .milliseconds(20)

    private let connection: DatabaseQueue
    private let generation: @Sendable () -> Int
    /// The database file, for syncing (see the type's comment).
    private let databaseFile: SyncOnlyFile
    /// The WAL frames above which a checkpoint is followed by a sync of the database file.
    private let syncAbovePages: Int
    /// The WAL frames above which the next checkpoint follows after ``catchUpInterval``.
    private let catchUpAbovePages: Int
    private let condition = NSCondition()
    private var closing = false
    private var finished = false
    /// Checkpoints that ran, for tests.
    private var completed = 0
    /// Syncs of the database file that ran, for tests.
    private var synced = 0

    /// Opens a connection of its own to the database at `path` and starts the thread, which
    /// checkpoints whenever `generation` (the writer's durable commits) has moved on since its
    /// last look, and syncs the database file after a checkpoint that found more than
    /// `syncAbovePages` frames in the WAL; after one that found more than `catchUpAbovePages`,
    /// it pauses ``catchUpInterval`` rather than ``interval``.
    /// - Throws: ``StorageError`` when the connection or the file cannot be opened.
    init(
        path: String, configuration: Configuration, syncAbovePages: Int, catchUpAbovePages: Int,
        generation: @escaping @Sendable () -> Int
    ) throws {
        do {
            self.connection = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw SQLiteDatabase.storageError(error)
        }
        self.databaseFile = try SyncOnlyFile(path: path)
        self.syncAbovePages = syncAbovePages
        self.catchUpAbovePages = catchUpAbovePages
        self.generation = generation
        // Read here, not on the thread: a commit made before the thread first runs must still
        // count as new.
        let start = generation()
        Thread.startNamed("sqlite.ckpt") { self.loop(seen: start) }
    }

    /// Checkpoints run so far.
    var checkpoints: Int {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.completed
    }

    /// Syncs of the database file run so far.
    var databaseSyncs: Int {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.synced
    }

    /// Stops the thread (waiting for a checkpoint in progress) and closes its connection.
    func close() {
        self.condition.broadcast({ self.closing = true }, thenWaitUntil: { self.finished })
        try? self.connection.close()
    }

    /// The pause before the next checkpoint, after one that found `frames` in the WAL.
    func pause(afterFrames frames: Int) -> Duration {
        frames > self.catchUpAbovePages ? Self.catchUpInterval : Self.interval
    }

    private func loop(seen start: Int) {
        var seen = start
        var pause = Self.interval
        while true {
            self.condition.lock()
            let deadline = Date(timeIntervalSinceNow: pause / .seconds(1))
            while !self.closing && self.condition.wait(until: deadline) {}
            if self.closing {
                self.finished = true
                self.condition.broadcast()
                self.condition.unlock()
                return
            }
            self.condition.unlock()
            let now = self.generation()
            guard now != seen else {
                // No commits since: back to the long pause, not 50 wake-ups a second.
                pause = Self.interval
                continue
            }
            // A failure (the database locked, say) leaves the work to the next round. The
            // checkpoint's row: busy, frames in the WAL, frames checkpointed.
            let checkpoint = try? self.connection.inDatabase { db in
                try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
            }
            guard let row = checkpoint ?? nil else { continue }
            seen = now
            let frames: Int = row[1] ?? 0
            pause = self.pause(afterFrames: frames)
            // A failed sync changes nothing SQLite relies on (its own checkpoints sync the
            // file before the WAL restarts); the backstop then writes the pages back.
            let synced = frames > self.syncAbovePages && (try? self.databaseFile.sync()) != nil
            self.condition.lock()
            self.completed += 1
            if synced { self.synced += 1 }
            self.condition.unlock()
        }
    }
}
