import Foundation
import Model
import RPC

/// The results of a load run in each output format.
struct LoadReport {
    let result: LoadResult
    let method: String
    let address: String
    let plan: LoadPlan

    static let percentiles: [(String, Double)] = [("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)]

    var seconds: Double { Double(self.result.elapsed.components.seconds) + Double(self.result.elapsed.components.attoseconds) / 1e18 }
    var rate: Double { self.seconds > 0 ? Double(self.result.total) / self.seconds : 0 }

    /// Latency in milliseconds at each percentile, then max and mean.
    var latencies: [(String, Double)] {
        let h = self.result.tally.histogram
        guard h.totalCount > 0 else { return [] }
        return Self.percentiles.map { ($0.0, Double(h.valueAtPercentile($0.1)) / 1000) }
            + [("max", Double(h.max) / 1000), ("mean", h.mean / 1000)]
    }

    var codes: [(Status.Code, Int, String)] {
        self.result.tally.codes.map { ($0.key, $0.value.count, $0.value.sample) }.sorted { $0.1 > $1.1 }
    }

    var series: [(second: Int, count: Int, errors: Int, meanMs: Double, maxMs: Double)] {
        let seconds = self.result.tally.seconds
        return seconds.keys.sorted().map { second in
            let b = seconds[second]!
            return (second, b.count, b.errors, b.count > 0 ? Double(b.sum) / Double(b.count) / 1000 : 0, Double(b.max) / 1000)
        }
    }

    static func describe(_ schedule: RateSchedule) -> String {
        switch schedule {
        case .constant(let rate): return "at \(Int(rate)) calls/s"
        case .line(let a, let b): return "ramping \(Int(a)) → \(Int(b)) calls/s"
        case .step(let a, let step, let every): return "from \(Int(a)) calls/s, +\(Int(step)) every \(every) s"
        }
    }

    static func ms(_ value: Double) -> String { String(format: "%.3f", value) }

    func text() -> String {
        var out = "Load test of \(self.method) at \(self.address)\n"
        let mode = self.plan.schedule.map { "open loop \(Self.describe($0)), at most \(self.plan.concurrency) in flight" }
            ?? "closed loop, \(self.plan.concurrency) concurrent"
        out += "  \(mode)\n\n"
        out += "Summary:\n"
        out += "  Calls:     \(self.result.total) in \(String(format: "%.2f", self.seconds)) s\n"
        out += "  Rate:      \(String(format: "%.1f", self.rate)) calls/s\n"
        out += "  OK:        \(self.result.ok)   errors: \(self.result.total - self.result.ok)\n"
        if let ranOut = self.result.ranOut { out += "  Stopped:   early, \(ranOut)\n" }
        out += "\n"
        if !self.latencies.isEmpty {
            out += "Latency (ms):\n"
            for (name, value) in self.latencies { out += "  \(name.padding(toLength: 6, withPad: " ", startingAt: 0)) \(Self.ms(value))\n" }
            out += "\n"
        }
        out += "Status codes:\n"
        for (code, count, sample) in self.codes {
            out += "  \(code.description.padding(toLength: 20, withPad: " ", startingAt: 0)) \(count)"
            if !sample.isEmpty { out += "   e.g. \"\(sample.prefix(120))\"" }
            out += "\n"
        }
        return out
    }

    func json() -> String {
        var members: [(String, JSONValue)] = [
            ("method", .string(self.method)), ("address", .string(self.address)),
            ("concurrency", .number(String(self.plan.concurrency))),
            ("schedule", self.plan.schedule.map { .string(Self.describe($0)) } ?? .null),
            ("calls", .number(String(self.result.total))), ("ok", .number(String(self.result.ok))),
            ("seconds", .number(String(format: "%.3f", self.seconds))), ("rate", .number(String(format: "%.1f", self.rate))),
            ("stoppedEarly", self.result.ranOut.map { .string($0) } ?? .null),
        ]
        members.append(("latencyMs", .object(self.latencies.map { ($0.0, .number(Self.ms($0.1))) })))
        members.append(("statusCodes", .array(self.codes.map { code, count, sample in
            .object([("code", .string(code.description)), ("count", .number(String(count))), ("sample", .string(sample))])
        })))
        members.append(("perSecond", .array(self.series.map { s in
            .object([("second", .number(String(s.second))), ("calls", .number(String(s.count))), ("errors", .number(String(s.errors))),
                     ("meanMs", .number(Self.ms(s.meanMs))), ("maxMs", .number(Self.ms(s.maxMs)))])
        })))
        return JSONValue.object(members).prettyText + "\n"
    }

    func csv() -> String {
        var out = "second,calls,errors,mean_ms,max_ms\n"
        for s in self.series { out += "\(s.second),\(s.count),\(s.errors),\(Self.ms(s.meanMs)),\(Self.ms(s.maxMs))\n" }
        return out
    }

    /// One self-contained page: the summary, latency over time and a latency distribution,
    /// drawn as inline SVG (no scripts, nothing from the network).
    func html() -> String {
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        let series = self.series
        let width = 720.0, height = 240.0, pad = 40.0
        let maxY = max(0.001, series.map(\.maxMs).max() ?? 1)
        let maxX = Double(max(1, (series.last?.second ?? 0)))
        func point(_ second: Int, _ value: Double) -> String {
            String(format: "%.1f,%.1f", pad + Double(second) / maxX * (width - 2 * pad), height - pad - value / maxY * (height - 2 * pad))
        }
        let meanLine = series.map { point($0.second, $0.meanMs) }.joined(separator: " ")
        let maxLine = series.map { point($0.second, $0.maxMs) }.joined(separator: " ")
        var timeChart = "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(width))' height='\(Int(height))'>"
        timeChart += "<rect width='100%' height='100%' fill='#fff' stroke='#ccc'/>"
        timeChart += "<polyline fill='none' stroke='#d33' stroke-width='1.5' points='\(maxLine)'/>"
        timeChart += "<polyline fill='none' stroke='#36c' stroke-width='2' points='\(meanLine)'/>"
        timeChart += "<text x='\(pad)' y='20' font-size='12'>latency per second (ms): mean (blue), max (red); top \(Self.ms(maxY)) ms; \(series.count) s</text></svg>"

        let bars = self.latencies.filter { $0.0 != "mean" }
        let barMax = max(0.001, bars.map(\.1).max() ?? 1)
        var histogram = "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(width))' height='\(Int(height))'>"
        histogram += "<rect width='100%' height='100%' fill='#fff' stroke='#ccc'/>"
        for (i, (name, value)) in bars.enumerated() {
            let barWidth = (width - 2 * pad) / Double(max(1, bars.count)) * 0.7
            let x = pad + Double(i) * (width - 2 * pad) / Double(max(1, bars.count))
            let h = value / barMax * (height - 2 * pad)
            histogram += String(format: "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#36c'/>", x, height - pad - h, barWidth, h)
            histogram += String(format: "<text x='%.1f' y='%.1f' font-size='12'>%@ %@ ms</text>", x, height - pad + 16, name, Self.ms(value))
        }
        histogram += "<text x='\(pad)' y='20' font-size='12'>latency distribution (ms)</text></svg>"

        var rows = ""
        for (code, count, sample) in self.codes {
            rows += "<tr><td>\(code)</td><td>\(count)</td><td>\(escape(String(sample.prefix(200))))</td></tr>"
        }
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>tongxin load: \(escape(self.method))</title>
            <style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:left}</style></head>
            <body><h1>Load test of \(escape(self.method))</h1>
            <p>\(escape(self.address)) · \(self.plan.schedule.map { "open loop \(Self.describe($0))" } ?? "closed loop") · \(self.plan.concurrency) concurrent</p>
            <pre>\(escape(self.text()))</pre>
            <h2>Latency over time</h2>\(timeChart)
            <h2>Latency distribution</h2>\(histogram)
            <h2>Status codes</h2><table><tr><th>code</th><th>calls</th><th>sample message</th></tr>\(rows)</table>
            </body></html>

            """
    }
}
