import NIOCore

/// Per-call options of `RPCClient` calls.
public struct CallOptions: Sendable {
    /// When the call is abandoned with `DEADLINE_EXCEEDED`; sent as `grpc-timeout`.
    public var deadline: Deadline?
    /// Custom request metadata (`-bin` keys carry bytes).
    public var metadata: Metadata
    /// Compression of request messages; `identity` sends them as they are.
    public var compression: CompressionAlgorithm
    /// Wait for a connection to become ready instead of failing fast with `UNAVAILABLE`.
    public var waitForReady: Bool
    /// Whether the method is safe to retry (idempotent): only then is an `UNAVAILABLE`
    /// failure retried, with backoff, per the client's `RetryPolicy`.
    public var safeToRetry: Bool

    /// Options; by default no deadline, no metadata, no compression, fail fast, no retries.
    public init(
        deadline: Deadline? = nil, metadata: Metadata = Metadata(), compression: CompressionAlgorithm = .identity,
        waitForReady: Bool = false, safeToRetry: Bool = false
    ) {
        self.deadline = deadline
        self.metadata = metadata
        self.compression = compression
        self.waitForReady = waitForReady
        self.safeToRetry = safeToRetry
    }

    /// Options with a deadline `timeout` from now.
    public static func timeout(_ timeout: Duration) -> CallOptions {
        CallOptions(deadline: .after(timeout))
    }
}

/// Exponential backoff with jitter (gRPC `connection-backoff.md`).
public struct Backoff: Sendable {
    /// The first delay.
    public var initial: Duration
    /// The largest delay.
    public var maximum: Duration
    /// The growth factor between attempts.
    public var multiplier: Double
    /// Random spread, as a fraction of the delay (0.2 = ±20 %).
    public var jitter: Double

    /// A backoff policy.
    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(120), multiplier: Double = 1.6, jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The delay before attempt `attempt` (0-based), jittered.
    func delay(attempt: Int) -> Duration {
        var seconds = Double(self.initial.components.seconds) + Double(self.initial.components.attoseconds) / 1e18
        let maximum = Double(self.maximum.components.seconds) + Double(self.maximum.components.attoseconds) / 1e18
        for _ in 0..<min(attempt, 64) {
            seconds = min(maximum, seconds * self.multiplier)
        }
        seconds *= 1 + Double.random(in: -self.jitter...self.jitter)
        return .nanoseconds(Int64(max(0, seconds) * 1e9))
    }
}

/// How calls marked `safeToRetry` are retried after `UNAVAILABLE`.
public struct RetryPolicy: Sendable {
    /// Attempts in total, including the first.
    public var maxAttempts: Int
    /// Delays between attempts.
    public var backoff: Backoff

    /// A retry policy.
    public init(maxAttempts: Int = 3, backoff: Backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
    }
}

/// Settings of an `RPCClient`.
public struct ClientConfiguration: Sendable {
    /// Event loops used by the client's connections.
    public var eventLoopCount: Int = 1
    /// Reconnection backoff after a failed connection attempt.
    public var connectionBackoff = Backoff()
    /// Retries of `UNAVAILABLE` for calls marked `safeToRetry`.
    public var retryPolicy = RetryPolicy()
    /// The largest response message accepted (`RESOURCE_EXHAUSTED` beyond).
    public var maxReceiveMessageSize: Int = 4 * 1024 * 1024
    /// How long a connection attempt may take.
    public var connectTimeout: TimeAmount = .seconds(10)
    /// Keepalive PING interval on idle-looking connections; `nil` disables.
    public var keepaliveInterval: TimeAmount? = nil
    /// The HTTP/2 receive window per stream: the bound on unread response bytes.
    public var initialStreamWindowSize: Int32 = 1 << 20

    /// Default settings.
    public init() {}

    var http2Settings: HTTP2SessionSettings {
        var settings = HTTP2SessionSettings()
        settings.initialStreamWindowSize = self.initialStreamWindowSize
        settings.maxConcurrentStreams = 100
        return settings
    }
}
