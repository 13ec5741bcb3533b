import Model
import Synchronization

/// `grpc.health.v1.Health`: the serving status of the server ("") and of each service, for
/// load balancers, container health checks and `tongxin health`.
///
/// `Check` answers NOT_FOUND for a service it does not know; `Watch` streams the current status
/// at once and then every change, and answers SERVICE_UNKNOWN (not an error) for an unknown
/// service, as the protocol asks.
public final class HealthService: Sendable {
    public typealias ServingStatus = GRPCHealthV1.HealthCheckResponse.ServingStatus

    private struct State {
        var statuses: [String: ServingStatus] = [:]
        var watchers: [String: [Int: AsyncStream<ServingStatus>.Continuation]] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())

    /// A health service where the server ("") and `services` are SERVING.
    public init(services: [String] = []) {
        self.state.withLock { state in
            state.statuses[""] = .serving
            for service in services { state.statuses[service] = .serving }
        }
    }

    /// Sets the status of `service` ("" for the whole server) and tells its watchers.
    public func setStatus(_ status: ServingStatus, for service: String = "") {
        let watchers = self.state.withLock { state -> [AsyncStream<ServingStatus>.Continuation] in
            state.statuses[service] = status
            return Array(state.watchers[service, default: [:]].values)
        }
        for watcher in watchers { watcher.yield(status) }
    }

    /// Sets every known service, and the server, to `status` (e.g. NOT_SERVING on shutdown).
    public func setAll(_ status: ServingStatus) {
        let services = self.state.withLock { Array($0.statuses.keys) }
        for service in services { self.setStatus(status, for: service) }
    }

    /// The status of `service`, or nil when it is unknown.
    public func status(of service: String) -> ServingStatus? {
        self.state.withLock { $0.statuses[service] }
    }

    /// Registers Check and Watch on `router`.
    public func register(into router: inout Router) {
        router.register(GRPCHealthV1.Health.Check.self) { request, _ in
            guard let status = self.status(of: request.service) else {
                throw RPCError(code: .notFound, message: "unknown service \(request.service)")
            }
            return GRPCHealthV1.HealthCheckResponse(status: status)
        }
        router.register(GRPCHealthV1.Health.Watch.self) { request, _, writer in
            let (stream, id) = self.watch(request.service)
            defer { self.unwatch(request.service, id) }
            for await status in stream {
                try await writer.write(GRPCHealthV1.HealthCheckResponse(status: status))
            }
        }
    }

    private func watch(_ service: String) -> (AsyncStream<ServingStatus>, Int) {
        let (stream, continuation) = AsyncStream.makeStream(of: ServingStatus.self, bufferingPolicy: .bufferingNewest(1))
        let id = self.state.withLock { state -> Int in
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[service, default: [:]][id] = continuation
            continuation.yield(state.statuses[service] ?? .serviceUnknown)
            return id
        }
        return (stream, id)
    }

    private func unwatch(_ service: String, _ id: Int) {
        let continuation = self.state.withLock { $0.watchers[service]?.removeValue(forKey: id) }
        continuation?.finish()
    }
}
