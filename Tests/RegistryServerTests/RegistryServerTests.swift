import Foundation
import Testing

/// The `tongxin-registry` executable as integrators meet it: started on a free port with its
/// embedded SQLite, called by a stock Python grpcio client generated from `Protos/`.
///
/// One test at a time: each waits for processes, holding one of Swift's cooperative threads
/// (one per core) the whole time, and two at once left none for the rest of the test run (an
/// async test's 3-second timer in another suite once fired 17 s late).
@Suite("tongxin-registry with a stock grpcio client", .serialized)
struct RegistryServerTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("tongxin-registry")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("tongxin-registry")
    }

    static var python: String {
        ProcessInfo.processInfo.environment["TONGXIN_PYTHON"] ?? root.appendingPathComponent(".venv/bin/python").path
    }

    /// Starts the registry on a free port, on `database` or else on SQLite in a fresh data
    /// folder; returns it, its address and the folder.
    static func start(_ extraArguments: [String] = [], database: String? = nil) throws -> (Process, String, URL) {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString)")
        let process = Process()
        process.executableURL = self.binary
        process.arguments = ["--listen", "127.0.0.1:0", "--admin-listen", "off", "--database", database ?? "sqlite:\(data.path)/registry.sqlite"]
            + extraArguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        var text = ""
        // Listening comes first; calls succeed once the database is open and migrated.
        while !(text.contains("tongxin-registry listening") && text.contains("database ready")) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) else {
            process.terminate()
            throw RegistryStartError(output: text)
        }
        return (process, String(text[range]), data)
    }

    /// Stops a registry from ``start(_:database:)`` and removes its data folder.
    static func stop(_ process: Process, removing data: URL) {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: data)
    }

    /// Sends `process` SIGTERM and expects it to drain and exit 0 within 30 s.
    static func expectCleanExit(_ process: Process) {
        process.terminate()
        #expect(Self.exits(process, within: 30), "still running 30 s after SIGTERM")
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    /// Runs the `tongxin` built beside the registry; returns its exit status and its output.
    static func tongxin(_ arguments: [String]) throws -> (Int32, String) {
        try self.run(self.binary.deletingLastPathComponent().appendingPathComponent("tongxin"), arguments)
    }

    /// Runs `executable` to its end; returns its exit status and its output.
    static func run(_ executable: URL, _ arguments: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }

    struct RegistryStartError: Error, CustomStringConvertible {
        let output: String
        var description: String { "tongxin-registry did not start: \(self.output)" }
    }

    /// A new database on the test PostgreSQL server (`TONGXIN_TEST_POSTGRES_URL`, as
    /// scripts/postgres.sh prints it; without it this fails, never skips), dropped after `body`.
    static func withPostgresDatabase(_ body: (String) throws -> Void) throws {
        guard let base = ProcessInfo.processInfo.environment["TONGXIN_TEST_POSTGRES_URL"], !base.isEmpty else {
            Issue.record("TONGXIN_TEST_POSTGRES_URL is not set: start a server with scripts/postgres.sh (scripts/test.sh does)")
            return
        }
        let name = "tongxin_server_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let (created, output) = try Self.run(URL(fileURLWithPath: "/usr/bin/psql"), [base, "-qc", "CREATE DATABASE \(name)"])
        try #require(created == 0, "psql: \(output)")
        defer { _ = try? Self.run(URL(fileURLWithPath: "/usr/bin/psql"), [base, "-qc", "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"]) }
        var components = URLComponents(string: base)!
        components.path = "/" + name
        try body(components.string!)
    }

    /// Waits up to `seconds` for `process` to exit; if it has not, kills it (so a test fails
    /// instead of hanging) and returns false.
    static func exits(_ process: Process, within seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let exited = !process.isRunning
        if !exited {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return exited
    }

    /// Runs the stock Python client's script against the registry at `address`.
    static func runStockClient(_ address: String) throws {
        let script = Process()
        script.executableURL = URL(fileURLWithPath: Self.python)
        script.arguments = [Self.root.appendingPathComponent("Tests/RegistryServerTests/Python/registry_client.py").path, address]
        let pipe = Pipe()
        script.standardOutput = pipe
        script.standardError = pipe
        try script.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        script.waitUntilExit()
        #expect(script.terminationStatus == 0, "\(output)")
        #expect(output.contains("PASS"), "\(output)")
    }

    @Test("creates, reads, searches and watches members; errors carry google.rpc details")
    func stockClient() throws {
        let (process, address, data) = try Self.start()
        defer { Self.stop(process, removing: data) }
        try Self.runStockClient(address)
    }

    // The server and the PostgreSQL client share the event loops: lookups are answered on the
    // handler's loop, and at SIGTERM the server drains, the database closes, then the loops stop.
    @Test("on PostgreSQL: the stock client's calls all work, and SIGTERM still exits cleanly")
    func stockClientOnPostgres() throws {
        try Self.withPostgresDatabase { url in
            let (process, address, data) = try Self.start(database: url)
            defer { try? FileManager.default.removeItem(at: data) }
            try Self.runStockClient(address)
            Self.expectCleanExit(process)
        }
    }

    @Test("tongxin seed builds a demo province through the API, and seeding again adds nothing")
    func seed() throws {
        let (process, address, data) = try Self.start()
        defer { Self.stop(process, removing: data) }
        for _ in 0..<2 {
            let (status, out) = try Self.tongxin(["seed", address, "--townships", "1", "--villages", "2", "--members", "60"])
            #expect(status == 0, "\(out)")
            #expect(out.contains("60 members"))
        }
        let (status, stats) = try Self.tongxin([
            "call", address, "tongxin.registry.v1.RegistryService/GetRegistryStatistics", "-d", #"{"regionCode":"420000"}"#, "--compact",
        ])
        #expect(status == 0, "\(stats)")
        #expect(stats.hasPrefix(#"{"regions":[{"region":{"regionCode":"420000","regionName":"湖北省","level":"REGION_LEVEL_PROVINCE"},"activeMembers":60,"#), "\(stats)")
        for category in ["DEMOCRATIC_PARTY", "OVERSEAS_CHINESE", "ETHNIC_MINORITY", "PRIVATE_ECONOMY"] {
            #expect(stats.contains("MEMBER_CATEGORY_\(category)"))
        }

        // Requests for members not yet created, sent once each by a create load.
        let export = data.appendingPathComponent("export").path
        let exported = try Self.tongxin([
            "seed", address, "--townships", "1", "--villages", "2", "--members", "60", "--export", export, "--export-creates", "20",
        ])
        #expect(exported.0 == 0, "\(exported.1)")
        let load = try Self.tongxin([
            "load", address, "tongxin.registry.v1.RegistryService/CreateMember", "--template",
            "{{next:\(export)/create-requests.jsonl}}", "-n", "20", "-c", "4", "--output", "json", "-H", "x-tongxin-user: load-test",
        ])
        #expect(load.0 == 0, "\(load.1)")
        #expect(load.1.contains(#""ok": 20"#) || load.1.contains(#""ok":20"#), "\(load.1)")
        let after = try Self.tongxin([
            "call", address, "tongxin.registry.v1.RegistryService/GetRegistryStatistics", "-d", #"{"regionCode":"420000"}"#, "--compact",
        ])
        #expect(after.1.contains(#""activeMembers":80,"#), "\(after.1)")
        // -H reached the server: the load's members were created by the user it named.
        let listed = try Self.tongxin([
            "call", address, "tongxin.registry.v1.RegistryService/ListMembers", "-d", #"{"regionCode":"420000","pageSize":100}"#, "--compact",
        ])
        #expect(listed.1.components(separatedBy: #""createdBy":"load-test""#).count - 1 == 20, "\(listed.1.prefix(2000))")
    }

    @Test("tongxin against the registry: list, describe, call (unary and the WatchChanges stream), health, a short load run")
    func clientTool() throws {
        let (process, address, data) = try Self.start()
        defer { Self.stop(process, removing: data) }
        let s = "tongxin.registry.v1.RegistryService"
        let list = try Self.tongxin(["list", address])
        #expect(list.0 == 0 && list.1.split(separator: "\n").contains(Substring(s)), "\(list.1)")
        let methods = try Self.tongxin(["list", address, s])
        #expect(methods.1.contains("\(s)/CreateMember"))
        let describe = try Self.tongxin(["describe", address, "tongxin.registry.v1.Member"])
        #expect(describe.1.contains("string resident_id_number = 10;"), "\(describe.1)")
        let imported = try Self.tongxin(["call", address, "\(s)/ImportRegions", "--compact", "-d",
                                #"{"requestId":"r","regions":[{"code":"420000","name":"湖北省"},{"code":"420100","name":"武汉市","parentCode":"420000"}]}"#])
        #expect(imported.1 == #"{"createdCount":2}"# + "\n", "\(imported.1)")
        let watch = try Self.tongxin(["call", address, "\(s)/WatchChanges", "--compact", "--deadline", "2s", "-d", #"{"replayRetained":true}"#])
        // The stream runs until the deadline: the region creates, then caught_up, then DEADLINE_EXCEEDED.
        #expect(watch.1.contains(#""entityId":"420100""#), "\(watch.1)")
        #expect(watch.1.contains(#""caughtUp":true"#))
        #expect(watch.0 == 4)
        #expect(try Self.tongxin(["health", address, s]) == (0, "SERVING\n"))
        let load = try Self.tongxin(["load", address, "\(s)/GetRegion", "-d", #"{"code":"420100"}"#, "-n", "100", "-c", "4", "--output", "json"])
        #expect(load.0 == 0 && load.1.contains(#""calls": 100"#) && load.1.contains(#""ok": 100"#), "\(load.1)")
    }

    @Test("--require-caller: a call that does not say who is calling is UNAUTHENTICATED, naming what is missing")
    func requireCaller() throws {
        let (process, address, data) = try Self.start(["--require-caller"])
        defer { Self.stop(process, removing: data) }
        let method = "tongxin.registry.v1.RegistryService/ImportRegions"
        let body = #"{"requestId":"r","regions":[{"code":"420000","name":"湖北省"}]}"#
        let anonymous = try Self.tongxin(["call", address, method, "--compact", "-d", body])
        #expect(anonymous.0 == 16, "UNAUTHENTICATED is status 16: \(anonymous.1)")
        #expect(anonymous.1.contains("x-tongxin-user, x-tongxin-regions, x-tongxin-roles"), "\(anonymous.1)")
        let partial = try Self.tongxin(["call", address, method, "--compact", "-d", body, "-H", "x-tongxin-user: u-1"])
        #expect(partial.0 == 16 && partial.1.contains("x-tongxin-regions, x-tongxin-roles"), "\(partial.1)")
        let named = try Self.tongxin([
            "call", address, method, "--compact", "-d", body, "-H", "x-tongxin-user: u-1", "-H", "x-tongxin-regions: 420000",
            "-H", "x-tongxin-roles: region-admin",
        ])
        // A province's scope does not reach the province's own node (that belongs to no region
        // above it): only a caller whose scope is every region ("*") may import it.
        #expect(named.0 == 7 && named.1.contains("outside the caller's region scope"), "\(named.1)")
        let provincial = try Self.tongxin([
            "call", address, method, "--compact", "-d", body, "-H", "x-tongxin-user: u-1", "-H", "x-tongxin-regions: *",
            "-H", "x-tongxin-roles: *",
        ])
        #expect(provincial == (0, #"{"createdCount":1}"# + "\n"), "\(provincial.1)")
        // The seed tool says who it is: a provincial administrator with every region and role.
        let seeded = try Self.tongxin(["seed", address])
        #expect(seeded.0 == 0 && seeded.1.contains("500 members"), "\(seeded.1)")
        #expect(try Self.tongxin(["health", address]).1 == "SERVING\n", "health needs no caller")
    }

    @Test("once the database is migrated, health says SERVING for the registry service")
    func readiness() async throws {
        let (process, address, data) = try Self.start()
        defer { Self.stop(process, removing: data) }
        let (status, out) = try Self.tongxin(["health", address, "tongxin.registry.v1.RegistryService"])
        #expect(out == "SERVING\n")
        #expect(status == 0)
    }

    @Test("a change retention under the promised 7 days is refused at start, naming the flag")
    func shortRetentionRefused() throws {
        let (status, output) = try Self.run(Self.binary, ["--change-retention-days", "3", "--admin-listen", "off"])
        #expect(status != 0)
        #expect(output.contains("--change-retention-days must be at least 7"), "\(output)")
    }

    @Test("a database that cannot be reached: the start-up failure is logged as an error and the process exits with it")
    func unreachableDatabase() throws {
        // Port 1 on the loopback: nothing listens, so the connection is refused at once.
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = [
            "--listen", "127.0.0.1:0", "--admin-listen", "off", "--database", "postgres://postgres@127.0.0.1:1/registry",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        // Before the fix it kept listening (NOT_SERVING) forever and ignored SIGTERM.
        let hung = !Self.exits(process, within: 30)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!hung, "still running after 30 s: \(output)")
        #expect(process.terminationReason == .exit && process.terminationStatus != 0)
        #expect(output.contains("error") && output.contains("start-up failed"), "\(output)")
        #expect(output.contains("Connection refused") || output.contains("errno: 111"), "\(output)")
    }

    @Test("SIGTERM drains and exits cleanly")
    func sigterm() throws {
        let (process, _, data) = try Self.start()
        defer { try? FileManager.default.removeItem(at: data) }
        Self.expectCleanExit(process)
    }
}
