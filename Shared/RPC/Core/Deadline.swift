/// The point in time after which a call is abandoned, on the monotonic clock.
///
/// A handler sees its call's deadline in `ServerContext.deadline` and can hand it to a
/// downstream call through `CallOptions.deadline`, so the whole chain gives up together.
public struct Deadline: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The instant on `ContinuousClock`.
    public var instant: ContinuousClock.Instant

    /// A deadline at `instant`.
    public init(_ instant: ContinuousClock.Instant) {
        self.instant = instant
    }

    /// A deadline `duration` from now.
    public static func after(_ duration: Duration) -> Deadline {
        Deadline(ContinuousClock.now.advanced(by: duration))
    }

    /// Time left until the deadline; zero or negative once it has passed.
    public var remaining: Duration {
        ContinuousClock.now.duration(to: self.instant)
    }

    /// Whether the deadline has passed.
    public var hasPassed: Bool { self.remaining <= .zero }

    public static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.instant < rhs.instant }

    public var description: String { "Deadline(in \(self.remaining))" }
}

extension Duration {
    /// The whole nanoseconds of the duration, saturated at `Int64`'s range (a "forever"
    /// timeout stays far in the future instead of overflowing).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (sum, overflowed) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        guard !overflowed else { return seconds < 0 ? .min : .max }
        return sum
    }
}

/// The `grpc-timeout` header: 1 to 8 ASCII digits and a unit (H, M, S, m, u, n).
enum GRPCTimeout {
    /// Parses a header value; `nil` when it is malformed.
    static func parse(_ value: some StringProtocol) -> Duration? {
        let utf8 = value.utf8
        guard utf8.count >= 2, utf8.count <= 9 else { return nil }
        var amount: Int64 = 0
        var digits = 0
        var unit: UInt8 = 0
        for (index, byte) in utf8.enumerated() {
            if index == utf8.count - 1 {
                unit = byte
            } else {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
                digits += 1
            }
        }
        guard digits >= 1 else { return nil }
        switch unit {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// Formats a duration with the finest unit that fits in 8 digits (rounding up, so the
    /// server never sees a later deadline than the caller's). Negative durations become `1n`.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return "1n" }
        let nanos = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let maxAmount: Int64 = 99_999_999
        if !nanos.overflow {
            let total = nanos.partialValue + (attoseconds + 999_999_999) / 1_000_000_000
            for (scale, unit) in Self.units {
                let amount = (total + scale - 1) / scale
                // Both parts fit in a small (inline) string: no allocation per call.
                if amount <= maxAmount { return String(amount) + unit }
            }
        }
        return String(min(maxAmount, seconds / 3600 + 1)) + "H"
    }

    private static let units: [(Int64, String)] = [(1, "n"), (1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S"),
        (60_000_000_000, "M"), (3_600_000_000_000, "H")]
}
