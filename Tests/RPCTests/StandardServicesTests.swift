import Foundation
import Model
import RPC
import Testing

/// Health and reflection, served by default, against stock grpcio clients and our client.
@Suite("Health and reflection")
struct StandardServicesTests {
    static func startServer(health: HealthService) async throws -> (RPCServer, Int) {
        var router = Router()
        router.register(GRPCTesting.TestService.EmptyCall.self) { (_: GRPCTesting.Empty, _: ServerContext) in GRPCTesting.Empty() }
        router.addStandardServices(health: health)
        let server = RPCServer(router: router, configuration: ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1))
        let address = try await server.start()
        return (server, address.port!)
    }

    @Test("grpcio's health stub and reflection client see the embedded descriptors")
    func stockClients() async throws {
        let health = HealthService(services: ["grpc.testing.TestService"])
        let (server, port) = try await Self.startServer(health: health)
        defer { Task { await server.shutdown() } }
        let result = try await Task.detached {
            try InteropFixture.run(InteropFixture.python, [InteropFixture.scriptsDirectory + "/standard_services.py", "127.0.0.1:\(port)"])
        }.value
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("PASS"))
    }

    @Test("Watch streams the status now and every change after")
    func watch() async throws {
        let health = HealthService(services: ["tongxin.registry.v1.RegistryService"])
        health.setStatus(.notServing, for: "tongxin.registry.v1.RegistryService")
        let (server, port) = try await Self.startServer(health: health)
        defer { Task { await server.shutdown() } }
        let client = try RPCClient(targets: ["127.0.0.1:\(port)"])
        defer { Task { await client.close() } }
        let stream = try await client.serverStreaming(
            GRPCHealthV1.Health.Watch.self, GRPCHealthV1.HealthCheckRequest(service: "tongxin.registry.v1.RegistryService"))
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next()?.status == .notServing)
        health.setStatus(.serving, for: "tongxin.registry.v1.RegistryService")
        #expect(try await iterator.next()?.status == .serving)
        stream.cancel()

        let check = try await client.unary(GRPCHealthV1.Health.Check.self, GRPCHealthV1.HealthCheckRequest())
        #expect(check.status == .serving)
    }
}
