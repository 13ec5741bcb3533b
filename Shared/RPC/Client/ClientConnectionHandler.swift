import NIOCore

/// The client side of one connection: an `HTTP2Session` in client mode and its streams.
final class ClientConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let loop: any EventLoop
    let settings: HTTP2SessionSettings
    private(set) var session: HTTP2Session?
    private var context: ChannelHandlerContext?
    private var streams: [Int32: ClientStream] = [:]
    private var inReadBatch = false
    private var flushScheduled = false
    private(set) var goAwayReceived = false
    private var closed = false
    let onClose: @Sendable () -> Void

    let keepaliveInterval: TimeAmount?
    private var keepalive: RepeatedTask?

    /// Fires at the earliest deadline of the connection's calls.
    private var deadlineTimer = DeadlineTimer()

    /// The last uncompressed message framed here, and its framing: a client that sends the same
    /// request again and again (a load test, a probe) frames it once. Small messages only.
    private var lastFramed: (message: ByteBuffer, framed: ByteBuffer)?
    private static let maxRememberedMessage = 16 * 1024

    /// The constant part of each method's request headers, built once per path.
    private var presets: [String: (authority: String, headers: PresetHeaders)] = [:]
    private static let maxPresets = 256

    init(loop: any EventLoop, settings: HTTP2SessionSettings, keepaliveInterval: TimeAmount?, onClose: @escaping @Sendable () -> Void) {
        self.loop = loop
        self.settings = settings
        self.keepaliveInterval = keepaliveInterval
        self.onClose = onClose
    }

    /// Whether new calls may start here.
    var isUsable: Bool { !self.goAwayReceived && !self.closed && self.context != nil }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.allocator = context.channel.allocator
        do {
            self.session = try HTTP2Session(role: .client, settings: self.settings, allocator: context.channel.allocator)
        } catch {
            context.close(promise: nil)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.flush()
        if let interval = self.keepaliveInterval {
            // Strong self (no side table for the handler); the task is cancelled in `shutDown`.
            self.keepalive = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                self.ping()
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.shutDown()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.shutDown()
        self.context = nil
    }

    private func shutDown() {
        guard !self.closed else { return }
        self.closed = true
        self.keepalive?.cancel()
        self.deadlineTimer.cancel()
        let streams = self.streams
        self.streams.removeAll()
        for (_, stream) in streams { stream.connectionClosed() }
        self.onClose()
    }

    /// The allocator of the connection's buffers.
    private(set) var allocator = ByteBufferAllocator()

    /// The request headers of a call: the method's constant fields (cached), then the call's own.
    func requestHeaders(path: String, _ headers: RequestHeaders) -> OutboundHeaders {
        if let cached = self.presets[path], cached.authority == headers.authority {
            return OutboundHeaders(preset: cached.headers, extra: headers.extra)
        }
        let fields = RequestHeaders.constantFields(path: path, authority: headers.authority)
        guard self.presets.count < Self.maxPresets else {
            return OutboundHeaders(preset: nil, extra: fields + headers.extra)
        }
        let preset = PresetHeaders(fields, copiedBySession: true)
        self.presets[path] = (headers.authority, preset)
        return OutboundHeaders(preset: preset, extra: headers.extra)
    }

    /// `message` with its gRPC length prefix, uncompressed. The result is shared with later
    /// calls sending equal bytes; buffers are copied on write, so queuing it is safe.
    func framed(_ message: ByteBuffer) -> ByteBuffer {
        if let last = self.lastFramed, last.message == message { return last.framed }
        var out = self.allocator.buffer(capacity: 5 + message.readableBytes)
        MessageFramer.frame(message, compressed: false, into: &out)
        if message.readableBytes <= Self.maxRememberedMessage { self.lastFramed = (message, out) }
        return out
    }

    /// Makes sure the deadline timer fires by `deadline`.
    func watch(deadline: NIODeadline) {
        // Strong self, as for the keepalive: `shutDown` cancels the timer.
        self.deadlineTimer.watch(deadline, on: self.loop) {
            self.expireDeadlines()
        }
    }

    private func expireDeadlines() {
        self.deadlineTimer.fired()
        let (expired, next) = DeadlineTimer.due(self.streams.values, now: self.loop.now) { $0.deadline }
        for stream in expired {
            stream.fail(RPCError(code: .deadlineExceeded, message: "deadline exceeded"), reset: true)
        }
        if let next { self.watch(deadline: next) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func register(_ stream: ClientStream) {
        self.streams[stream.streamID] = stream
    }

    func unregister(_ stream: ClientStream) {
        if self.streams[stream.streamID] === stream {
            self.streams.removeValue(forKey: stream.streamID)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session = self.session else { return }
        self.inReadBatch = true
        do {
            try session.receive(self.unwrapInboundIn(data))
        } catch {
            session.drainEvents { self.handle($0) }
            self.flush()
            context.close(promise: nil)
            return
        }
        session.drainEvents { self.handle($0) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.inReadBatch = false
        self.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.flush() }
        context.fireChannelWritabilityChanged()
    }

    func scheduleFlush() {
        guard !self.inReadBatch, !self.flushScheduled else { return }
        self.flushScheduled = true
        self.loop.execute {
            self.flushScheduled = false
            self.flush()
        }
    }

    private func flush() {
        guard let context = self.context, let session = self.session, context.channel.isActive, context.channel.isWritable else { return }
        var out = context.channel.allocator.buffer(capacity: 0)
        let ok = session.send(into: &out)
        session.drainEvents { self.handle($0) }
        if out.readableBytes > 0 {
            context.writeAndFlush(self.wrapOutboundOut(out), promise: nil)
        }
        if !ok || !session.isAlive || (self.goAwayReceived && self.streams.isEmpty) {
            context.close(promise: nil)
        }
    }

    func ping() {
        self.session?.ping()
        self.scheduleFlush()
    }

    /// Closes the connection after telling the server.
    func close() {
        guard let context = self.context, let session = self.session else { return }
        session.submitGoAway(errorCode: HTTP2Session.noError)
        var out = context.channel.allocator.buffer(capacity: 0)
        session.send(into: &out)
        let channel = context.channel  // Sendable: the completion closes the channel, not the context
        context.writeAndFlush(self.wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
    }

    private func handle(_ event: HTTP2Event) {
        switch event {
        case .headers(let streamID, let fields, let endStream):
            self.streams[streamID]?.receiveHeaders(fields, endStream: endStream)
        case .headerListTooLarge(let streamID, _):
            self.streams[streamID]?.fail(RPCError(code: .resourceExhausted, message: "response headers are too large"), reset: true)
        case .data(let streamID, let bytes):
            if let stream = self.streams[streamID] {
                stream.receiveData(bytes)
            } else {
                self.session?.consume(streamID: streamID, bytes: bytes.readableBytes)
            }
        case .endStream(let streamID):
            self.streams[streamID]?.receiveEndWithoutTrailers()
        case .streamClosed(let streamID, let errorCode):
            self.streams.removeValue(forKey: streamID)?.closed(errorCode: errorCode)
        case .goAway:
            self.goAwayReceived = true
            self.onClose()
        case .pingAck:
            break
        case .outboundWritable(let streamID):
            self.streams[streamID]?.outboundWritable()
        }
    }
}
