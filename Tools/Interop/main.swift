import NIOCore
import RPC

var router = Router()
router.registerRaw(unary: "/grpc.testing.TestService/UnaryCall") { request, _ in request }
let port = Int(CommandLine.arguments.dropFirst().first ?? "50051") ?? 50051
let server = RPCServer(router: router, configuration: ServerConfiguration(host: "127.0.0.1", port: port, eventLoopCount: 1))
let address = try await server.start()
print("listening on \(address)")
try await server.run()
