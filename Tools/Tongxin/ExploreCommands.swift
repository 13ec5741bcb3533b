import ArgumentParser
import Foundation
import Model
import RPC

/// `tongxin list ADDR [SERVICE]`.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the services a server offers, or one service's methods (server reflection).",
        discussion: """
            Examples:
              tongxin list 127.0.0.1:50051
              tongxin list 127.0.0.1:50051 tongxin.registry.v1.RegistryService
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "A service: list its methods instead.")
    var service: String?

    func run() async throws {
        let client = try self.connection.client()
        defer { Task { await client.close() } }
        let reflection = Reflection(client: client, options: .timeout(try self.connection.timeout()))
        do {
            guard let service = self.service else {
                for name in try await reflection.services() { print(name) }
                return
            }
            let files = try await reflection.files(containing: service)
            let methods = files.flatMap { file in
                file.service.filter { (file.package.map { $0 + "." } ?? "") + ($0.name ?? "") == service }.flatMap(\.method)
            }
            guard !methods.isEmpty else { throw Failure.usage("\(service) is not a service") }
            for method in methods { print("\(service)/\(method.name ?? "")") }
        } catch let error as RPCError {
            throw Failure.exit(error)
        }
    }
}

/// `tongxin describe ADDR SYMBOL`.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Describe a service, method, message, enum or field (server reflection).",
        discussion: """
            Examples:
              tongxin describe 127.0.0.1:50051 tongxin.registry.v1.RegistryService
              tongxin describe 127.0.0.1:50051 tongxin.registry.v1.Member
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "A fully qualified symbol, e.g. tongxin.registry.v1.Member.")
    var symbol: String

    func run() async throws {
        let client = try self.connection.client()
        defer { Task { await client.close() } }
        let reflection = Reflection(client: client, options: .timeout(try self.connection.timeout()))
        do {
            let files = try await reflection.files(containing: self.symbol)
            guard let text = DescriptorText.describe(self.symbol, in: files) else {
                throw Failure.usage("the server's descriptors do not declare \(self.symbol)")
            }
            print(text)
        } catch let error as RPCError {
            throw Failure.exit(error)
        }
    }
}

/// `tongxin health ADDR [SERVICE]`: exit 0 only when SERVING, so it works as a container
/// health check.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check grpc.health.v1 status; exits 0 only when SERVING.",
        discussion: """
            Examples:
              tongxin health 127.0.0.1:50051
              tongxin health 127.0.0.1:50051 tongxin.registry.v1.RegistryService --deadline 1s
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "A service name; the whole server when omitted.")
    var service: String = ""

    func run() async throws {
        let client = try self.connection.client()
        defer { Task { await client.close() } }
        do {
            let response = try await client.unary(
                GRPCHealthV1.Health.Check.self, GRPCHealthV1.HealthCheckRequest(service: self.service),
                options: .timeout(try self.connection.timeout()))
            print(response.status.protoName)
            if response.status != .serving { throw ExitCode(1) }
        } catch let error as RPCError {
            throw Failure.exit(error)
        }
    }
}
