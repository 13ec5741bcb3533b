/// One versioned step of a schema: statements applied once, in version order, in one
/// transaction together with its row in `schema_migrations`.
public struct Migration: Sendable {
    /// The version, unique and increasing (1, 2, 3 …). Applied steps are never edited: a
    /// change to the schema is a new step.
    public let version: Int

    /// A short name, kept in `schema_migrations` for people reading the database.
    public let name: String

    /// The statements for an engine; usually the same text for both, with column types from
    /// ``SQLDialect/blobType`` and ``SQLDialect/textType``.
    public let statements: @Sendable (SQLDialect) -> [String]

    /// A step of `version` named `name` running `statements`.
    public init(version: Int, name: String, statements: @escaping @Sendable (SQLDialect) -> [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// Applies migrations at start.
public enum Migrator {
    /// Creates `schema_migrations` if needed and applies every step of `migrations` whose
    /// version is above the highest recorded, each in its own transaction on `connection`
    /// (which must not be inside a transaction). On PostgreSQL the table is locked first, so
    /// two processes starting together apply each step once.
    /// - Returns: the versions applied now.
    /// - Throws: ``StorageError/migrationFailed(version:detail:)``; that step is rolled back,
    ///   earlier ones stay.
    @discardableResult
    public static func apply(_ migrations: [Migration], on connection: any SQLConnection) throws -> [Int] {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
            throw StorageError.migrationFailed(version: next.version, detail: "version used twice")
        }
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at_us BIGINT NOT NULL
            )
            """)
        var applied: [Int] = []
        for migration in sorted {
            try connection.execute(connection.dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN")
            do {
                if connection.dialect == .postgres {
                    try connection.execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
                }
                let done = try connection.queryOne(
                    "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", [.int(migration.version)])
                if let done, done.int64(0) > 0 {
                    try connection.execute("COMMIT")
                    continue
                }
                for statement in migration.statements(connection.dialect) {
                    try connection.execute(statement)
                }
                try connection.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at_us) VALUES (?, ?, ?)",
                    [.int(migration.version), .text(migration.name), .integer(WallClock.nowMicroseconds())])
                try connection.execute("COMMIT")
                applied.append(migration.version)
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw StorageError.migrationFailed(version: migration.version, detail: "\(error)")
            }
        }
        return applied
    }
}
