import Foundation
import Model
import RPC
import Testing

/// SIGTERM on a real server process: GOAWAY, the in-flight call completes, the process exits.
@Suite("Graceful shutdown on SIGTERM")
struct SignalShutdownTests {
    @Test func inFlightStreamFinishesThenProcessExits() async throws {
        let (process, port) = try InteropFixture.startServer(InteropFixture.interopBinary, ["serve", "--port", "0", "--threads", "1"])
        let client = try RPCClient(targets: ["127.0.0.1:\(port)"])
        let request = GRPCTesting.StreamingOutputCallRequest(responseParameters: (0..<5).map { _ in
            GRPCTesting.ResponseParameters(size: 10, intervalUs: 200_000)
        })
        var received = 0
        for try await _ in try await client.serverStreaming(GRPCTesting.TestService.StreamingOutputCall.self, request) {
            received += 1
            if received == 1 { kill(process.processIdentifier, SIGTERM) }
        }
        #expect(received == 5)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!process.isRunning, "the server should exit after SIGTERM")
        await client.close()
    }
}
