import Foundation
import Testing

/// `tongxin` as a user runs it, against a real server (`tongxin-interop serve`, which serves
/// grpc.testing.TestService plus health and reflection), checking what it prints and its exit code.
@Suite("tongxin client tool", .serialized)
struct ClientToolTests {
    static let buildDirectory: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("tongxin").path) { return directory }
            directory = directory.deletingLastPathComponent()
        }
        return directory
    }()

    /// Runs `body` with a file in the temporary directory (`name`, a unique part, `extension`),
    /// holding `contents` when given, and removes the file afterwards.
    static func withTemporaryFile<T>(
        _ name: String, extension ext: String, contents: String? = nil, _ body: (URL) throws -> T
    ) throws -> T {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).\(ext)")
        defer { try? FileManager.default.removeItem(at: file) }
        if let contents {
            try Data(contents.utf8).write(to: file)
        }
        return try body(file)
    }

    static func tongxin(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = self.buildDirectory.appendingPathComponent("tongxin")
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// The write end of the server's standard input: held open for the life of the test
    /// process, whose end closes it and so ends the server.
    static let serverInput = Pipe()

    /// One interop server for the suite; it exits when the test process ends.
    static let server: (Process, String) = {
        let process = Process()
        process.executableURL = buildDirectory.appendingPathComponent("tongxin-interop")
        process.arguments = ["serve", "--port", "0", "--threads", "1", "--exit-at-end-of-input"]
        process.standardInput = serverInput
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try! process.run()
        var text = ""
        while !text.contains("\n") {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let port = text.split(whereSeparator: { !$0.isNumber }).last.map(String.init) ?? "0"
        return (process, "127.0.0.1:\(port)")
    }()

    var address: String { Self.server.1 }

    @Test("list shows the services, and a service's methods")
    func list() throws {
        let all = try Self.tongxin(["list", self.address])
        #expect(all.status == 0, "\(all.err)")
        #expect(all.out.split(separator: "\n").contains("grpc.testing.TestService"))
        #expect(all.out.split(separator: "\n").contains("grpc.health.v1.Health"))
        let methods = try Self.tongxin(["list", self.address, "grpc.testing.TestService"])
        #expect(methods.out.split(separator: "\n").contains("grpc.testing.TestService/UnaryCall"))
    }

    @Test("describe prints a service and a message in proto syntax")
    func describe() throws {
        let service = try Self.tongxin(["describe", self.address, "tongxin.registry.v1.RegistryService"])
        #expect(service.status == 0, "\(service.err)")
        #expect(service.out.contains("rpc WatchChanges(tongxin.registry.v1.WatchChangesRequest) returns (stream tongxin.registry.v1.WatchChangesResponse);"))
        let message = try Self.tongxin(["describe", self.address, "grpc.testing.SimpleRequest"])
        #expect(message.out.contains("grpc.testing.Payload payload = 3;"))
        let missing = try Self.tongxin(["describe", self.address, "no.such.Thing"])
        #expect(missing.status == 5)
        #expect(missing.err.contains("NOT_FOUND"))
    }

    @Test("call: unary JSON in and out, a server stream as JSON lines, a client stream from stdin")
    func call() throws {
        let unary = try Self.tongxin(["call", self.address, "grpc.testing.TestService/UnaryCall", "-d", #"{"responseSize": 3}"#, "--compact"])
        #expect(unary.status == 0, "\(unary.err)")
        #expect(unary.out == #"{"payload":{"body":"AAAA"}}"# + "\n")
        let stream = try Self.tongxin(["call", self.address, "grpc.testing.TestService/StreamingOutputCall",
                                       "-d", #"{"responseParameters":[{"size":1},{"size":2}]}"#, "--compact"])
        #expect(stream.out == #"{"payload":{"body":"AA=="}}"# + "\n" + #"{"payload":{"body":"AAA="}}"# + "\n")
        let input = try Self.tongxin(["call", self.address, "grpc.testing.TestService/StreamingInputCall", "--compact"],
                                     stdin: #"{"payload":{"body":"AAA="}}"# + "\n" + #"{"payload":{"body":"AAAA"}}"# + "\n")
        #expect(input.out == #"{"aggregatedPayloadSize":5}"# + "\n", "\(input.err)")
    }

    @Test("-H sends a -bin value given in base64, padded or not; the server's echo comes back in the trailers")
    func binaryMetadata() throws {
        for value in ["q6ur", "q6s=", "q6s"] {
            let result = try Self.tongxin([
                "call", self.address, "grpc.testing.TestService/UnaryCall", "-H", "x-grpc-test-echo-trailing-bin: \(value)",
                "-d", #"{"responseStatus": {"code": 9, "message": "no"}}"#,
            ])
            #expect(result.status == 9)
            // Printed padded, as the bytes decoded: [0xAB, 0xAB, 0xAB] or [0xAB, 0xAB].
            #expect(result.err.contains("x-grpc-test-echo-trailing-bin: " + (value == "q6ur" ? "q6ur" : "q6s=")), "\(result.err)")
        }
    }

    @Test("health exits 0 when SERVING")
    func health() throws {
        let result = try Self.tongxin(["health", self.address])
        #expect(result.status == 0)
        #expect(result.out == "SERVING\n")
    }

    @Test("each mistake gives one clear line and a non-zero exit", arguments: [
        (["call", "ADDR", "grpc.testing.TestService/Nope"], "unknown method grpc.testing.TestService/Nope"),
        (["call", "ADDR", "grpc.testing.TestService/UnaryCall", "-d", "{\"responseSize\": 1"], "invalid JSON"),
        (["call", "ADDR", "grpc.testing.TestService/UnaryCall", "-d", "{\"size\": 1}"], "has no field named \"size\""),
        (["call", "ADDR", "grpc.testing.TestService/UnaryCall", "-d", "{\"responseSize\": \"big\"}"], "field responseSize"),
        (["call", "127.0.0.1:1", "grpc.testing.TestService/EmptyCall"], "UNAVAILABLE"),
        (["call", "ADDR", "grpc.testing.TestService/UnaryCall", "-d", "{\"responseStatus\": {\"code\": 9, \"message\": \"不行\"}}"], "FAILED_PRECONDITION (9): 不行"),
        (["call", "ADDR", "grpc.testing.TestService/EmptyCall", "-H", "x-test-bin: not base64!"], "a -bin value must be base64"),
    ])
    func mistakes(_ arguments: [String], _ expected: String) throws {
        let result = try Self.tongxin(arguments.map { $0 == "ADDR" ? self.address : $0 })
        #expect(result.status != 0)
        #expect(result.err.contains(expected), "\(result.err)")
        #expect(result.out.isEmpty)
    }

    @Test("load: a short closed-loop run over 3 connections on 2 threads reports calls, percentiles and status codes as JSON")
    func load() throws {
        let result = try Self.tongxin([
            "load", self.address, "grpc.testing.TestService/UnaryCall",
            "--template", #"{"responseSize": {{rand:1:10}}, "responseStatus": {"code": {{pick:0|5}}, "message": "m{{seq}}"}}"#,
            "-c", "4", "--connections", "3", "--threads", "2", "-n", "200", "--output", "json",
        ])
        #expect(result.status == 0, "\(result.err)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        #expect(json["calls"] as? Int == 200)
        let codes = try #require(json["statusCodes"] as? [[String: Any]])
        #expect(Set(codes.compactMap { $0["code"] as? String }) == ["OK", "NOT_FOUND"])
        #expect(codes.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == 200)
        let latency = try #require(json["latencyMs"] as? [String: Any])
        for key in ["p50", "p90", "p99", "p99.9", "max", "mean"] { #expect(latency[key] != nil, "\(key)") }
    }

    @Test("load: templates take lines from a file and leave unknown placeholders as written")
    func templateLinesAndUnknown() throws {
        try Self.withTemporaryFile("lines", extension: "txt", contents: "only\n") { file in
            let result = try Self.tongxin([
                "load", self.address, "grpc.testing.TestService/UnaryCall",
                "--template", #"{"responseStatus": {"code": 5, "message": "{{line:"# + file.path + #"}}|{{other}}|{{seq"}}"#,
                "-c", "2", "-n", "10", "--output", "json",
            ])
            // No call succeeded (each asked for NOT_FOUND): the report, then exit status 1.
            #expect(result.status == 1, "\(result.err)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
            let codes = try #require(json["statusCodes"] as? [[String: Any]])
            #expect(codes.first?["sample"] as? String == "only|{{other}}|{{seq")
            #expect(codes.first?["count"] as? Int == 10)
        }
    }

    @Test("load: open loop at a fixed rate keeps the rate, and writes an HTML report")
    func openLoopHTML() throws {
        try Self.withTemporaryFile("load", extension: "html") { file in
            let result = try Self.tongxin([
                "load", self.address, "grpc.testing.TestService/EmptyCall", "--rps", "200", "-z", "1s", "-c", "8",
                "--output", "html", "--out", file.path,
            ])
            #expect(result.status == 0, "\(result.err)")
            let html = try String(contentsOf: file, encoding: .utf8)
            #expect(html.contains("<svg"))
            #expect(html.contains("open loop at 200 calls/s"))
            #expect(!html.contains("<script"))
            #expect(html.contains("Calls:     200 "))
        }
    }

    /// What a load run of UnaryCall saw whose template asks, call by call, for the status code on
    /// the next line of a file holding `lines` (and names the call in the message).
    func nextLineRun(lines: String, _ arguments: [String]) throws -> (calls: Int?, ok: Int?, notFound: Int?, sampleCall: Int?) {
        try Self.withTemporaryFile("codes", extension: "txt", contents: lines) { file in
            let result = try Self.tongxin(
                ["load", self.address, "grpc.testing.TestService/UnaryCall"] + arguments + [
                    "--template", #"{"responseStatus": {"code": {{next:"# + file.path + #"}}, "message": "call {{seq}}"}}"#,
                    "--output", "json",
                ])
            #expect(result.status == 0, "\(result.err)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
            let codes = try #require(json["statusCodes"] as? [[String: Any]])
            let notFound = codes.first { $0["code"] as? String == "NOT_FOUND" }
            let sample = notFound?["sample"] as? String
            #expect(sample?.hasPrefix("call ") == true)
            return (
                json["calls"] as? Int, codes.first { $0["code"] as? String == "OK" }?["count"] as? Int,
                notFound?["count"] as? Int, sample.flatMap { Int($0.dropFirst("call ".count)) }
            )
        }
    }

    /// `count` lines repeating `pattern`.
    static func lines(_ pattern: [String], count: Int) -> String {
        (0..<count).map { pattern[$0 % pattern.count] + "\n" }.joined()
    }

    @Test("load: an open-loop run renders each call's template (here the next line of a file) before it starts")
    func openLoopPreparedTemplates() throws {
        let run = try self.nextLineRun(lines: Self.lines(["0", "5"], count: 200), ["--rps", "200", "-z", "1s", "-c", "8"])
        // Calls alternate between the lines 0 and 5, in sequence order.
        #expect(run.calls == 200 && run.ok == 100 && run.notFound == 100)
        #expect(try #require(run.sampleCall) % 2 == 1)
    }

    @Test("load: a closed-loop run of -n calls renders them before it starts, each line of the file once, in order")
    func closedLoopPreparedTemplates() throws {
        let run = try self.nextLineRun(lines: Self.lines(["0", "5", "5", "0"], count: 203), ["-n", "203", "-c", "8"])
        // Calls 0…202 take lines 0, 5, 5, 0 in turn: 101 OK, 102 NOT_FOUND.
        #expect(run.calls == 203 && run.ok == 101 && run.notFound == 102)
        #expect([1, 2].contains(try #require(run.sampleCall) % 4))
    }

    @Test("load: {{next:FILE}} never wraps around: a run needing more lines is refused, and a timed one stops when they run out")
    func nextLineRunsOut() throws {
        try Self.withTemporaryFile("codes", extension: "txt", contents: Self.lines(["0"], count: 50)) { file in
            let template = #"{"responseStatus": {"code": {{next:"# + file.path + #"}}}}"#
            let unary = ["load", self.address, "grpc.testing.TestService/UnaryCall", "--template", template, "-c", "4"]
            // -n past the lines, and an open-loop run due to send more: refused before any call.
            for arguments in [["-n", "51"], ["--rps", "60", "-z", "1s"]] {
                let refused = try Self.tongxin(unary + arguments)
                #expect(refused.status == 64, "\(arguments): \(refused.err)")
                #expect(refused.err.contains("{{next:\(file.path)}} has 50 lines, each sent once"), "\(refused.err)")
                #expect(refused.out.isEmpty)
            }
            // Exactly the lines: every one sent, and the run is complete.
            let exact = try Self.tongxin(unary + ["-n", "50", "--output", "json"])
            #expect(exact.status == 0, "\(exact.err)")
            let exactJSON = try #require(try JSONSerialization.jsonObject(with: Data(exact.out.utf8)) as? [String: Any])
            #expect(exactJSON["calls"] as? Int == 50 && exactJSON["ok"] as? Int == 50)
            #expect(exactJSON["stoppedEarly"] is NSNull)
            // A closed-loop run of -z cannot be counted in advance: it stops after the 50th
            // call, long before 30 s, and says why.
            let timed = try Self.tongxin(unary + ["-z", "30s"])
            #expect(timed.status == 0, "\(timed.err)")
            #expect(timed.out.contains("Calls:     50 in "), "\(timed.out)")
            #expect(timed.out.contains("Stopped:   early, the 50 lines of \(file.path) ran out"), "\(timed.out)")
            #expect(timed.err.contains("warning: stopped early"), "\(timed.err)")
            // A file that is not there is named, not read as no lines.
            let missing = try Self.tongxin([
                "load", self.address, "grpc.testing.TestService/UnaryCall", "--template", #"{{next:/nonexistent/requests.jsonl}}"#, "-n", "1",
            ])
            #expect(missing.status == 64)
            #expect(missing.err.contains("{{next:/nonexistent/requests.jsonl}}: cannot read the file"), "\(missing.err)")
        }
    }

    @Test("load: a scenario mixes methods by weight, and a step ramp raises the rate each second")
    func scenarioAndRamp() throws {
        try Self.withTemporaryFile(
            "mix", extension: "json",
            contents: #"""
            {"calls": [
              {"method": "grpc.testing.TestService/EmptyCall", "weight": 3},
              {"method": "grpc.testing.TestService/UnaryCall", "weight": 1, "data": {"responseStatus": {"code": 5, "message": "gone"}}}
            ]}
            """#
        ) { file in
            let result = try Self.tongxin([
                "load", self.address, "-", "--scenario", file.path, "--ramp", "step:100:100:1", "-z", "2s", "-c", "8", "--output", "json",
            ])
            #expect(result.status == 0, "\(result.err)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
            #expect(json["calls"] as? Int == 300)
            let codes = try #require(json["statusCodes"] as? [[String: Any]])
            let notFound = codes.first { $0["code"] as? String == "NOT_FOUND" }
            #expect(notFound?["count"] as? Int == 75)
            #expect(notFound?["sample"] as? String == "gone")
            let perSecond = try #require(json["perSecond"] as? [[String: Any]])
            #expect(perSecond.compactMap { $0["calls"] as? Int } == [100, 200])
            let bad = try Self.tongxin(["load", self.address, "-", "--scenario", "/no/such/file"])
            #expect(bad.status != 0 && bad.err.contains("cannot read the file"))
        }
    }

    @Test("every command has --help with an example")
    func help() throws {
        for command in ["call", "list", "describe", "health", "load"] {
            let result = try Self.tongxin([command, "--help"])
            #expect(result.status == 0)
            #expect(result.out.contains("tongxin \(command) 127.0.0.1:50051"), "\(command)")
        }
    }
}
