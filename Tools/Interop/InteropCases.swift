import Foundation
import Model
import RPC

/// The client cases of grpc/grpc `doc/interop-test-descriptions.md`.
enum InteropCases {
    typealias Service = GRPCTesting.TestService
    typealias Case = @Sendable (RPCClient) async throws -> Void

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw Failure(description: message()) }
    }

    static func expectError(_ code: Status.Code, message: String? = nil, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as RPCError {
            try expect(error.code == code, "expected \(code), got \(error)")
            if let message { try expect(error.message == message, "expected message \(message.debugDescription), got \(error.message.debugDescription)") }
            return
        }
        throw Failure(description: "expected \(code), but the call succeeded")
    }

    static func payload(_ size: Int) -> GRPCTesting.Payload {
        GRPCTesting.Payload(type: .compressable, body: Data(count: size))
    }

    static func streamingRequest(size: Int32, payload: Int, compressed: Bool? = nil) -> GRPCTesting.StreamingOutputCallRequest {
        var parameters = GRPCTesting.ResponseParameters(size: size)
        if let compressed { parameters.compressed = GRPCTesting.BoolValue(value: compressed) }
        return GRPCTesting.StreamingOutputCallRequest(responseType: .compressable, responseParameters: [parameters], payload: Self.payload(payload))
    }

    static let all: [String: Case] = [
        "empty_unary": { client in
            _ = try await client.unary(Service.EmptyCall.self, GRPCTesting.Empty())
        },
        "large_unary": { client in
            let response = try await client.unary(Service.UnaryCall.self,
                GRPCTesting.SimpleRequest(responseType: .compressable, responseSize: 314159, payload: payload(271828)))
            try expect(response.payload?.body.count == 314159, "payload size \(response.payload?.body.count ?? -1)")
            try expect(response.payload?.body.allSatisfy { $0 == 0 } == true, "payload not zeros")
        },
        "client_compressed_unary": { client in
            var probe = GRPCTesting.SimpleRequest(responseType: .compressable, responseSize: 314159, payload: payload(271828))
            probe.expectCompressed = GRPCTesting.BoolValue(value: true)
            try await compressionProbe {
                _ = try await client.unary(Service.UnaryCall.self, probe)
            }
            let compressed = try await client.unary(Service.UnaryCall.self, probe, options: CallOptions(compression: .gzip))
            try expect(compressed.payload?.body.count == 314159, "compressed call payload size")
            var plain = probe
            plain.expectCompressed = GRPCTesting.BoolValue(value: false)
            let uncompressed = try await client.unary(Service.UnaryCall.self, plain)
            try expect(uncompressed.payload?.body.count == 314159, "uncompressed call payload size")
        },
        "server_compressed_unary": { client in
            for compressed in [true, false] {
                var request = GRPCTesting.SimpleRequest(responseType: .compressable, responseSize: 314159, payload: payload(271828))
                request.responseCompressed = GRPCTesting.BoolValue(value: compressed)
                let response = try await client.unary(Service.UnaryCall.self, request)
                try expect(response.payload?.body.count == 314159, "payload size (compressed: \(compressed))")
            }
        },
        "client_streaming": { client in
            let response = try await client.clientStreaming(Service.StreamingInputCall.self) { sender in
                for size in [27182, 8, 1828, 45904] {
                    try await sender.send(GRPCTesting.StreamingInputCallRequest(payload: payload(size)))
                }
            }
            try expect(response.message.aggregatedPayloadSize == 74922, "aggregated \(response.message.aggregatedPayloadSize)")
        },
        "client_compressed_streaming": { client in
            try await compressionProbe {
                _ = try await client.clientStreaming(Service.StreamingInputCall.self) { sender in
                    var request = GRPCTesting.StreamingInputCallRequest(payload: payload(27182))
                    request.expectCompressed = GRPCTesting.BoolValue(value: true)
                    try await sender.send(request)
                }
            }
            let response = try await client.clientStreaming(Service.StreamingInputCall.self, options: CallOptions(compression: .gzip)) { sender in
                var first = GRPCTesting.StreamingInputCallRequest(payload: payload(27182))
                first.expectCompressed = GRPCTesting.BoolValue(value: true)
                try await sender.send(first, compress: true)
                var second = GRPCTesting.StreamingInputCallRequest(payload: payload(45904))
                second.expectCompressed = GRPCTesting.BoolValue(value: false)
                try await sender.send(second, compress: false)
            }
            try expect(response.message.aggregatedPayloadSize == 73086, "aggregated \(response.message.aggregatedPayloadSize)")
        },
        "server_streaming": { client in
            let sizes: [Int32] = [31415, 9, 2653, 58979]
            let request = GRPCTesting.StreamingOutputCallRequest(responseType: .compressable,
                responseParameters: sizes.map { GRPCTesting.ResponseParameters(size: $0) })
            var received: [Int] = []
            for try await response in try await client.serverStreaming(Service.StreamingOutputCall.self, request) {
                received.append(response.payload?.body.count ?? -1)
            }
            try expect(received == sizes.map(Int.init), "sizes \(received)")
        },
        "server_compressed_streaming": { client in
            var first = GRPCTesting.ResponseParameters(size: 31415)
            first.compressed = GRPCTesting.BoolValue(value: true)
            var second = GRPCTesting.ResponseParameters(size: 92653)
            second.compressed = GRPCTesting.BoolValue(value: false)
            let request = GRPCTesting.StreamingOutputCallRequest(responseType: .compressable, responseParameters: [first, second])
            var received: [Int] = []
            for try await response in try await client.serverStreaming(Service.StreamingOutputCall.self, request) {
                received.append(response.payload?.body.count ?? -1)
            }
            try expect(received == [31415, 92653], "sizes \(received)")
        },
        "ping_pong": { client in
            let sizes: [(Int32, Int)] = [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)]
            try await client.bidirectionalStreaming(Service.FullDuplexCall.self) { sender, responses in
                var iterator = responses.makeAsyncIterator()
                for (responseSize, payloadSize) in sizes {
                    try await sender.send(streamingRequest(size: responseSize, payload: payloadSize))
                    let response = try await iterator.next()
                    try expect(response?.payload?.body.count == Int(responseSize), "response size \(response?.payload?.body.count ?? -1)")
                }
                try await sender.finish()
                try expect(try await iterator.next() == nil, "expected the end of the stream")
            }
        },
        "empty_stream": { client in
            try await client.bidirectionalStreaming(Service.FullDuplexCall.self) { sender, responses in
                try await sender.finish()
                var count = 0
                for try await _ in responses { count += 1 }
                try expect(count == 0, "expected no responses, got \(count)")
            }
        },
        "custom_metadata": { client in
            var metadata = Metadata()
            metadata.add("x-grpc-test-echo-initial", "test_initial_metadata_value")
            metadata.add("x-grpc-test-echo-trailing-bin", binary: [0xAB, 0xAB, 0xAB])
            let options = CallOptions(metadata: metadata)
            let response = try await client.unaryWithMetadata(Service.UnaryCall.self,
                GRPCTesting.SimpleRequest(responseType: .compressable, responseSize: 314159, payload: payload(271828)), options: options)
            try expect(response.initialMetadata.first("x-grpc-test-echo-initial") == "test_initial_metadata_value", "initial metadata \(response.initialMetadata)")
            try expect(response.trailingMetadata.firstBinary("x-grpc-test-echo-trailing-bin") == [0xAB, 0xAB, 0xAB], "trailing metadata \(response.trailingMetadata)")
            try await client.bidirectionalStreaming(Service.FullDuplexCall.self, options: options) { sender, responses in
                try await sender.send(streamingRequest(size: 314159, payload: 271828))
                try await sender.finish()
                let initial = try await responses.initialMetadata()
                try expect(initial.first("x-grpc-test-echo-initial") == "test_initial_metadata_value", "stream initial metadata \(initial)")
                for try await _ in responses {}
                let trailing = await responses.trailingMetadata()
                try expect(trailing.firstBinary("x-grpc-test-echo-trailing-bin") == [0xAB, 0xAB, 0xAB], "stream trailing metadata \(trailing)")
            }
        },
        "status_code_and_message": { client in
            try await statusCase(client, message: "test status message")
        },
        "special_status_message": { client in
            try await statusCase(client, message: "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n")
        },
        "unimplemented_method": { client in
            try await expectError(.unimplemented) {
                _ = try await client.unary(Service.UnimplementedCall.self, GRPCTesting.Empty())
            }
        },
        "unimplemented_service": { client in
            try await expectError(.unimplemented) {
                _ = try await client.unary(GRPCTesting.UnimplementedService.UnimplementedCall.self, GRPCTesting.Empty())
            }
        },
        "cancel_after_begin": { client in
            try await expectError(.cancelled) {
                _ = try await client.clientStreaming(Service.StreamingInputCall.self) { _ in
                    throw RPCError(code: .cancelled, message: "cancelled by the test")
                }
            }
            // Cancelling the calling task has the same effect.
            let task = Task {
                try await client.clientStreaming(Service.StreamingInputCall.self) { _ in
                    try await Task.sleep(for: .seconds(10))
                }
            }
            try await Task.sleep(for: .milliseconds(50))
            task.cancel()
            do {
                _ = try await task.value
                throw Failure(description: "expected CANCELLED")
            } catch let error as RPCError {
                try expect(error.code == .cancelled, "expected CANCELLED, got \(error)")
            } catch is CancellationError {
            }
        },
        "cancel_after_first_response": { client in
            try await expectError(.cancelled) {
                try await client.bidirectionalStreaming(Service.FullDuplexCall.self) { sender, responses in
                    try await sender.send(streamingRequest(size: 31415, payload: 27182))
                    var iterator = responses.makeAsyncIterator()
                    let first = try await iterator.next()
                    try expect(first?.payload?.body.count == 31415, "first response size")
                    responses.cancel()
                    _ = try await iterator.next()
                }
            }
        },
        "timeout_on_sleeping_server": { client in
            try await expectError(.deadlineExceeded) {
                try await client.bidirectionalStreaming(Service.FullDuplexCall.self, options: .timeout(.milliseconds(1))) { sender, responses in
                    try? await sender.send(streamingRequest(size: 31415, payload: 27182))
                    for try await _ in responses {}
                }
            }
        },
    ]

    /// The feature probe of the compression cases: an uncompressed message that claims to be
    /// compressed must get INVALID_ARGUMENT. grpcio's Python server cannot see whether a
    /// message was compressed, so there (`INTEROP_LENIENT_PROBE=1`) a successful probe is
    /// reported and the case goes on to check that compressed messages are understood.
    static func compressionProbe(_ body: () async throws -> Void) async throws {
        if ProcessInfo.processInfo.environment["INTEROP_LENIENT_PROBE"] == "1" {
            do {
                try await body()
                print("note: the server does not check request compression (probe succeeded)")
            } catch let error as RPCError {
                try expect(error.code == .invalidArgument, "probe: expected INVALID_ARGUMENT, got \(error)")
            }
            return
        }
        try await expectError(.invalidArgument, body)
    }

    static func statusCase(_ client: RPCClient, message: String) async throws {
        let status = GRPCTesting.EchoStatus(code: 2, message: message)
        var request = GRPCTesting.SimpleRequest()
        request.responseStatus = status
        try await expectError(.unknown, message: message) {
            _ = try await client.unary(Service.UnaryCall.self, request)
        }
        try await expectError(.unknown, message: message) {
            try await client.bidirectionalStreaming(Service.FullDuplexCall.self) { sender, responses in
                var streaming = GRPCTesting.StreamingOutputCallRequest()
                streaming.responseStatus = status
                try await sender.send(streaming)
                try await sender.finish()
                for try await _ in responses {}
            }
        }
    }
}
