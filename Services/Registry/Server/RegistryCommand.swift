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

    func run() async throws {
        ServiceRuntime.bootstrap(logLevel: self.service.logLevel)
        let logger = Logger(label: "tongxin.registry")
        let store = Eventually<RegistryStore>("the registry database")
        var router = Router()
        RegistryService(store: store, logger: logger).register(into: &router)
        let listen = try HostPort(self.service.listen, flag: "--listen")
        var configuration = ServerConfiguration(host: listen.host, port: listen.port, eventLoopCount: self.service.threads)
        configuration.interceptors = [CallObserver(logger: logger)]
        let server = RPCServer(router: router, configuration: configuration, logger: logger)
        let database = self.database
        let storage = Eventually<any SQLDatabase>("the registry database")
        // Listen at once with health NOT_SERVING; open and migrate the database meanwhile.
        try await ServiceRuntime.run(
            name: "tongxin-registry", server: server, options: self.service, logger: logger,
            startup: {
                let opened = try await DatabaseURL.open(database, migrations: RegistryStore.migrations, logger: logger)
                storage.set(opened)
                store.set(RegistryStore(database: opened))
                logger.info("database ready", metadata: ["database": "\(DatabaseURL.redacted(database))"])
            },
            cleanup: {
                try? await storage.get().close()
            })
    }
}

