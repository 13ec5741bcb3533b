import ArgumentParser
import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import RPC
import ServiceLifecycle

/// The flags every service shares, each with an environment fallback:
/// `--listen` (`TONGXIN_LISTEN`), `--admin-listen` (`TONGXIN_ADMIN_LISTEN`),
/// `--log-level` (`TONGXIN_LOG_LEVEL`), `--threads` (`TONGXIN_THREADS`).
public struct ServiceOptions: ParsableArguments {
    @Option(help: "gRPC address to listen on, host:port. Env: TONGXIN_LISTEN.")
    public var listen: String = ProcessInfo.processInfo.environment["TONGXIN_LISTEN"] ?? "127.0.0.1:50051"

    @Option(name: .customLong("admin-listen"), help: "Admin HTTP address (/metrics, /healthz, /readyz), host:port; 'off' disables it. Env: TONGXIN_ADMIN_LISTEN.")
    public var adminListen: String = ProcessInfo.processInfo.environment["TONGXIN_ADMIN_LISTEN"] ?? "127.0.0.1:9464"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical; debug logs every call. Env: TONGXIN_LOG_LEVEL.")
    public var logLevel: String = ProcessInfo.processInfo.environment["TONGXIN_LOG_LEVEL"] ?? "info"

    @Option(help: "Event loop threads (default: one per core). Env: TONGXIN_THREADS.")
    public var threads: Int = Int(ProcessInfo.processInfo.environment["TONGXIN_THREADS"] ?? "") ?? System.coreCount

    public init() {}

    public mutating func validate() throws {
        _ = try HostPort(self.listen, flag: "--listen")
        if self.adminListen != "off" { _ = try HostPort(self.adminListen, flag: "--admin-listen") }
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("--log-level \(self.logLevel): expected trace, debug, info, notice, warning, error or critical")
        }
        guard self.threads > 0 else { throw ValidationError("--threads must be at least 1") }
    }
}

/// `host:port`, checked.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// Parses `text`; the error names `flag`.
    public init(_ text: String, flag: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("\(flag) \(text): expected host:port, e.g. 127.0.0.1:50051")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    public var description: String { "\(self.host):\(self.port)" }
}

/// Process-wide logging and metrics, set up once by a service's `main`.
public enum ServiceRuntime {
    /// The Prometheus registry every metric of the process lands in.
    public static let metrics = PrometheusCollectorRegistry()

    /// Logs to standard error one line per event with metadata; metrics go to `metrics`.
    public static func bootstrap(logLevel: String) {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: self.metrics))
    }

    /// Runs `body` with a group of `threads` event loops (at least one), for a service's server
    /// and its database client to share (``DatabaseURL/open(_:migrations:eventLoopGroup:logger:)``),
    /// and shuts the group down once `body` has returned or thrown: after the server and the
    /// database that ran on it.
    public static func withEventLoopGroup<T>(
        threads: Int, _ body: (MultiThreadedEventLoopGroup) async throws -> T
    ) async throws -> T {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body(group))
        } catch {
            outcome = .failure(error)
        }
        try? await group.shutdownGracefully()
        return try outcome.get()
    }

    /// Runs `server` (and the admin port unless off) until SIGTERM or SIGINT, then shuts
    /// down gracefully: health goes NOT_SERVING, in-flight calls finish within the server's
    /// grace period, then `cleanup` runs (close the database).
    ///
    /// `startup` (opening and migrating the database) runs once the server listens; until it
    /// returns, health says NOT_SERVING (and `/readyz` 503) for the server and its services.
    /// If it throws, the service shuts down with that error.
    public static func run(
        name: String, server: RPCServer, options: ServiceOptions, logger: Logger,
        startup: @escaping @Sendable () async throws -> Void = {},
        cleanup: @escaping @Sendable () async -> Void = {}
    ) async throws {
        server.health.setAll(.notServing)
        // The server binds inside the group, after the group traps SIGTERM/SIGINT, so a signal
        // that arrives right after "listening" is logged is a graceful shutdown, never a kill.
        var services: [any Service] = [
            AnnouncedServer(server: server, logger: logger, name: name),
            StartupService(startup: startup, health: server.health, logger: logger),
        ]
        if options.adminListen != "off" {
            let admin = try HostPort(options.adminListen, flag: "--admin-listen")
            let health = server.health
            services.append(AdminServer(
                host: admin.host, port: admin.port, registry: self.metrics, logger: logger,
                isReady: { health.status(of: "") == .serving }))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
    }
}

/// Binds the server, logs "<name> listening" with the bound address, then serves.
private struct AnnouncedServer: Service {
    let server: RPCServer
    let logger: Logger
    let name: String

    func run() async throws {
        let address = try await self.server.start()
        self.logger.info("\(self.name) listening", metadata: ["address": "\(address)"])
        try await self.server.run()
    }
}

/// Runs a service's start-up work inside the group, then marks it SERVING and waits for shutdown.
private struct StartupService: Service {
    let startup: @Sendable () async throws -> Void
    let health: HealthService
    let logger: Logger

    func run() async throws {
        do {
            try await self.startup()
        } catch {
            // The group then stops the server and the process exits with the error.
            self.logger.error("start-up failed", metadata: ["error": "\(error)"])
            throw error
        }
        self.health.setAll(.serving)
        try? await gracefulShutdown()
        // Draining: tell load balancers and watchers to send no more calls.
        self.health.setAll(.notServing)
    }
}
