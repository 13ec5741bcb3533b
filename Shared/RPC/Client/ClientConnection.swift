import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One `host:port` target: connects lazily, reconnects with exponential backoff and jitter.
final class ClientConnection: Sendable {
    enum State {
        case idle
        case connecting
        case ready(ClientConnectionHandler, any Channel)
        case transientFailure(retryAt: ContinuousClock.Instant, error: String)
    }

    let host: String
    let port: Int
    private let group: any EventLoopGroup
    private let configuration: ClientConfiguration
    private let state = NIOLockedValueBox<(state: State, attempt: Int)>((.idle, 0))

    init(host: String, port: Int, group: any EventLoopGroup, configuration: ClientConfiguration) {
        self.host = host
        self.port = port
        self.group = group
        self.configuration = configuration
    }

    /// The ready handler, if any; starts connecting when idle or when the backoff has elapsed.
    func readyHandler() -> (handler: ClientConnectionHandler?, failure: String?, connecting: Bool) {
        let (result, shouldConnect): ((ClientConnectionHandler?, String?, Bool), Bool) = self.state.withLockedValue { value in
            switch value.state {
            case .ready(let handler, _):
                return ((handler, nil, false), false)
            case .connecting:
                return ((nil, nil, true), false)
            case .idle:
                value.state = .connecting
                return ((nil, nil, true), true)
            case .transientFailure(let retryAt, let error):
                if ContinuousClock.now >= retryAt {
                    value.state = .connecting
                    return ((nil, nil, true), true)
                }
                return ((nil, error, false), false)
            }
        }
        if shouldConnect { self.connect() }
        return result
    }

    private func connect() {
        let settings = self.configuration.http2Settings
        let keepaliveInterval = self.configuration.keepaliveInterval
        let bootstrap = ClientBootstrap(group: self.group)
            .connectTimeout(self.configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The channel is named by its identity: a weak reference would slow down
                    // every retain of the channel (a side table) for the life of the connection.
                    let channelID = ObjectIdentifier(channel)
                    let handler = ClientConnectionHandler(loop: channel.eventLoop, settings: settings, keepaliveInterval: keepaliveInterval) { [weak self] in
                        self?.lost(channel: channelID)
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        bootstrap.connect(host: self.host, port: self.port).whenComplete { result in
            switch result {
            case .success(let channel):
                channel.pipeline.handler(type: ClientConnectionHandler.self).whenComplete { lookup in
                    switch lookup {
                    case .success(let handler):
                        self.state.withLockedValue { value in
                            value.state = .ready(handler, channel)
                            value.attempt = 0
                        }
                    case .failure(let error):
                        self.failed("\(error)")
                    }
                }
            case .failure(let error):
                self.failed("\(error)")
            }
        }
    }

    private func failed(_ error: String) {
        self.state.withLockedValue { value in
            let delay = self.configuration.connectionBackoff.delay(attempt: value.attempt)
            value.attempt += 1
            value.state = .transientFailure(retryAt: ContinuousClock.now.advanced(by: delay), error: error)
        }
    }

    private func lost(channel: ObjectIdentifier) {
        self.state.withLockedValue { value in
            if case .ready(_, let current) = value.state, ObjectIdentifier(current) == channel {
                value.state = .idle
            }
        }
    }

    /// Closes the connection, if open.
    func close() async {
        let channel: (any Channel)? = self.state.withLockedValue { value in
            defer { value.state = .idle }
            if case .ready(_, let channel) = value.state { return channel }
            return nil
        }
        guard let channel else { return }
        if let handler = try? await channel.pipeline.handler(type: ClientConnectionHandler.self).get() {
            channel.eventLoop.execute { handler.close() }
        }
        try? await channel.closeFuture.get()
    }
}
