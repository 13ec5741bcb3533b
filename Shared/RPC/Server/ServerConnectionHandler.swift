import Logging
import NIOCore

/// One server connection: feeds received bytes to the connection's `HTTP2Session`, turns its
/// events into call actions, and writes nghttp2's output once per read batch.
final class ServerConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let configuration: ServerConfiguration
    let router: Router
    let interceptors: [any ServerInterceptor]
    let logger: Logger
    private(set) var session: HTTP2Session?
    private(set) var executor: EventLoopTaskExecutor!
    private(set) var allocator = ByteBufferAllocator()
    private(set) var peer = ""
    private(set) var eventLoop: (any EventLoop)?
    private var context: ChannelHandlerContext?
    private var calls: [Int32: ServerCall] = [:]
    private var inReadBatch = false
    private var flushScheduled = false
    private var closing = false
    private var draining = false
    private var finalGoAwaySent = false
    private var lastRoute: (path: String, handler: RawHandler)?
    private var idleTimer: Scheduled<Void>?
    private var idleSince = NIODeadline.now()
    private var keepaliveTask: RepeatedTask?
    private var pingTimeout: Scheduled<Void>?
    /// Fires at the earliest deadline of the connection's calls.
    private var deadlineTimer = DeadlineTimer()
    private let registry: ConnectionRegistry

    init(configuration: ServerConfiguration, router: Router, logger: Logger, registry: ConnectionRegistry) {
        self.configuration = configuration
        self.router = router
        self.interceptors = configuration.interceptors
        self.logger = logger
        self.registry = registry
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.allocator = context.channel.allocator
        self.executor = EventLoopTaskExecutor(loop: context.eventLoop)
        self.eventLoop = context.eventLoop
        self.peer = context.channel.remoteAddress?.description ?? ""
        do {
            self.session = try HTTP2Session(role: .server, settings: self.configuration.http2Settings, allocator: self.allocator)
        } catch {
            self.logger.error("could not create an HTTP/2 session", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        self.registry.add(self)
        if context.channel.isActive {
            self.channelActive(context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        guard self.keepaliveTask == nil, !self.closing else { return }
        self.flush()
        self.armIdleTimer()
        if let interval = self.configuration.keepaliveInterval {
            self.keepaliveTask = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
                self?.sendKeepalivePing()
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.teardown()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.teardown()
        context.fireChannelInactive()
    }

    private func teardown() {
        self.closing = true
        self.idleTimer?.cancel()
        self.keepaliveTask?.cancel()
        self.pingTimeout?.cancel()
        self.deadlineTimer.cancel()
        let calls = self.calls
        self.calls.removeAll()
        for (_, call) in calls {
            call.closed(errorCode: HTTP2Session.cancel)
        }
        self.registry.remove(self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session = self.session, !self.closing else { return }
        self.inReadBatch = true
        let bytes = self.unwrapInboundIn(data)
        do {
            try session.receive(bytes)
        } catch {
            self.logger.debug("closing connection", metadata: ["peer": "\(self.peer)", "error": "\(error.message)"])
            session.drainEvents { self.handle($0) }
            self.closeAfterFlush()
            return
        }
        session.drainEvents { self.handle($0) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.inReadBatch = false
        self.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.flush()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("connection error", metadata: ["peer": "\(self.peer)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Output

    /// Asks for a write of nghttp2's output soon; batched with everything else in this loop tick.
    func scheduleFlush() {
        guard !self.inReadBatch, !self.flushScheduled, let context = self.context else { return }
        self.flushScheduled = true
        context.eventLoop.execute {
            self.flushScheduled = false
            self.flush()
        }
    }

    private func flush() {
        guard let context = self.context, let session = self.session, context.channel.isWritable || self.closing else { return }
        session.drainEvents { self.handle($0) }
        var out = self.allocator.buffer(capacity: 0)
        let ok = session.send(into: &out)
        session.drainEvents { self.handle($0) }
        if out.readableBytes > 0 {
            context.writeAndFlush(self.wrapOutboundOut(out), promise: nil)
        }
        if !ok || !session.isAlive {
            self.closing = true
            context.close(promise: nil)
        } else if self.draining && self.finalGoAwaySent && self.calls.isEmpty {
            self.finishDrain()
        }
    }

    private func closeAfterFlush() {
        guard let context = self.context, let session = self.session else { return }
        self.closing = true
        var out = self.allocator.buffer(capacity: 0)
        session.send(into: &out)
        if out.readableBytes > 0 {
            let channel = context.channel  // Sendable: the completion closes the channel, not the context
            context.writeAndFlush(self.wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    // MARK: Events

    private func handle(_ event: HTTP2Event) {
        guard let session = self.session else { return }
        switch event {
        case .headers(let streamID, let fields, let endStream):
            if let call = self.calls[streamID] {
                // Request trailers: only their END_STREAM matters.
                if endStream { call.receiveEnd() }
                return
            }
            self.openCall(streamID: streamID, fields: fields, endStream: endStream)
        case .headerListTooLarge(let streamID, _):
            if self.calls[streamID] == nil {
                self.respondTrailersOnly(streamID: streamID, status: Status(code: .resourceExhausted,
                    message: "request headers are larger than the limit of \(self.configuration.maxHeaderListSize) bytes"))
            }
        case .data(let streamID, let bytes):
            if let call = self.calls[streamID] {
                call.receiveData(bytes)
            } else {
                session.consume(streamID: streamID, bytes: bytes.readableBytes)
            }
        case .endStream(let streamID):
            self.calls[streamID]?.receiveEnd()
        case .streamClosed(let streamID, let errorCode):
            if let call = self.calls.removeValue(forKey: streamID) {
                call.closed(errorCode: errorCode)
                if self.calls.isEmpty { self.idleSince = .now() }
            }
        case .goAway:
            break  // The client stops opening streams; running calls finish normally.
        case .pingAck:
            self.pingTimeout?.cancel()
            self.pingTimeout = nil
        case .outboundWritable(let streamID):
            self.calls[streamID]?.outboundWritable()
        }
    }

    private func openCall(streamID: Int32, fields: HeaderFields, endStream: Bool) {
        if self.draining {
            self.session?.resetStream(streamID: streamID, errorCode: HTTP2Session.refusedStream)
            return
        }
        switch RequestHead.parse(fields) {
        case .failure(.http(let status, let grpcStatus)):
            var headers: HeaderFields = [(":status", status), ("content-type", "application/grpc"), ("grpc-status", grpcStatus.code.wireValue)]
            headers.append(("grpc-message", PercentEncoding.encode(grpcStatus.message)))
            self.session?.submitResponse(streamID: streamID, headers: OutboundHeaders(preset: nil, extra: headers), endStream: true)
        case .failure(.grpc(let status)):
            self.respondTrailersOnly(streamID: streamID, status: status)
        case .success(let head):
            let handler: RawHandler?
            if let cached = self.lastRoute, cached.path == head.path {
                // Paths are interned by the session, so this comparison is a pointer check.
                handler = cached.handler
            } else {
                handler = self.router.handlers[head.path]
                if let handler { self.lastRoute = (head.path, handler) }
            }
            guard let handler else {
                self.respondTrailersOnly(streamID: streamID, status: Status(code: .unimplemented, message: "Method not found: \(head.path)"))
                return
            }
            let call = ServerCall(streamID: streamID, head: head, handler: handler, connection: self,
                loop: self.context!.eventLoop, maxMessageSize: self.configuration.maxReceiveMessageSize)
            self.calls[streamID] = call
            call.start()
            if endStream { call.receiveEnd() }
        }
    }

    /// Makes sure the deadline timer fires by `deadline` (a call's, from `grpc-timeout`).
    func watch(deadline: NIODeadline) {
        guard let loop = self.eventLoop, !self.closing else { return }
        // Strong self: `teardown` cancels the timer.
        self.deadlineTimer.watch(deadline, on: loop) {
            self.expireDeadlines()
        }
    }

    private func expireDeadlines() {
        self.deadlineTimer.fired()
        guard let loop = self.eventLoop else { return }
        let (expired, next) = DeadlineTimer.due(self.calls.values, now: loop.now) { $0.deadlineInstant }
        for call in expired { call.deadlineExceeded() }
        if let next { self.watch(deadline: next) }
    }

    private func respondTrailersOnly(streamID: Int32, status: Status) {
        var headers: HeaderFields = [("grpc-status", status.code.wireValue)]
        if !status.message.isEmpty {
            headers.append(("grpc-message", PercentEncoding.encode(status.message)))
        }
        self.session?.submitResponse(streamID: streamID, headers: OutboundHeaders(preset: ServerPresets.trailersOnlyPrefix, extra: headers), endStream: true)
    }

    func logError(_ error: any Error, path: String) {
        self.logger.error("handler failed", metadata: ["path": "\(path)", "error": "\(error)"])
    }

    // MARK: Connection management

    /// One timer per connection, re-armed only when it fires: a per-call cancel and
    /// reschedule would cost a timer-heap update on every request burst.
    private func armIdleTimer() {
        guard let timeout = self.configuration.idleTimeout, let context = self.context, !self.closing else { return }
        self.idleSince = .now()
        self.idleTimer?.cancel()
        self.idleTimer = context.eventLoop.scheduleTask(in: timeout) { [weak self] in
            self?.idleTimerFired()
        }
    }

    private func idleTimerFired() {
        guard let timeout = self.configuration.idleTimeout, let context = self.context, !self.closing else { return }
        let idleFor = NIODeadline.now() - self.idleSince
        if self.calls.isEmpty && idleFor >= timeout {
            self.initiateGracefulShutdown()
            return
        }
        let remaining = self.calls.isEmpty ? timeout - idleFor : timeout
        self.idleTimer = context.eventLoop.scheduleTask(in: remaining) { [weak self] in
            self?.idleTimerFired()
        }
    }

    private func sendKeepalivePing() {
        guard let context = self.context, let session = self.session, !self.closing else { return }
        session.ping()
        self.flush()
        if self.pingTimeout == nil {
            self.pingTimeout = context.eventLoop.scheduleTask(in: self.configuration.keepaliveTimeout) { [weak self] in
                guard let self else { return }
                self.logger.debug("keepalive timeout", metadata: ["peer": "\(self.peer)"])
                self.session?.submitGoAway(errorCode: HTTP2Session.noError)
                self.closeAfterFlush()
            }
        }
    }

    /// Starts a graceful shutdown: GOAWAY now, running calls finish, then the connection
    /// closes; after `gracePeriod` whatever is left is closed.
    func initiateGracefulShutdown() {
        guard !self.draining, !self.closing, let context = self.context, let session = self.session else { return }
        self.draining = true
        session.submitShutdownNotice()
        self.flush()
        // One round trip later, the final GOAWAY names the last stream actually processed.
        context.eventLoop.scheduleTask(in: .milliseconds(100)) { [weak self] in
            guard let self, !self.closing else { return }
            self.session?.submitGoAway(errorCode: HTTP2Session.noError)
            self.finalGoAwaySent = true
            self.flush()
        }
        context.eventLoop.scheduleTask(in: self.configuration.shutdownGracePeriod) { [weak self] in
            guard let self, !self.closing else { return }
            self.closeAfterFlush()
        }
    }

    private func finishDrain() {
        guard !self.closing else { return }
        self.closeAfterFlush()
    }
}
