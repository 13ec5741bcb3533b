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

/// Where a fresh database of `engine` can be made, removed after `body`: the path of a SQLite
/// file in a new temporary folder, or the URL of a new PostgreSQL database on the test server.
func withFreshTarget<T>(_ engine: Engine, _ body: (String) async throws -> T) async throws -> T {
    let name = "tongxin_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    switch engine {
    case .sqlite:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(String(name))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(directory.appendingPathComponent("registry.sqlite").path)
    case .postgres:
        guard let base = ProcessInfo.processInfo.environment["TONGXIN_TEST_POSTGRES_URL"], !base.isEmpty else {
            throw MissingPostgres()
        }
        try await PostgreSQLDatabase.runAdministrativeStatement("CREATE DATABASE \(name)", url: base)
        var components = URLComponents(string: base)!
        components.path = "/" + name
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body(components.string!))
        } catch {
            outcome = .failure(error)
        }
        try? await PostgreSQLDatabase.runAdministrativeStatement("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", url: base)
        return try outcome.get()
    }
}

/// The database of `engine` at `target` (a path or URL from ``withFreshTarget(_:_:)``), opened
/// with `migrations`.
func openDatabase(_ engine: Engine, _ target: String, migrations: [Migration]) async throws -> any SQLDatabase {
    switch engine {
    case .sqlite: return try SQLiteDatabase(path: target, migrations: migrations)
    case .postgres: return try await PostgreSQLDatabase(url: target, migrations: migrations, maximumConnections: 4)
    }
}

/// A fresh, empty database on `engine`, opened with `migrations`: a temporary SQLite file, or
/// a new PostgreSQL database created on the test server. Closed and removed after `body`.
func withDatabase<T>(
    _ engine: Engine, migrations: [Migration], _ body: (any SQLDatabase) async throws -> T
) async throws -> T {
    try await withFreshTarget(engine) { target in
        let database = try await openDatabase(engine, target, migrations: migrations)
        do {
            let result = try await body(database)
            try await database.close()
            return result
        } catch {
            try? await database.close()
            throw error
        }
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
