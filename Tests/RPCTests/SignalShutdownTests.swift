import Foundation
import Model
import RPC
import Testing

/// SIGTERM on a real server process: GOAWAY, the in-flight call completes, the process exits.
@Suite("Graceful shutdown on SIGTERM")
struct SignalShutdownTests {
    /// Whether `pid` still runs: a zombie (exited, not yet reaped by the wrapper shell) does not.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    @Test func inFlightStreamFinishesThenProcessExits() async throws {
        // The server is started directly (not under the fixture's shell) so its pid is known.
        let server = Process()
        server.executableURL = URL(fileURLWithPath: InteropFixture.interopBinary)
        server.arguments = ["serve", "--port", "0", "--threads", "1"]
        let pipe = Pipe()
        server.standardOutput = pipe
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        var text = ""
        while !text.contains("\n") {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        let port = try #require(text.split(whereSeparator: { !$0.isNumber }).last.flatMap { Int($0) })
        let client = try RPCClient(targets: ["127.0.0.1:\(port)"])
        let request = GRPCTesting.StreamingOutputCallRequest(responseParameters: (0..<5).map { _ in
            GRPCTesting.ResponseParameters(size: 10, intervalUs: 200_000)
        })
        var received = 0
        for try await _ in try await client.serverStreaming(GRPCTesting.TestService.StreamingOutputCall.self, request) {
            received += 1
            if received == 1 { server.terminate() }  // SIGTERM
        }
        #expect(received == 5)
        await client.close()
        // The server's grace period is 10 s; it should be gone well before 15 s.
        let deadline = Date().addingTimeInterval(15)
        while Self.isRunning(server.processIdentifier) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!Self.isRunning(server.processIdentifier), "the server should exit after SIGTERM")
    }
}
