import Logging
import Metrics
import RPC

/// A server interceptor that makes every call visible: a counter by method and status code,
/// a latency timer by method, and one log line per call (failures at `info`, successes at
/// `debug`, so `--log-level debug` is an access log without slowing the default).
public struct CallObserver: ServerInterceptor {
    private let logger: Logger

    /// Observes calls, logging with `logger`.
    public init(logger: Logger) {
        self.logger = logger
    }

    public func intercept(
        _ request: ServerRequestHead, context: ServerContext,
        next: @Sendable (ServerRequestHead, ServerContext) async throws -> Void
    ) async throws {
        let start = ContinuousClock.now
        var code = Status.Code.ok
        var message = ""
        defer {
            let elapsed = ContinuousClock.now - start
            let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
            Counter(label: "tongxin_rpc_calls_total", dimensions: [("method", request.path), ("code", code.description)]).increment()
            Timer(label: "tongxin_rpc_duration_seconds", dimensions: [("method", request.path)]).recordNanoseconds(nanoseconds)
            var metadata: Logger.Metadata = [
                "method": "\(request.path)", "code": "\(code)", "duration_ms": "\(Double(nanoseconds) / 1e6)",
                "peer": "\(context.peer)",
            ]
            if let caller = request.metadata.first("x-caller") { metadata["caller"] = "\(caller)" }
            if !message.isEmpty { metadata["error"] = "\(message)" }
            self.logger.log(level: code == .ok ? .debug : .info, "rpc", metadata: metadata)
        }
        do {
            try await next(request, context)
        } catch let error as RPCError {
            code = error.code
            message = error.message
            throw error
        } catch is CancellationError {
            code = .cancelled
            throw CancellationError()
        } catch {
            code = .internal
            message = "\(error)"
            throw error
        }
    }
}
