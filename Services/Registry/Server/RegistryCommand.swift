// tongxin-registry: the membership registry over gRPC, on SQLite (default) or PostgreSQL.
import ArgumentParser
import Foundation
import Logging
import RPC
import RegistryCore
import ServiceKit

@main
struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tongxin-registry",
        abstract: "The membership registry: regions, members, organisations, contacts, change feed.",
        discussion: """
            Examples:
              tongxin-registry
              tongxin-registry --listen 0.0.0.0:50051 --database postgres://tongxin:secret@127.0.0.1:5432/registry
            """)

    @OptionGroup var service: ServiceOptions

    @Option(help: "sqlite:PATH or postgres://user:pass@host:port/db. Env: TONGXIN_DATABASE.")
    var database: String = ProcessInfo.processInfo.environment["TONGXIN_DATABASE"] ?? "sqlite:./data/registry.sqlite"

    @Option(
        name: .customLong("change-retention-days"),
        help: "Days the change feed keeps a change (at least 7, as WatchChanges promises); older ones are pruned every hour, as are idempotency records older than 24 hours. Env: TONGXIN_CHANGE_RETENTION_DAYS.")
    var changeRetentionDays: Int = Int(ProcessInfo.processInfo.environment["TONGXIN_CHANGE_RETENTION_DAYS"] ?? "") ?? 7

    @Flag(
        name: .customLong("require-caller"),
        help: "Refuse (UNAUTHENTICATED) every call without x-tongxin-user, x-tongxin-regions and x-tongxin-roles, instead of treating a call without a region scope or roles as the whole province's with every role. Env: TONGXIN_REQUIRE_CALLER=1.")
    var requireCaller = false

    func validate() throws {
        guard self.changeRetentionDays >= 7 else {
            throw ValidationError("--change-retention-days must be at least 7 (WatchChanges promises 7 days), got \(self.changeRetentionDays)")
        }
    }

    func run() async throws {
        ServiceRuntime.bootstrap(logLevel: self.service.logLevel)
        let logger = Logger(label: "tongxin.registry")
        let store = Eventually<RegistryStore>("the registry database")
        var router = Router()
        var service = RegistryService(store: store, logger: logger)
        service.requireCaller = self.requireCaller || ["1", "true"].contains(ProcessInfo.processInfo.environment["TONGXIN_REQUIRE_CALLER"] ?? "")
        service.register(into: &router)
        let listen = try HostPort(self.service.listen, flag: "--listen")
        var configuration = ServerConfiguration(host: listen.host, port: listen.port, eventLoopCount: self.service.threads)
        configuration.interceptors = [CallObserver(logger: logger)]
        let database = self.database
        let retention = self.changeRetentionDays
        let storage = Eventually<any SQLDatabase>("the registry database")
        // One group of event loops for the server and the PostgreSQL client: a handler's query
        // is written, and its answer read, on the handler's own loop.
        try await ServiceRuntime.withEventLoopGroup(threads: self.service.threads) { group in
            let server = RPCServer(router: router, configuration: configuration, group: group, logger: logger)
            // Listen at once with health NOT_SERVING; open and migrate the database meanwhile.
            try await ServiceRuntime.run(
                name: "tongxin-registry", server: server, options: self.service, logger: logger,
                startup: {
                    let opened = try await DatabaseURL.open(
                        database, migrations: RegistryStore.migrations, eventLoopGroup: group, logger: logger)
                    storage.set(opened)
                    let registry = RegistryStore(database: opened)
                    store.set(registry)
                    logger.info("database ready", metadata: ["database": "\(DatabaseURL.redacted(database))"])
                    Self.housekeeping(registry, retentionDays: retention, logger: logger)
                },
                cleanup: {
                    try? await storage.get().close()
                })
        }
    }

    /// Housekeeping, now and then every hour, in the background until the database closes:
    /// prunes the change feed to `retentionDays` and forgets idempotency records older than
    /// 24 hours (a prune that fails is logged and tried again the next hour).
    private static func housekeeping(_ store: RegistryStore, retentionDays: Int, logger: Logger) {
        Task {
            while !Task.isCancelled {
                let now = WallClock.nowMicroseconds()
                do {
                    let changes = try await store.pruneChanges(before: now - Int64(retentionDays) * 86_400_000_000)
                    let records = try await store.pruneIdempotencyRecords(before: now - 86_400_000_000)
                    if changes > 0 || records > 0 {
                        logger.info(
                            "pruned", metadata: ["changes": "\(changes)", "idempotency_records": "\(records)",
                                "retention_days": "\(retentionDays)"])
                    }
                } catch {
                    if case ServiceError.unavailable = error {
                        return  // the database is closing
                    }
                    logger.error("pruning failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}
