import Foundation
import Logging
import NIOCore

/// Opens the database a service was pointed at: `sqlite:PATH` (the embedded default, created
/// with its folder when missing) or `postgres://user:pass@host:port/db`.
public enum DatabaseURL {
    /// Opens `url`, applies `migrations`, and returns the database. A PostgreSQL client runs
    /// on `eventLoopGroup` when given (the server's: see ``PostgreSQLDatabase``), which must
    /// outlive the database.
    /// - Throws: `ValidationError`-style errors naming the flag for an unknown scheme; storage
    ///   errors when the database cannot be opened or migrated.
    public static func open(
        _ url: String, migrations: [Migration], eventLoopGroup: (any EventLoopGroup)? = nil, logger: Logger
    ) async throws -> any SQLDatabase {
        if url.hasPrefix("sqlite:") {
            let path = String(url.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw DatabaseURLError(url: url) }
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return try SQLiteDatabase(path: path, migrations: migrations)
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try await PostgreSQLDatabase(
                url: url, migrations: migrations, eventLoopGroup: eventLoopGroup, logger: logger)
        }
        throw DatabaseURLError(url: url)
    }

    /// `url` with any password replaced by `***`, for logs.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}

/// A database URL of an unknown form.
public struct DatabaseURLError: Error, CustomStringConvertible {
    public let url: String
    public var description: String {
        "--database \(DatabaseURL.redacted(self.url)): expected sqlite:PATH or postgres://user:pass@host:port/db"
    }
}
