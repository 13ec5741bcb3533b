import Foundation
import Synchronization
import Testing

/// Interoperability with stock gRPC (Python grpcio), both ways: grpcio's client cases
/// against `tongxin-interop serve`, and `tongxin-interop client` against a grpcio server.
@Suite("Interop with grpcio", .serialized)
struct InteropTests {
    static let cases = [
        "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong", "empty_stream",
        "custom_metadata", "status_code_and_message", "special_status_message", "unimplemented_method",
        "unimplemented_service", "cancel_after_begin", "cancel_after_first_response", "timeout_on_sleeping_server",
        "client_compressed_unary", "server_compressed_unary", "client_compressed_streaming", "server_compressed_streaming",
    ]

    @Test("grpcio client → our server", arguments: Self.cases)
    func pythonClientAgainstOurServer(testCase: String) async throws {
        let port = try await InteropFixture.shared.ourServerPort()
        let result = try InteropFixture.run(InteropFixture.python, [InteropFixture.scriptsDirectory + "/interop_client.py", "127.0.0.1:\(port)", testCase])
        #expect(result.status == 0, "\(testCase): \(result.output)")
        #expect(result.output.contains("PASS \(testCase)"))
    }

    @Test("our client → grpcio server", arguments: Self.cases)
    func ourClientAgainstPythonServer(testCase: String) async throws {
        let port = try await InteropFixture.shared.pythonServerPort()
        let result = try InteropFixture.run(InteropFixture.interopBinary, ["client", "--server", "127.0.0.1:\(port)", "--case", testCase],
            environment: ["INTEROP_LENIENT_PROBE": "1"])
        #expect(result.status == 0, "\(testCase): \(result.output)")
        #expect(result.output.contains("PASS \(testCase)"))
    }
}

/// Starts the two servers once for the whole suite; they die with the test process.
actor InteropFixture {
    static let shared = InteropFixture()

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let scriptsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop").path
    static var python: String {
        ProcessInfo.processInfo.environment["TONGXIN_PYTHON"] ?? packageRoot + "/.venv/bin/python"
    }
    /// `tongxin-interop`, built next to the test bundle by `swift build --build-tests`.
    static var interopBinary: String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("tongxin-interop").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return packageRoot + "/.build/debug/tongxin-interop"
    }

    /// Write ends of the servers' stdin pipes, held open for the life of the test process.
    static let lifelines = Mutex<[Pipe]>([])

    private var ours: (Process, Int)?
    private var python: (Process, Int)?

    func ourServerPort() throws -> Int {
        if let ours { return ours.1 }
        let started = try Self.startServer(Self.interopBinary, ["serve", "--port", "0", "--threads", "2"])
        self.ours = started
        return started.1
    }

    func pythonServerPort() throws -> Int {
        if let python { return python.1 }
        let started = try Self.startServer(Self.python, [Self.scriptsDirectory + "/interop_server.py", "0"])
        self.python = started
        return started.1
    }

    /// Launches a server that prints `listening on PORT` and returns its port.
    static func startServer(_ executable: String, _ arguments: [String]) throws -> (Process, Int) {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw FixtureError(description: "\(executable) is missing (build with `swift build --build-tests`; Python venv: scripts/bootstrap.sh)")
        }
        // The server runs under a shell that kills it once our stdin pipe closes, i.e. when the
        // test process exits however it exits: no server outlives the tests.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\"$0\" \"$@\" < /dev/null & child=$!; trap 'kill -9 $child' TERM; cat > /dev/null; kill -9 $child 2>/dev/null",
            executable] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: Self.scriptsDirectory)
        let pipe = Pipe()
        let lifeline = Pipe()
        process.standardInput = lifeline
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        Self.lifelines.withLock { $0.append(lifeline) }
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            if let range = text.range(of: "listening on "), let line = text[range.upperBound...].split(separator: "\n").first,
                text[range.upperBound...].contains("\n"), let port = Int(line.trimmingCharacters(in: .whitespaces))
            {
                return (process, port)
            }
        }
        process.terminate()
        throw FixtureError(description: "\(executable) did not start: \(text)")
    }

    /// Runs a process to completion (60 s at most) and returns its exit status and output.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: Self.scriptsDirectory)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let timer = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: timer)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
}

