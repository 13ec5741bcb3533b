import Foundation
import Model
import RegistryCore
import ServiceKit
import Testing

/// The engines every registry test runs on. PostgreSQL needs `TONGXIN_TEST_POSTGRES_URL`
/// (scripts/postgres.sh starts a throwaway server and prints it); without it the PostgreSQL
/// variants fail, they never skip.
enum Engine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { self.rawValue }
}

struct MissingPostgres: Error, CustomStringConvertible {
    var description: String {
        "TONGXIN_TEST_POSTGRES_URL is not set: start a server with scripts/postgres.sh (scripts/test.sh does)"
    }
}

/// A fresh, empty database on `engine`, opened with `migrations`: a temporary SQLite file, or
/// a new PostgreSQL database created on the test server. Closed and removed after `body`.
func withDatabase<T>(
    _ engine: Engine, migrations: [Migration], _ body: (any SQLDatabase) async throws -> T
) async throws -> T {
    let name = "tongxin_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    switch engine {
    case .sqlite:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(String(name))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("registry.sqlite").path, migrations: migrations)
        do {
            let result = try await body(database)
            try await database.close()
            return result
        } catch {
            try? await database.close()
            throw error
        }
    case .postgres:
        guard let base = ProcessInfo.processInfo.environment["TONGXIN_TEST_POSTGRES_URL"], !base.isEmpty else {
            throw MissingPostgres()
        }
        try await PostgreSQLDatabase.runAdministrativeStatement("CREATE DATABASE \(name)", url: base)
        var components = URLComponents(string: base)!
        components.path = "/" + name
        let database = try await PostgreSQLDatabase(url: components.string!, migrations: migrations, maximumConnections: 4)
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body(database))
        } catch {
            outcome = .failure(error)
        }
        try? await database.close()
        try? await PostgreSQLDatabase.runAdministrativeStatement("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", url: base)
        return try outcome.get()
    }
}

/// A registry store on a fresh database of `engine`, the clock fixed unless told otherwise.
func withStore<T>(
    _ engine: Engine, now: @escaping @Sendable () -> Int64 = Fixtures.noon, _ body: (RegistryStore) async throws -> T
) async throws -> T {
    try await withDatabase(engine, migrations: RegistryStore.migrations) { database in
        try await body(RegistryStore(database: database, now: now))
    }
}

/// Expects `body` to fail with a ``ServiceError`` and returns it.
func expectServiceError<T>(
    _ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation
) async -> ServiceError? {
    do {
        _ = try await body()
        Issue.record("expected a ServiceError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as ServiceError {
        return error
    } catch {
        Issue.record("expected a ServiceError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
