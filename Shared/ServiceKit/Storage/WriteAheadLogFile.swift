// The only file of ServiceKit that calls the C library's file API (open, fdatasync, fsync,
// close) directly: it syncs SQLite's write-ahead log from a descriptor of its own.
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// SQLite's write-ahead log (the database path + `-wal`) opened for syncing only, so that a
/// thread other than the writer's can make commits durable (see ``GroupCommitWriter``).
///
/// With `synchronous = NORMAL` a WAL commit writes its frames with `pwrite` and returns;
/// `fdatasync` of the file then puts every frame written before it on disk, whichever
/// descriptor it goes through. That is what `synchronous = FULL` does at the end of each
/// commit (SQLite's unix VFS assumes powersafe overwrite, so FULL adds no padding), only here
/// it runs beside the next transaction rather than inside the writer.
///
/// The descriptor takes no locks and is closed only after every SQLite connection is (closing
/// a descriptor drops the process's fcntl locks on that file; SQLite keeps the WAL's locks on
/// the `-shm` file, not on the log, but nothing here relies on that while SQLite is open).
final class WriteAheadLogFile: Sendable {
    /// The log's path.
    let path: String
    private let descriptor: Int32

    /// Opens the log of the database at `databasePath`, which must exist (SQLite creates it
    /// when the database is first used in WAL mode), and makes its directory entry durable.
    /// - Throws: ``StorageError/engine(detail:)`` naming the path and the system's reason.
    init(databasePath: String) throws {
        self.path = databasePath + "-wal"
        let descriptor = open(self.path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw Self.failure("open", self.path)
        }
        self.descriptor = descriptor
        // SQLite syncs the directory after creating the log only at the log's first sync,
        // which with NORMAL may be a checkpoint far away: until then a power cut could lose
        // the file however often its contents were synced.
        let directory = URL(fileURLWithPath: self.path).deletingLastPathComponent().path
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else {
            close(descriptor)
            throw Self.failure("open", directory)
        }
        defer { close(directoryDescriptor) }
        switch fsync(directoryDescriptor) {
        case 0:  // the directory entry is on disk
            break
        default:  // EIO and the like: the log's place on disk is not certain
            close(descriptor)
            throw Self.failure("fsync", directory)
        }
    }

    deinit {
        close(self.descriptor)
    }

    /// Puts every frame written to the log so far on disk.
    /// - Throws: ``StorageError/engine(detail:)`` when the system reports a failure.
    func sync() throws {
        while true {
            switch fdatasync(self.descriptor) {
            case 0:  // on disk
                return
            default:
                // EINTR: interrupted before it finished, try again; anything else (EIO,
                // ENOSPC …) is a failure to report.
                if errno == EINTR { continue }
                throw Self.failure("fdatasync", self.path)
            }
        }
    }

    private static func failure(_ call: String, _ path: String) -> StorageError {
        StorageError.engine(detail: "\(call) \(path): \(String(cString: strerror(errno)))")
    }
}
