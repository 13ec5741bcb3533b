// The only file of ServiceKit that calls the C library's file API (open, fdatasync, fsync,
// close) directly: it syncs SQLite's files from descriptors of its own.
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file of a SQLite database opened for syncing only, so that a thread other than the one
/// that wrote it can put it on disk: the write-ahead log (see ``GroupCommitWriter``) and the
/// database file (see ``SQLiteCheckpointer``).
///
/// With `synchronous = NORMAL` a WAL commit writes its frames with `pwrite` and returns;
/// `fdatasync` of the file then puts every frame written before it on disk, whichever
/// descriptor it goes through. That is what `synchronous = FULL` does at the end of each
/// commit (SQLite's unix VFS assumes powersafe overwrite, so FULL adds no padding), only here
/// it runs beside the next transaction rather than inside the writer. The same holds for the
/// pages a checkpoint copies into the database file.
///
/// The descriptor takes no locks and is closed only when the last reference goes, after
/// every SQLite connection is closed: closing a descriptor drops the process's fcntl locks on
/// that file, and SQLite holds such locks on the database file.
final class SyncOnlyFile: Sendable {
    /// The file's path.
    let path: String
    private let descriptor: Int32

    /// The write-ahead log of the database at `databasePath` (its path + `-wal`), which must
    /// exist: SQLite creates it when the database is first used in WAL mode.
    /// - Throws: as ``init(path:)``.
    convenience init(logOf databasePath: String) throws {
        try self.init(path: databasePath + "-wal")
    }

    /// Opens the file at `path`, which must exist, and makes its directory entry durable.
    /// - Throws: ``StorageError/engine(detail:)`` naming the path and the system's reason.
    init(path: String) throws {
        self.path = path
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
        default:  // EIO and the like: the file's place on disk is not certain
            close(descriptor)
            throw Self.failure("fsync", directory)
        }
    }

    deinit {
        close(self.descriptor)
    }

    /// Puts everything written to the file so far on disk.
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
