// grpc-swift 2 echo server: /grpc.testing.TestService/UnaryCall returns the request bytes as
// the response (a SimpleRequest carrying only a payload is wire-identical to a SimpleResponse
// with that payload), with a pass-through codec — grpc-swift's transport and call machinery
// are measured, without protobuf decoding, which favours it slightly.
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOPosix

struct RawSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}

struct RawDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

struct EchoService: RegistrableRPCService {
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: "grpc.testing.TestService", method: "UnaryCall"),
            deserializer: RawDeserializer(), serializer: RawSerializer()
        ) { request, context in
            var message: [UInt8] = []
            for try await part in request.messages { message = part }
            return StreamingServerResponse(single: ServerResponse(message: message))
        }
    }
}

let port = Int(CommandLine.arguments.dropFirst().first ?? "50500") ?? 50500
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let transport = HTTP2ServerTransport.Posix(
    address: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext, eventLoopGroup: group)
let server = GRPCServer(transport: transport, services: [EchoService()])
print("listening on \(port)")
try await server.serve()
