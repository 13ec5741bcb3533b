import Foundation
import Model
import RPC

/// grpc.testing.TestService as the interop spec describes it.
enum TestServiceImpl {
    typealias Service = GRPCTesting.TestService

    static func payload(size: Int32) -> GRPCTesting.Payload {
        GRPCTesting.Payload(type: .compressable, body: Data(count: Int(max(0, size))))
    }

    /// Echoes x-grpc-test-echo-initial / x-grpc-test-echo-trailing-bin.
    static func echoMetadata(_ context: ServerContext) {
        if let initial = context.metadata.first("x-grpc-test-echo-initial") {
            var metadata = Metadata()
            metadata.add("x-grpc-test-echo-initial", initial)
            context.setInitialMetadata(metadata)
        }
        if let trailing = context.metadata.firstBinary("x-grpc-test-echo-trailing-bin") {
            var metadata = Metadata()
            metadata.add("x-grpc-test-echo-trailing-bin", binary: trailing)
            context.addTrailingMetadata(metadata)
        }
    }

    static func check(_ status: GRPCTesting.EchoStatus?) throws {
        guard let status, status.code != 0 else { return }
        throw RPCError(code: Status.Code(rawValue: Int(status.code)) ?? .unknown, message: status.message)
    }

    static func checkCompression(_ expect: GRPCTesting.BoolValue?, _ context: ServerContext) throws {
        if expect?.value == true && !context.lastRequestWasCompressed {
            throw RPCError(code: .invalidArgument, message: "expected a compressed request")
        }
    }

    static func router() -> Router {
        var router = Router()
        router.register(Service.EmptyCall.self) { (_: GRPCTesting.Empty, context) in
            echoMetadata(context)
            return GRPCTesting.Empty()
        }
        router.register(Service.UnaryCall.self) { (request: GRPCTesting.SimpleRequest, context) in
            echoMetadata(context)
            try checkCompression(request.expectCompressed, context)
            try check(request.responseStatus)
            if request.responseCompressed?.value == true {
                context.setResponseCompression(.gzip)
            }
            return GRPCTesting.SimpleResponse(payload: payload(size: request.responseSize))
        }
        router.register(Service.CacheableUnaryCall.self) { (request: GRPCTesting.SimpleRequest, context) in
            GRPCTesting.SimpleResponse(payload: payload(size: request.responseSize))
        }
        router.register(Service.StreamingOutputCall.self) { (request: GRPCTesting.StreamingOutputCallRequest, context, writer) in
            echoMetadata(context)
            if request.responseParameters.contains(where: { $0.compressed?.value == true }) {
                context.setResponseCompression(.gzip)
            }
            for parameters in request.responseParameters {
                if parameters.intervalUs > 0 {
                    try await Task.sleep(for: .microseconds(Int(parameters.intervalUs)))
                }
                try await writer.write(GRPCTesting.StreamingOutputCallResponse(payload: payload(size: parameters.size)),
                    compress: parameters.compressed?.value ?? false)
            }
            try check(request.responseStatus)
        }
        router.register(Service.StreamingInputCall.self) { (requests: RequestStream<GRPCTesting.StreamingInputCallRequest>, context) in
            echoMetadata(context)
            var total: Int32 = 0
            for try await request in requests {
                try checkCompression(request.expectCompressed, context)
                total += Int32(request.payload?.body.count ?? 0)
            }
            return GRPCTesting.StreamingInputCallResponse(aggregatedPayloadSize: total)
        }
        router.register(Service.FullDuplexCall.self) { (requests: RequestStream<GRPCTesting.StreamingOutputCallRequest>, context, writer) in
            echoMetadata(context)
            for try await request in requests {
                try check(request.responseStatus)
                if request.responseParameters.contains(where: { $0.compressed?.value == true }) {
                    context.setResponseCompression(.gzip)
                }
                for parameters in request.responseParameters {
                    if parameters.intervalUs > 0 {
                        try await Task.sleep(for: .microseconds(Int(parameters.intervalUs)))
                    }
                    try await writer.write(GRPCTesting.StreamingOutputCallResponse(payload: payload(size: parameters.size)),
                        compress: parameters.compressed?.value ?? false)
                }
            }
        }
        router.register(Service.HalfDuplexCall.self) { (requests: RequestStream<GRPCTesting.StreamingOutputCallRequest>, context, writer) in
            echoMetadata(context)
            var buffered: [GRPCTesting.StreamingOutputCallRequest] = []
            for try await request in requests { buffered.append(request) }
            for request in buffered {
                for parameters in request.responseParameters {
                    try await writer.write(GRPCTesting.StreamingOutputCallResponse(payload: payload(size: parameters.size)))
                }
            }
        }
        return router
    }
}
