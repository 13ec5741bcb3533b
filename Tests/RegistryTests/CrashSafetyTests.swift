import Foundation
import Model
import RegistryCore
import ServiceKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every write a process acknowledged is in the database after the process is killed with
/// SIGKILL: a child (RegistryCrashWriter) creates members 16 at a time and prints each id once
/// createMember returned; the test kills it mid-stream, reopens the database and looks for
/// every printed id.
@Suite("Crash safety")
struct CrashSafetyTests {
    @Test("acknowledged creates survive SIGKILL of the writer", arguments: Engine.allCases)
    func acknowledgedWritesSurvive(engine: Engine) async throws {
        let writer = try Self.writerExecutable()
        try await withFreshTarget(engine) { target in
            try await Self.crashAndCheck(engine, writer: writer, target: target)
        }
    }

    /// Runs the writer on `target`, kills it mid-stream and checks every acknowledged create.
    private static func crashAndCheck(_ engine: Engine, writer: URL, target: String) async throws {
        let process = Process()
        process.executableURL = writer
        process.arguments = [engine == .sqlite ? "sqlite" : "postgres", target]
        let pipe = Pipe()
        process.standardOutput = pipe
        let collected = Collected()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            collected.append(handle.availableData)
        }
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while collected.lines().count < 301 && ContinuousClock.now < deadline && process.isRunning {
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        collected.append(pipe.fileHandleForReading.readDataToEndOfFile())
        #expect(process.terminationReason == .uncaughtSignal)

        let acknowledged = collected.lines().filter { $0 != "ready" }
        #expect(acknowledged.count >= 300, "the writer acknowledged only \(acknowledged.count) creates")

        let database = try await openDatabase(engine, target, migrations: RegistryStore.migrations)
        let store = RegistryStore(database: database)
        var missing: [String] = []
        for start in stride(from: 0, to: acknowledged.count, by: 100) {
            let ids = Array(acknowledged[start..<min(start + 100, acknowledged.count)])
            missing += try await store.batchGetMembers(RegistryV1.BatchGetMembersRequest(memberIds: ids)).missingIds
        }
        #expect(missing.isEmpty, "acknowledged but lost: \(missing.prefix(5))")
        let feed = try await store.changes(after: 0, limit: 10_000)
        #expect(feed.events.map(\.sequence) == Array(1...Int64(feed.events.count)), "the feed has a gap")
        try await database.close()
    }

    /// RegistryCrashWriter, built beside the test binary.
    static func writerExecutable() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
        ]
        for directory in candidates {
            let url = directory.appendingPathComponent("RegistryCrashWriter")
            if FileManager.default.isExecutableFile(atPath: url.path) {
                return url
            }
        }
        throw WriterNotFound(searched: candidates.map(\.path))
    }

    struct WriterNotFound: Error, CustomStringConvertible {
        var searched: [String]
        var description: String { "RegistryCrashWriter not found in \(self.searched)" }
    }
}

/// Bytes read from the child, split into complete lines.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) {
        self.lock.withLock { self.data.append(more) }
    }

    func lines() -> [String] {
        let text = self.lock.withLock { String(decoding: self.data, as: UTF8.self) }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()
        return lines.filter { !$0.isEmpty }
    }
}
