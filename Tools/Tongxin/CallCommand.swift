import ArgumentParser
import Foundation
import Model
import NIOCore
import RPC

/// `tongxin call ADDR package.Service/Method -d JSON`.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a method with a JSON request and print the JSON response.",
        discussion: """
            Unary and server-streaming methods take the request from -d (JSON text, @file, or @- \
            for standard input). Client- and bidirectional-streaming methods read one JSON request \
            per line from standard input (or from -d @file). Each response is printed as one JSON \
            line. A failed call prints its gRPC code, message and trailers on standard error and \
            exits with the code's number (1 for CANCELLED … 16 for UNAUTHENTICATED).

            Example:
              tongxin call 127.0.0.1:50051 tongxin.registry.v1.RegistryService/GetRegion \\
                -d '{"code":"420000"}' -H 'x-caller: demo' --deadline 2s
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The method, as package.Service/Method (a leading / is fine).")
    var method: String

    @Option(name: .shortAndLong, help: "The request as JSON, @FILE, or @- for standard input (default {}).")
    var data: String?

    @Option(name: .customShort("H"), help: "Request metadata as 'key: value' (repeatable).")
    var header: [String] = []

    @Flag(help: "Compress requests with gzip.")
    var gzip = false

    @Flag(help: "Print fields at their default values too.")
    var emitDefaults = false

    @Flag(help: "Print one JSON object per line without indentation.")
    var compact = false

    func run() async throws {
        let path = self.method.hasPrefix("/") ? self.method : "/" + self.method
        guard let descriptor = DescriptorPool.services.flatMap(\.methods).first(where: { $0.path == path }) else {
            let service = path.split(separator: "/").first.map(String.init) ?? ""
            let known = DescriptorPool.services.first { $0.name == service }
            let hint = known.map { "; \($0.name) has " + $0.methods.map(\.name).joined(separator: ", ") }
                ?? "; `tongxin list ADDR` shows the services"
            throw Failure.usage("unknown method \(self.method)\(hint)")
        }
        var options = CallOptions(deadline: .after(try self.connection.timeout()))
        options.compression = self.gzip ? .gzip : .identity
        for entry in try Metadata.parse(headers: self.header) {
            options.metadata.add(entry)
        }
        let client = try self.connection.client()
        defer { Task { await client.close() } }
        do {
            switch descriptor.kind {
            case .unary:
                let request = try self.encode(try self.readSingleRequest(), descriptor)
                let response = try await client.unaryRaw(path: path, request, options: options)
                try self.printResponse(response.message, descriptor)
            case .serverStreaming:
                let request = try self.encode(try self.readSingleRequest(), descriptor)
                let call = try await client.serverStreamingRaw(path: path, request, options: options)
                while let message = try await call.receive() { try self.printResponse(message, descriptor) }
            case .clientStreaming, .bidirectionalStreaming:
                let call = try await client.streamRaw(path: path, options: options)
                let requests = try self.readRequestLines()
                let sender = Task {
                    for line in requests { try await call.send(try self.encode(line, descriptor)) }
                    try await call.closeSend()
                }
                while let message = try await call.receive() { try self.printResponse(message, descriptor) }
                try await sender.value
            }
        } catch let error as RPCError {
            throw Failure.exit(error)
        }
    }

    private func readSingleRequest() throws -> String {
        guard let data = self.data else { return "{}" }
        if data == "@-" { return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
        if data.hasPrefix("@") {
            guard let contents = FileManager.default.contents(atPath: String(data.dropFirst())) else {
                throw Failure.usage("-d \(data): cannot read the file")
            }
            return String(decoding: contents, as: UTF8.self)
        }
        return data
    }

    private func readRequestLines() throws -> [String] {
        let text = self.data == nil ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : try self.readSingleRequest()
        return text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    private func encode(_ json: String, _ method: MethodDescriptor) throws -> ByteBuffer {
        do {
            let bytes = try ProtoJSON.serializedBytes(fromJSON: json, messageType: method.inputType)
            return ByteBuffer(bytes: bytes)
        } catch {
            throw Failure.usage("request for \(method.name) (\(method.inputType)): \(error.description)")
        }
    }

    private func printResponse(_ message: ByteBuffer, _ method: MethodDescriptor) throws {
        let json = try ProtoJSON.json(
            fromSerializedBytes: message.bytes, messageType: method.outputType,
            options: ProtoJSON.Options(emitDefaults: self.emitDefaults))
        print(self.compact ? json.text : json.prettyText)
        // A stream's messages reach a pipe (`| jq`, a script waiting for caughtUp) as they come.
        fflush(nil)
    }
}
