import ArgumentParser
import Foundation
import Model
import NIOCore
import RPC

/// `tongxin`: explore and call the suite's gRPC services with JSON (like grpcurl).
@main
struct Tongxin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tongxin",
        abstract: "Call, list and describe the Tongxin gRPC services with JSON.",
        discussion: """
            Messages are proto3 JSON (lowerCamelCase names, enum names, int64 as strings, Timestamps \
            as RFC 3339), driven by the descriptors built into this binary, so every method of the \
            registry, dispatch and pairing services works.

            Examples:
              tongxin list 127.0.0.1:50051
              tongxin describe 127.0.0.1:50051 tongxin.registry.v1.Member
              tongxin call 127.0.0.1:50051 tongxin.registry.v1.RegistryService/GetMember -d '{"id":"m-1"}'
              tongxin health 127.0.0.1:50051
            """,
        subcommands: [CallCommand.self, ListCommand.self, DescribeCommand.self, HealthCommand.self, LoadCommand.self, SeedCommand.self])
}

/// Options every command that talks to a server shares.
struct ConnectionOptions: ParsableArguments {
    @Argument(help: "The server, as host:port (several, comma-separated, are used round-robin).")
    var address: String

    @Option(name: .customLong("deadline"), help: "Give up after this long, e.g. 500ms, 2s, 1m (default 10s).")
    var deadline: String = "10s"

    func timeout() throws -> Duration {
        guard let duration = DurationText.parse(self.deadline) else {
            throw ValidationError("--deadline \(self.deadline): expected a number with ms, s, m or h, e.g. 2s")
        }
        return duration
    }

    /// A client on its own thread, or on `eventLoopGroup` (shared with other clients).
    func client(eventLoopGroup: (any EventLoopGroup)? = nil) throws -> RPCClient {
        let targets = self.address.split(separator: ",").map(String.init)
        for target in targets {
            guard let colon = target.lastIndex(of: ":"), Int(target[target.index(after: colon)...]) != nil else {
                throw ValidationError("\(target): expected host:port, e.g. 127.0.0.1:50051")
            }
        }
        if let eventLoopGroup { return try RPCClient(targets: targets, eventLoopGroup: eventLoopGroup) }
        return try RPCClient(targets: targets)
    }
}

/// `500ms`, `2s`, `1.5m`, `1h`.
enum DurationText {
    static func parse(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value > 0 else { return nil }
            return .milliseconds(Int64(value * scale * 1000))
        }
        return nil
    }
}

/// Prints a failed call the way every command does and exits non-zero.
enum Failure {
    static func exit(_ error: RPCError) -> ExitCode {
        var line = "ERROR: \(error.code) (\(error.code.rawValue))"
        if !error.message.isEmpty { line += ": \(error.message)" }
        FileHandle.standardError.write(Data((line + "\n").utf8))
        for entry in error.metadata {
            if entry.key == "grpc-status-details-bin", case .binary(let bytes) = entry.value,
                let details = try? ProtoJSON.json(fromSerializedBytes: bytes, messageType: "google.rpc.Status")
            {
                FileHandle.standardError.write(Data("  details: \(details.text)\n".utf8))
            } else {
                FileHandle.standardError.write(Data("  \(entry.key): \(entry.value)\n".utf8))
            }
        }
        return ExitCode(Int32(max(1, error.code.rawValue)))
    }

    static func usage(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(64)
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { self.getBytes(at: self.readerIndex, length: self.readableBytes) ?? [] }
}

extension Metadata {
    /// Metadata from `-H 'key: value'` flags; a `-bin` key's value is base64.
    /// - Throws: ``Failure/usage(_:)`` naming the flag that is malformed.
    static func parse(headers: [String]) throws -> Metadata {
        var metadata = Metadata()
        for header in headers {
            guard let colon = header.firstIndex(of: ":") else {
                throw Failure.usage("-H \(header): expected 'key: value'")
            }
            let key = header[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if key.hasSuffix("-bin") {
                // Padded or not, as gRPC's own -bin values are sent.
                guard let bytes = Base64Text.decode(value) else { throw Failure.usage("-H \(key): a -bin value must be base64") }
                metadata.add(key, binary: bytes)
            } else {
                metadata.add(key, value)
            }
        }
        return metadata
    }
}
