import NIOCore

/// Limits, timeouts and interceptors of an `RPCServer`. Defaults follow gRPC's.
public struct ServerConfiguration: Sendable {
    /// The host to bind, e.g. `0.0.0.0` or `127.0.0.1`.
    public var host: String
    /// The port to bind; 0 picks a free one (see `RPCServer.start()`).
    public var port: Int
    /// Event loops (threads); one per core by default.
    public var eventLoopCount: Int
    /// The largest request message accepted; larger ones end the call with
    /// `RESOURCE_EXHAUSTED`. Default 4 MiB.
    public var maxReceiveMessageSize: Int = 4 * 1024 * 1024
    /// Concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    public var maxConcurrentStreams: UInt32 = 1000
    /// The largest request header list (SETTINGS_MAX_HEADER_LIST_SIZE); larger ones get
    /// `RESOURCE_EXHAUSTED`.
    public var maxHeaderListSize: Int = 16 * 1024
    /// The HTTP/2 receive window of each stream; the bound on unread request bytes per call.
    public var initialStreamWindowSize: Int32 = 1 << 20
    /// The HTTP/2 receive window of each connection.
    public var connectionWindowSize: Int32 = 8 << 20
    /// Interval between keepalive PINGs; `nil` disables them.
    public var keepaliveInterval: TimeAmount? = .seconds(120)
    /// How long to wait for a PING ack before closing the connection.
    public var keepaliveTimeout: TimeAmount = .seconds(20)
    /// A connection with no call for this long is closed gracefully; `nil` never.
    public var idleTimeout: TimeAmount? = .minutes(30)
    /// How long in-flight calls may run after a graceful shutdown starts.
    public var shutdownGracePeriod: TimeAmount = .seconds(10)
    /// Serve `grpc.health.v1.Health` and server reflection (v1, v1alpha) beside the router's
    /// services; on by default.
    public var standardServices = true
    /// Interceptors run around every handler, first to last.
    public var interceptors: [any ServerInterceptor] = []
    /// RST_STREAM frames tolerated from a client in a burst and per second afterwards
    /// (rapid reset, CVE-2023-44487); beyond that the connection gets GOAWAY.
    public var streamResetBurst: UInt64 = 1000
    /// See `streamResetBurst`.
    public var streamResetRate: UInt64 = 100

    /// A configuration listening on `host:port`.
    public init(host: String = "0.0.0.0", port: Int, eventLoopCount: Int = System.coreCount) {
        self.host = host
        self.port = port
        self.eventLoopCount = eventLoopCount
    }

    var http2Settings: HTTP2SessionSettings {
        var settings = HTTP2SessionSettings()
        settings.maxConcurrentStreams = self.maxConcurrentStreams
        settings.maxHeaderListSize = self.maxHeaderListSize
        settings.initialStreamWindowSize = self.initialStreamWindowSize
        settings.connectionWindowSize = self.connectionWindowSize
        settings.streamResetBurst = self.streamResetBurst
        settings.streamResetRate = self.streamResetRate
        return settings
    }
}
