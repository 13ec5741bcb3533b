import Foundation
import Model
import RPC
import Testing

/// SIGTERM on a real server process: GOAWAY, the in-flight call completes, the process exits.
@Suite("Graceful shutdown on SIGTERM")
struct SignalShutdownTests {
    /// The server process under the fixture's shell wrapper.
    static func serverPID(shell: Process) -> pid_t {
        let children = (try? String(contentsOfFile: "/proc/\(shell.processIdentifier)/task/\(shell.processIdentifier)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ") {
            guard let pid = pid_t(child),
                let command = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
                command.contains("tongxin-interop")
            else { continue }
            return pid
        }
        return shell.processIdentifier
    }

    /// Whether `pid` still runs: a zombie (exited, not yet reaped by the wrapper shell) does not.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    @Test func inFlightStreamFinishesThenProcessExits() async throws {
        let (process, port) = try InteropFixture.startServer(InteropFixture.interopBinary, ["serve", "--port", "0", "--threads", "1"])
        let client = try RPCClient(targets: ["127.0.0.1:\(port)"])
        let request = GRPCTesting.StreamingOutputCallRequest(responseParameters: (0..<5).map { _ in
            GRPCTesting.ResponseParameters(size: 10, intervalUs: 200_000)
        })
        var received = 0
        var signalled: pid_t = 0
        for try await _ in try await client.serverStreaming(GRPCTesting.TestService.StreamingOutputCall.self, request) {
            received += 1
            if received == 1 {
                signalled = Self.serverPID(shell: process)
                kill(signalled, SIGTERM)
            }
        }
        #expect(received == 5)
        await client.close()
        // The server's grace period is 10 s; it should be gone well before 15 s.
        let deadline = Date().addingTimeInterval(15)
        let serverPID = Self.serverPID(shell: process)
        while Self.isRunning(serverPID) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(signalled == serverPID, "SIGTERM went to \(signalled), the server is \(serverPID), the shell \(process.processIdentifier)")
        #expect(!Self.isRunning(serverPID), "the server should exit after SIGTERM")
    }
}
