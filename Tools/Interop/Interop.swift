import ArgumentParser
import Foundation
import Model
import RPC

/// `tongxin-interop`: the grpc.testing.TestService server and the standard client cases
/// (grpc/grpc `doc/interop-test-descriptions.md`), for interoperability with stock gRPC.
@main
struct Interop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tongxin-interop",
        abstract: "gRPC interoperability server and client",
        subcommands: [Serve.self, Client.self, Echo.self])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve grpc.testing.TestService")

    @Option(help: "Port to listen on (0 picks one and prints it)") var port: Int = 10000
    @Option(help: "Host to bind") var host: String = "127.0.0.1"
    @Option(help: "Event loops") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Exit when standard input ends: a test that starts the server gives it a pipe, so the server ends with the test process however that ends.")
    var exitAtEndOfInput = false

    func run() async throws {
        if self.exitAtEndOfInput {
            Thread.detachNewThread {
                while !FileHandle.standardInput.availableData.isEmpty {}
                Foundation.exit(0)
            }
        }
        var configuration = ServerConfiguration(host: self.host, port: self.port, eventLoopCount: self.threads)
        configuration.shutdownGracePeriod = .seconds(2)
        let server = RPCServer(router: TestServiceImpl.router(), configuration: configuration)
        let address = try await server.start()
        FileHandle.standardOutput.write(Data("listening on \(address.port ?? 0)\n".utf8))
        try await withGracefulShutdown(server)
    }
}

struct Echo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmark server: UnaryCall echoes the request payload")

    @Option var port: Int = 10000
    @Option var host: String = "127.0.0.1"
    @Option var threads: Int = 1

    func run() async throws {
        var router = Router()
        router.register(GRPCTesting.TestService.UnaryCall.self) { (request: GRPCTesting.SimpleRequest, _) in
            GRPCTesting.SimpleResponse(payload: request.payload)
        }
        router.registerRaw(unary: "/bench.Echo/Echo") { request, _ in request }
        let server = RPCServer(router: router, configuration: ServerConfiguration(host: self.host, port: self.port, eventLoopCount: self.threads))
        let address = try await server.start()
        FileHandle.standardOutput.write(Data("listening on \(address.port ?? 0)\n".utf8))
        try await withGracefulShutdown(server)
    }
}

struct Client: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one interop client case")

    @Option(help: "host:port of the server") var server: String
    @Option(name: .customLong("case"), help: "Test case name") var testCase: String

    func run() async throws {
        let client = try RPCClient(targets: [self.server])
        defer { Task { await client.close() } }
        guard let run = InteropCases.all[self.testCase] else {
            throw ValidationError("unknown case \(self.testCase); known: \(InteropCases.all.keys.sorted().joined(separator: ", "))")
        }
        do {
            try await run(client)
            print("PASS \(self.testCase)")
        } catch {
            print("FAIL \(self.testCase): \(error)")
            throw ExitCode(1)
        }
        await client.close()
    }
}

import Logging
import ServiceLifecycle

/// Serves until SIGTERM/SIGINT, then shuts down gracefully.
func withGracefulShutdown(_ server: RPCServer) async throws {
    let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "tongxin-interop"))
    try await group.run()
}
