import ArgumentParser
import Atomics
import Foundation
import Histogram
import Model
import NIOCore
import NIOPosix
import RPC
import Synchronization

/// `tongxin load ADDR package.Service/Method`: a load test measured honestly (like ghz).
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load-test a method and report throughput, latency percentiles and status codes.",
        discussion: """
            Closed loop by default: -c workers each send the next call when the last one ends. \
            With --rps the load is open loop: calls are due at a constant rate and each latency is \
            measured from the moment the call was due, so a slow server cannot hide its queueing \
            (no coordinated omission); -c then caps the calls in flight.

            The request is -d JSON (encoded once) or a --template whose strings may hold \
            {{seq}} (a call counter), {{uuid}}, {{rand:MIN:MAX}} (an integer) and {{pick:a|b|c}}, \
            rendered for every call; {{line:FILE}} is a random line of FILE, e.g. a member id \
            written by `tongxin seed --export DIR`, and {{next:FILE}} the next line of FILE, each \
            once and in order, e.g. a whole request of `tongxin seed --export DIR --export-creates N`. \
            A file never wraps around (a create sent twice would be an idempotent replay, not a \
            create): a run of -n calls, or an open-loop run with -z, that needs more lines than \
            the file has is refused before it starts, and any other run stops when the lines run \
            out and says so. \
            An open-loop run with -z, or a closed-loop run of -n calls without --warmup, renders \
            every call's template before its clock starts, so the rendering is not counted in the \
            latencies or held against the throughput.

            Examples:
              tongxin load 127.0.0.1:50051 grpc.testing.TestService/UnaryCall -d '{"responseSize":10}' -c 50 -z 10s
              tongxin load 127.0.0.1:50051 tongxin.registry.v1.RegistryService/GetRegion \\
                --template '{"code":"4201{{pick:02|03|04|05|06}}"}' --rps 5000 -z 30s --output html --out report.html
              tongxin load 127.0.0.1:50051 tongxin.registry.v1.RegistryService/CreateMember \
                --template '{{next:seed/create-requests.jsonl}}' -c 64 -n 100000
              tongxin load 127.0.0.1:50051 - --scenario mix.json --ramp line:100:5000 -z 60s
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The method, as package.Service/Method.")
    var method: String

    @Option(name: .shortAndLong, help: "The request as JSON (default {}).")
    var data: String?

    @Option(help: "A request template rendered per call ({{seq}}, {{uuid}}, {{rand:MIN:MAX}}, {{pick:a|b}}, {{line:FILE}}, {{next:FILE}}).")
    var template: String?

    @Option(name: .customShort("H"), help: "Metadata sent with every call, as 'key: value' (repeatable; a -bin key takes base64).")
    var header: [String] = []

    @Option(name: .customShort("c"), help: "Concurrent calls (workers).")
    var concurrency: Int = 10

    @Option(help: "HTTP/2 connections the workers share.")
    var connections: Int = 1

    @Option(help: "Event loop threads driving the connections (default: the cores this process may run on, at most --connections).")
    var threads: Int?

    @Option(name: .customShort("n"), help: "Stop after this many calls (after warm-up).")
    var total: Int?

    @Option(name: .customShort("z"), help: "Stop after this long, e.g. 10s (default 10s unless -n is given).")
    var duration: String?

    @Option(help: "Run this long first without recording, e.g. 2s.")
    var warmup: String = "0s"

    @Option(help: "Open loop: calls per second, due at a constant rate.")
    var rps: Double?

    @Option(help: "Open loop with a rising rate: line:FROM:TO (calls/s, linear over -z) or step:FROM:STEP:EVERY (add STEP calls/s every EVERY seconds).")
    var ramp: String?

    @Option(help: "A JSON file mixing methods by weight: {\"calls\": [{\"method\": \"pkg.Svc/M\", \"weight\": 70, \"data\": {…}} or \"template\": \"…\"]}. Replaces the method argument (give - for it).")
    var scenario: String?

    @Option(help: "Output: text, json, csv (per-second series) or html (a self-contained report).")
    var output: String = "text"

    @Option(help: "Write the report to this file instead of standard output.")
    var out: String?

    func validate() throws {
        guard self.concurrency > 0 else { throw ValidationError("-c must be at least 1") }
        guard self.connections > 0 else { throw ValidationError("--connections must be at least 1") }
        if let threads = self.threads, threads <= 0 { throw ValidationError("--threads must be at least 1") }
        if let total = self.total, total <= 0 { throw ValidationError("-n must be at least 1") }
        if let rps = self.rps, rps <= 0 { throw ValidationError("--rps must be positive") }
        guard ["text", "json", "csv", "html"].contains(self.output) else {
            throw ValidationError("--output \(self.output): expected text, json, csv or html")
        }
        if self.data != nil && self.template != nil { throw ValidationError("give -d or --template, not both") }
        if self.rps != nil && self.ramp != nil { throw ValidationError("give --rps or --ramp, not both") }
        if let ramp = self.ramp, RateSchedule(ramp: ramp) == nil {
            throw ValidationError("--ramp \(ramp): expected line:FROM:TO or step:FROM:STEP:EVERY with positive numbers")
        }
        if self.ramp != nil && self.duration == nil { throw ValidationError("--ramp needs -z, the length of the ramp") }
    }

    func run() async throws {
        let steps = try self.loadSteps()
        guard let warmup = DurationText.parse(self.warmup) ?? (self.warmup == "0s" ? .zero : nil) else {
            throw Failure.usage("--warmup \(self.warmup): expected e.g. 2s")
        }
        var limit: Duration? = nil
        if let duration = self.duration {
            guard let parsed = DurationText.parse(duration) else { throw Failure.usage("-z \(duration): expected e.g. 10s") }
            limit = parsed
        } else if self.total == nil {
            limit = .seconds(10)
        }
        // One client (one connection per target) per --connections, spread over the threads'
        // event loops. Each worker keeps to one client and runs on its loop, like an h2load
        // client: no thread hop per call, and the calls a worker starts when a batch of
        // responses arrives on a connection go out together on that connection.
        let timeout = try self.connection.timeout()
        let metadata = try Metadata.parse(headers: self.header)
        let threads = min(self.connections, self.threads ?? AvailableCores.count)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let loops = Array(group.makeIterator())
        let clients: [RPCClient]
        do {
            clients = try (0..<self.connections).map { try self.connection.client(eventLoopGroup: loops[$0 % loops.count]) }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }

        let schedule = self.rps.map { RateSchedule.constant($0) } ?? self.ramp.flatMap { RateSchedule(ramp: $0) }
        var plan = LoadPlan(
            steps: steps, concurrency: self.concurrency, total: self.total,
            duration: limit, warmup: warmup, schedule: schedule, timeout: timeout, metadata: metadata)
        try plan.checkLines()
        plan.prepareRequests(progress: isatty(2) == 1)
        let result = await LoadRunner(plan: plan, clients: clients, threads: loops.count).run(progress: isatty(2) == 1)
        for client in clients { await client.close() }
        try? await group.shutdownGracefully()
        if let ranOut = result.ranOut {
            FileHandle.standardError.write(Data("warning: stopped early: \(ranOut)\n".utf8))
        }
        let name = steps.count == 1 ? steps[0].path : "scenario \(self.scenario ?? "")"
        let report = LoadReport(result: result, method: name, address: self.connection.address, plan: plan)
        let text: String
        switch self.output {
        case "json": text = report.json()
        case "csv": text = report.csv()
        case "html": text = report.html()
        default: text = report.text()
        }
        if let out = self.out {
            guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else {
                throw Failure.usage("--out \(out): cannot write the file")
            }
        } else {
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
        if result.ok == 0 && result.total > 0 { throw ExitCode(1) }
    }
}

extension LoadCommand {
    /// The method to call, or the weighted mix of a `--scenario` file.
    func loadSteps() throws -> [LoadStep] {
        func step(_ method: String, data: String?, template: String?, weight: Int) throws -> LoadStep {
            let path = method.hasPrefix("/") ? method : "/" + method
            guard let descriptor = DescriptorPool.services.flatMap(\.methods).first(where: { $0.path == path }) else {
                throw Failure.usage("unknown method \(method); `tongxin list ADDR` shows the services")
            }
            do {
                let source = try RequestSource(json: data, template: template, messageType: descriptor.inputType)
                return LoadStep(path: path, kind: descriptor.kind, source: source, weight: weight)
            } catch let error as ProtoJSONError {
                throw Failure.usage("request for \(descriptor.name) (\(descriptor.inputType)): \(error.description)")
            } catch let error as TemplateError {
                throw Failure.usage("--template: \(error.message)")
            }
        }
        guard let scenario = self.scenario else {
            return [try step(self.method, data: self.data, template: self.template, weight: 1)]
        }
        guard let contents = FileManager.default.contents(atPath: scenario) else {
            throw Failure.usage("--scenario \(scenario): cannot read the file")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: contents, as: UTF8.self)) } catch {
            throw Failure.usage("--scenario \(scenario): \(error.description)")
        }
        guard case .object(let top) = json, case .array(let calls)? = top.first(where: { $0.0 == "calls" })?.1, !calls.isEmpty else {
            throw Failure.usage("--scenario \(scenario): expected {\"calls\": [{\"method\": …, \"weight\": …, \"data\": …}, …]}")
        }
        var steps: [LoadStep] = []
        for (i, call) in calls.enumerated() {
            guard case .object(let fields) = call, case .string(let method)? = fields.first(where: { $0.0 == "method" })?.1 else {
                throw Failure.usage("--scenario \(scenario): calls[\(i)] needs a \"method\"")
            }
            var weight = 1
            if let w = fields.first(where: { $0.0 == "weight" })?.1 {
                guard case .number(let text) = w, let value = Int(text), value > 0 else {
                    throw Failure.usage("--scenario \(scenario): calls[\(i)].weight must be a positive integer")
                }
                weight = value
            }
            let data = fields.first(where: { $0.0 == "data" })?.1.text
            var template: String? = nil
            if case .string(let t)? = fields.first(where: { $0.0 == "template" })?.1 { template = t }
            steps.append(try step(method, data: data, template: template, weight: weight))
        }
        return steps
    }
}

/// One method of a run and its share of the calls.
struct LoadStep: Sendable {
    let path: String
    let kind: StreamingKind
    let source: RequestSource
    let weight: Int
}

/// When the n-th call of an open-loop run is due.
enum RateSchedule: Sendable {
    /// `rate` calls per second throughout.
    case constant(Double)
    /// From `from` to `to` calls per second, linearly over the run.
    case line(from: Double, to: Double)
    /// `from` calls per second, `step` more every `every` seconds.
    case step(from: Double, step: Double, every: Double)

    init?(ramp: String) {
        let parts = ramp.split(separator: ":").map(String.init)
        let numbers = parts.dropFirst().compactMap(Double.init)
        guard numbers.count == parts.count - 1, numbers.allSatisfy({ $0 > 0 }) else { return nil }
        switch (parts.first, numbers.count) {
        case ("line", 2): self = .line(from: numbers[0], to: numbers[1])
        case ("step", 3): self = .step(from: numbers[0], step: numbers[1], every: numbers[2])
        default: return nil
        }
    }

    /// Calls due in the first `t` seconds of a run lasting `length` seconds.
    func due(by t: Double, length: Double) -> Double {
        switch self {
        case .constant(let rate): return rate * t
        case .line(let a, let b): return a * t + (b - a) * t * t / (2 * max(length, 1e-9))
        case .step(let a, let step, let every):
            let whole = (t / every).rounded(.down)
            // Sum of the finished steps plus the part of the current one.
            return every * (a * whole + step * whole * (whole - 1) / 2) + (a + step * whole) * (t - whole * every)
        }
    }

    /// Seconds from the start at which call `n` (from 0) is due: the inverse of `due(by:)`.
    func time(ofCall n: Int, length: Double) -> Double {
        if case .constant(let rate) = self { return Double(n) / rate }
        var low = 0.0, high = max(length, 1)
        while self.due(by: high, length: length) < Double(n) { high *= 2 }
        for _ in 0..<60 {
            let mid = (low + high) / 2
            if self.due(by: mid, length: length) < Double(n) { low = mid } else { high = mid }
        }
        return high
    }
}

/// Where each call's request bytes come from: one fixed encoding, or a template rendered per call.
struct RequestSource: Sendable {
    let fixed: ByteBuffer?
    let template: RequestTemplate?
    let messageType: String

    init(json: String?, template: String?, messageType: String) throws {
        self.messageType = messageType
        if let template {
            let compiled = try RequestTemplate(template)
            self.template = compiled
            self.fixed = nil
            // Render once now so a broken template fails before the run, with the field named.
            _ = try ProtoJSON.serializedBytes(fromJSON: compiled.render(sequence: 0), messageType: messageType)
        } else {
            self.template = nil
            self.fixed = ByteBuffer(bytes: try ProtoJSON.serializedBytes(fromJSON: json ?? "{}", messageType: messageType))
        }
    }

    /// The request of call number `sequence`.
    func request(_ sequence: Int) -> ByteBuffer {
        if let fixed = self.fixed { return fixed }
        let text = self.template?.render(sequence: sequence) ?? "{}"
        return ByteBuffer(bytes: (try? ProtoJSON.serializedBytes(fromJSON: text, messageType: self.messageType)) ?? [])
    }
}

/// A request template, parsed once: `{{seq}}`, `{{uuid}}`, `{{rand:MIN:MAX}}`, `{{pick:a|b}}`,
/// `{{line:FILE}}` (a random line of FILE, e.g. the member ids `tongxin seed --export` wrote)
/// and `{{next:FILE}}` (line number `sequence` of FILE: every line once, in order, e.g. the
/// requests of `tongxin seed --export-creates`). Anything else between braces stays as written.
/// Files are read when the template is parsed, so a call only appends strings.
/// A `{{next:FILE}}` never wraps around: ``lineLimit`` says how many calls the template can
/// render, and the run stops there (see ``LoadPlan/checkLines()``).
struct RequestTemplate: Sendable {
    enum Part: Sendable {
        case literal(String)
        case sequence
        case uuid
        case random(ClosedRange<Int>)
        case pick([String])
        case randomLine([String])
        case nextLine([String])
    }

    let parts: [Part]
    /// The calls this template can render when it reads a file line by line (`{{next:FILE}}`):
    /// the lines of its shortest such file, and that file.
    let lineLimit: (count: Int, file: String)?

    /// - Throws: ``TemplateError`` when a `{{line:FILE}}` or `{{next:FILE}}` file cannot be read
    ///   or has no lines.
    init(_ template: String) throws {
        var parts: [Part] = []
        var lineLimit: (count: Int, file: String)? = nil
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            parts.append(.literal(String(rest[..<open.lowerBound])))
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                parts.append(.literal(String(rest[open.lowerBound...])))
                rest = rest[rest.endIndex...]
                break
            }
            let token = rest[open.upperBound..<close.lowerBound]
            let fields = token.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            switch fields.first {
            case "seq": parts.append(.sequence)
            case "uuid": parts.append(.uuid)
            case "rand" where fields.count == 3:
                let low = Int(fields[1]) ?? 0
                parts.append(.random(low...max(low, Int(fields[2]) ?? low)))
            case "line" where fields.count >= 2:
                parts.append(.randomLine(try LineFiles.shared.lines(String(token.dropFirst(5)), token: "line")))
            case "next" where fields.count >= 2:
                let file = String(token.dropFirst(5))
                let lines = try LineFiles.shared.lines(file, token: "next")
                parts.append(.nextLine(lines))
                if lines.count < lineLimit?.count ?? .max { lineLimit = (lines.count, file) }
            case "pick" where fields.count >= 2:
                parts.append(.pick(token.dropFirst(5).split(separator: "|").map(String.init)))
            default:
                parts.append(.literal("{{" + token + "}}"))
            }
            rest = rest[close.upperBound...]
        }
        parts.append(.literal(String(rest)))
        self.parts = parts.filter { if case .literal("") = $0 { return false } else { return true } }
        self.lineLimit = lineLimit
    }

    /// The text of call number `sequence`.
    func render(sequence: Int) -> String {
        var out = ""
        for part in self.parts {
            switch part {
            case .literal(let text): out += text
            case .sequence: out += String(sequence)
            case .uuid: out += UUID().uuidString.lowercased()
            case .random(let range): out += String(Int.random(in: range))
            case .pick(let choices): out += choices.randomElement() ?? ""
            case .randomLine(let lines): out += lines.randomElement() ?? ""
            // Past the last line (never sent: the run stops at ``lineLimit``) renders nothing.
            case .nextLine(let lines): out += sequence < lines.count ? lines[sequence] : ""
            }
        }
        return out
    }
}

/// What to run.
struct LoadPlan: Sendable {
    let steps: [LoadStep]
    let concurrency: Int
    let total: Int?
    let duration: Duration?
    let warmup: Duration
    let schedule: RateSchedule?
    let timeout: Duration
    /// Sent with every call (`-H`).
    let metadata: Metadata

    let totalWeight: Int

    /// The request of every call, rendered before the run starts (see ``prepareRequests(progress:)``);
    /// nil when rendered per call.
    private(set) var prepared: [ByteBuffer]? = nil

    /// The most requests ``prepareRequests(progress:)`` renders ahead.
    static let maximumPrepared = 4_000_000
    /// The most request bytes it keeps (a whole CreateMember is ~400): the calls past them
    /// render per call.
    static let maximumPreparedBytes = 512 << 20

    init(
        steps: [LoadStep], concurrency: Int, total: Int?, duration: Duration?, warmup: Duration, schedule: RateSchedule?,
        timeout: Duration, metadata: Metadata = Metadata()
    ) {
        self.metadata = metadata
        self.steps = steps
        self.concurrency = concurrency
        self.total = total
        self.duration = duration
        self.warmup = warmup
        self.schedule = schedule
        self.timeout = timeout
        self.totalWeight = steps.reduce(0) { $0 + $1.weight }
    }

    /// Renders the request of every call before the run starts, when the calls can be counted
    /// in advance: an open-loop run's (rate × (warm-up + duration)) and a closed-loop run's of
    /// -n calls without a warm-up (the -n calls and the one each worker may draw before it
    /// sees the count reached). Rendering a template and encoding its JSON is the generator's
    /// work, not the server's: ~6 µs a call for a short request, tens of µs for a whole
    /// CreateMember, on the one core the generator has. Open loop, that was time the calls
    /// spent waiting, counted as the server's latency; closed loop, it held the next call
    /// back (at 64 workers creating members the generator's core was three quarters busy).
    /// Any other run, or one of more than ``maximumPrepared`` calls, renders per call (and a
    /// call past the prepared ones, too).
    /// With `progress`, says on standard error how many requests it renders when that may take
    /// a while.
    mutating func prepareRequests(progress: Bool = false) {
        guard let count = self.requestsToPrepare else { return }
        if progress && count >= 100_000 {
            FileHandle.standardError.write(Data("rendering \(count) requests before the run…\n".utf8))
        }
        var prepared: [ByteBuffer] = []
        prepared.reserveCapacity(count)
        var bytes = 0
        for sequence in 0..<count where bytes < Self.maximumPreparedBytes {
            let request = self.step(sequence).source.request(sequence)
            bytes += request.readableBytes
            prepared.append(request)
        }
        self.prepared = prepared
    }

    /// The calls the run can make before a `{{next:FILE}}` runs out of lines (warm-up included):
    /// the fewest over the steps, and the file; nil when no template reads a file line by line.
    var lineLimit: (count: Int, file: String)? {
        self.steps.compactMap { $0.source.template?.lineLimit }.min { $0.count < $1.count }
    }

    /// Refuses a run whose calls can be counted in advance (-n without a warm-up, or open loop
    /// with -z) when they need more lines of a `{{next:FILE}}` than it has: each line is sent
    /// once, and a run cut short would not be the run asked for.
    /// - Throws: ``Failure/usage(_:)`` naming the file, its lines and the calls needed.
    func checkLines() throws {
        guard let limit = self.lineLimit else { return }
        if let due = self.openLoopCalls {
            // The calls sent are those due before the end: ⌈due⌉ of them.
            if due > Double(limit.count) * (1 + 1e-9) {
                throw Failure.usage(
                    "{{next:\(limit.file)}} has \(limit.count) lines, each sent once, but this open-loop run sends \(Int(due.rounded(.up))) calls: lower the rate or -z, or export more lines")
            }
        } else if self.schedule == nil, let total = self.total, self.warmup == .zero, total > limit.count {
            throw Failure.usage("{{next:\(limit.file)}} has \(limit.count) lines, each sent once, but -n asks for \(total) calls: lower -n or export more lines")
        }
    }

    /// How many requests ``prepareRequests(progress:)`` renders ahead; nil when it renders none.
    var requestsToPrepare: Int? {
        guard let count = self.requestsAhead else { return nil }
        return min(count, self.lineLimit?.count ?? .max)
    }

    /// The calls a run can be counted to make in advance (see ``prepareRequests(progress:)``).
    private var requestsAhead: Int? {
        guard self.steps.contains(where: { $0.source.template != nil }) else { return nil }
        if let due = self.openLoopCalls {
            guard due.isFinite, due < Double(Self.maximumPrepared) else { return nil }
            return Int(due.rounded(.up)) + 1
        }
        if self.schedule == nil, let total = self.total, self.warmup == .zero {
            guard total < Self.maximumPrepared - self.concurrency else { return nil }
            return total + self.concurrency
        }
        return nil
    }

    /// The calls an open-loop run with -z makes, warm-up included (fractional: ⌈this⌉ are
    /// sent); nil for any other run.
    private var openLoopCalls: Double? {
        guard let schedule = self.schedule, let duration = self.duration else { return nil }
        return schedule.due(by: (duration + self.warmup) / .seconds(1), length: self.scheduleLength)
    }

    /// The seconds a rate schedule spans (a ramp's length): the measured duration.
    var scheduleLength: Double {
        Double((self.duration ?? .zero).nanoseconds) / 1e9
    }

    /// The request of call `sequence`: prepared, or rendered now.
    func request(_ sequence: Int) -> ByteBuffer {
        if let prepared = self.prepared, sequence < prepared.count {
            return prepared[sequence]
        }
        return self.step(sequence).source.request(sequence)
    }

    /// The step of call `sequence`: weights interleaved deterministically.
    func step(_ sequence: Int) -> LoadStep {
        if self.steps.count == 1 { return self.steps[0] }
        var slot = (sequence &* 7919) % self.totalWeight
        for step in self.steps {
            if slot < step.weight { return step }
            slot -= step.weight
        }
        return self.steps[0]
    }
}

/// What the workers of one thread saw; merged at the end.
struct WorkerTally: Sendable {
    /// One second of the run: calls, errors, latency sum and max (µs).
    typealias Second = (count: Int, errors: Int, sum: UInt64, max: UInt64)

    var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    /// Calls and a sample message per status code, indexed by the code's number.
    private var codeCounts = [(count: Int, sample: String)](repeating: (0, ""), count: Status.Code.allCases.count)
    /// Per second since the start of measurement, indexed by the second.
    private var perSecond: [Second] = []

    /// Calls and a sample message per status code that occurred.
    var codes: [Status.Code: (count: Int, sample: String)] {
        var codes: [Status.Code: (count: Int, sample: String)] = [:]
        for code in Status.Code.allCases where self.codeCounts[code.rawValue].count > 0 {
            codes[code] = self.codeCounts[code.rawValue]
        }
        return codes
    }

    /// Per second since the start of measurement, for the seconds that had calls.
    var seconds: [Int: Second] {
        var seconds: [Int: Second] = [:]
        for (second, bucket) in self.perSecond.enumerated() where bucket.count > 0 {
            seconds[second] = bucket
        }
        return seconds
    }

    mutating func record(latency: Duration, code: Status.Code, message: String, second: Int) {
        let micros = UInt64(max(1, latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000))
        _ = self.histogram.record(min(micros, 120_000_000))
        if self.codeCounts[code.rawValue].count == 0 { self.codeCounts[code.rawValue].sample = message }
        self.codeCounts[code.rawValue].count += 1
        self.add((1, code == .ok ? 0 : 1, micros, micros), at: second)
    }

    private mutating func add(_ value: Second, at second: Int) {
        guard second >= 0 else { return }
        while self.perSecond.count <= second { self.perSecond.append((0, 0, 0, 0)) }
        let existing = self.perSecond[second]
        self.perSecond[second] = (existing.count + value.count, existing.errors + value.errors, existing.sum + value.sum, max(existing.max, value.max))
    }

    mutating func merge(_ other: WorkerTally) {
        self.histogram.add(other.histogram)
        for index in other.codeCounts.indices where other.codeCounts[index].count > 0 {
            if self.codeCounts[index].count == 0 { self.codeCounts[index].sample = other.codeCounts[index].sample }
            self.codeCounts[index].count += other.codeCounts[index].count
        }
        for (second, value) in other.perSecond.enumerated() where value.count > 0 {
            self.add(value, at: second)
        }
    }
}

/// The tally of the workers that share one thread.
final class SharedTally: Sendable {
    let mutex = Mutex(WorkerTally())
}

/// The cores this process may run on (its CPU affinity, e.g. under `taskset`), so a load
/// generator confined to one core does not run more event loops than it has cores.
enum AvailableCores {
    static var count: Int {
        // Linux: the `Cpus_allowed` mask in /proc/self/status, hex in comma-separated groups.
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
        {
            let bits = line.dropFirst("Cpus_allowed:".count).unicodeScalars.reduce(0) { count, scalar in
                count + (Int(String(scalar), radix: 16)?.nonzeroBitCount ?? 0)
            }
            if bits > 0 { return bits }
        }
        return System.coreCount
    }
}

/// The merged outcome of a run.
struct LoadResult: Sendable {
    var tally: WorkerTally
    var elapsed: Duration
    /// Why the run ended before its -n or -z: a `{{next:FILE}}` used up its lines.
    var ranOut: String? = nil
    var total: Int { Int(self.tally.histogram.totalCount) }
    var ok: Int { self.tally.codes[.ok]?.count ?? 0 }
}

/// Runs the workers.
struct LoadRunner: Sendable {
    let plan: LoadPlan
    /// Client `i` runs on event loop `i % threads`.
    let clients: [RPCClient]
    let threads: Int

    func run(progress: Bool) async -> LoadResult {
        let issued = ManagedAtomic<Int>(0)
        let completed = ManagedAtomic<Int>(0)
        let reserved = ManagedAtomic<Int>(0)
        let ranOut = ManagedAtomic<Bool>(false)
        let lineLimit = self.plan.lineLimit
        let clock = ContinuousClock()
        let start = clock.now
        let measureFrom = start + self.plan.warmup
        let stopAt = self.plan.duration.map { measureFrom + $0 }
        let plan = self.plan
        let clients = self.clients

        let reporter: Task<Void, Never>? = progress ? Task.detached {
            var last = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let now = completed.load(ordering: .relaxed)
                let seconds = (clock.now - start).components.seconds
                FileHandle.standardError.write(Data("\r[\(seconds)s] \(now) calls, \(now - last)/s   ".utf8))
                last = now
            }
        } : nil

        // One tally per thread: the workers there share it, so the lock is uncontended, and one
        // histogram per thread stays in cache where one per worker (~1 MB each) would not.
        let tallies = (0..<self.threads).map { _ in SharedTally() }
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<plan.concurrency {
                let client = clients[worker % clients.count]
                let tally = tallies[(worker % clients.count) % tallies.count]
                // On the client's event loop: no thread hop per call.
                group.addTask(executorPreference: client.taskExecutor) {
                    while true {
                        let sequence = issued.loadThenWrappingIncrement(ordering: .relaxed)
                        // Each line of a {{next:FILE}} once: the run ends when they are used up.
                        if let lineLimit, sequence >= lineLimit.count {
                            ranOut.store(true, ordering: .relaxed)
                            break
                        }
                        let began: ContinuousClock.Instant
                        if let schedule = plan.schedule {
                            let offset = schedule.time(ofCall: sequence, length: plan.scheduleLength)
                            let due = measureFrom + .nanoseconds(Int64(offset * 1e9)) - plan.warmup
                            if let stopAt, due >= stopAt { break }
                            // On the loop's own timer: `Task.sleep` fires on another thread and
                            // hops back, which cost ~50 µs of this core per call and made the
                            // generator, not the server, the bottleneck at 20k calls/s. The timer
                            // must not fire late either: that would count as the server's
                            // latency, since it is measured from `due`.
                            // Wake-ups are rounded up to a grid of `timerGrid` from the start, so
                            // the calls due within one step wake the loop once (the rounding is
                            // counted in their latency).
                            let sinceStart = (due - start).nanoseconds
                            let wake = (sinceStart + Self.timerGrid - 1) / Self.timerGrid * Self.timerGrid
                            let wait = wake - (clock.now - start).nanoseconds
                            if wait > 0 {
                                try? await client.eventLoop.scheduleTask(in: .nanoseconds(wait)) {}.futureResult.get()
                            }
                            began = due
                        } else {
                            began = clock.now
                        }
                        if let stopAt, began >= stopAt { break }
                        let measured = began >= measureFrom
                        // Reserve one of the -n measured calls before sending, so in-flight calls never overshoot.
                        if measured, let total = plan.total, reserved.loadThenWrappingIncrement(ordering: .relaxed) >= total { break }
                        let (code, message) = await Self.call(client, plan, sequence)
                        let end = clock.now
                        if measured {
                            let second = Int((began - measureFrom).components.seconds)
                            tally.mutex.withLock { $0.record(latency: end - began, code: code, message: message, second: second) }
                            completed.wrappingIncrement(ordering: .relaxed)
                        }
                        if Task.isCancelled { break }
                    }
                }
            }
        }
        var tally = WorkerTally()
        for shared in tallies { shared.mutex.withLock { tally.merge($0) } }
        reporter?.cancel()
        if progress { FileHandle.standardError.write(Data("\r".utf8)) }
        var result = LoadResult(tally: tally, elapsed: clock.now - measureFrom)
        // A worker that drew a sequence past the last line while the -n calls were being
        // finished by others did not cut the run short.
        if let lineLimit, ranOut.load(ordering: .relaxed), result.total < plan.total ?? .max {
            result.ranOut = "the \(lineLimit.count) lines of \(lineLimit.file) ran out (each is sent once, warm-up included)"
        }
        return result
    }

    /// The step of open-loop wake-ups, in nanoseconds (see `run`): at 35k calls/s on one core,
    /// 25 µs gave p99 2.3 ms against 3.0 ms with a wake-up per call; 100 µs bunched the calls
    /// enough to queue them at the server (4.3 ms).
    static let timerGrid: Int64 = 25_000

    nonisolated(nonsending) private static func call(_ client: RPCClient, _ plan: LoadPlan, _ sequence: Int) async -> (Status.Code, String) {
        var options = CallOptions(deadline: .after(plan.timeout))
        options.metadata = plan.metadata
        let step = plan.step(sequence)
        let request = plan.request(sequence)
        do {
            switch step.kind {
            case .unary:
                _ = try await client.unaryRaw(path: step.path, request, options: options)
            case .serverStreaming:
                let call = try await client.serverStreamingRaw(path: step.path, request, options: options)
                while try await call.receive() != nil {}
            case .clientStreaming, .bidirectionalStreaming:
                let call = try await client.streamRaw(path: step.path, options: options)
                try await call.send(request)
                try await call.closeSend()
                while try await call.receive() != nil {}
            }
            return (.ok, "")
        } catch {
            return (error.code, error.message)
        }
    }
}

/// A template that cannot be used, said for the user.
struct TemplateError: Error {
    let message: String
}

/// Files whose lines templates pick from, read once.
final class LineFiles: Sendable {
    static let shared = LineFiles()
    private let files = Mutex<[String: [String]]>([:])

    /// The lines of the file at `path` (empty lines skipped).
    /// - Throws: ``TemplateError`` naming `{{token:path}}` when the file cannot be read or has no lines.
    func lines(_ path: String, token: String) throws(TemplateError) -> [String] {
        let lines = self.files.withLock { files -> [String]? in
            if let lines = files[path] { return lines }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            let lines = text.split(whereSeparator: \.isNewline).map(String.init)
            files[path] = lines
            return lines
        }
        guard let lines else { throw TemplateError(message: "{{\(token):\(path)}}: cannot read the file") }
        guard !lines.isEmpty else { throw TemplateError(message: "{{\(token):\(path)}}: the file has no lines") }
        return lines
    }
}
