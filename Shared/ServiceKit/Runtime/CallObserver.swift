import Logging
import Metrics
import NIOConcurrencyHelpers
import RPC

/// A server interceptor that makes every call visible: a counter by method and status code,
/// a latency timer by method, and one log line per call (failures at `info`, successes at
/// `debug`, so `--log-level debug` is an access log without slowing the default).
public struct CallObserver: ServerInterceptor {
    private let logger: Logger
    private let instruments = Instruments()

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
            let nanoseconds = (ContinuousClock.now - start).nanoseconds
            let (calls, timer) = self.instruments.forCall(request.path, code)
            calls.increment()
            timer.recordNanoseconds(nanoseconds)
            let level: Logger.Level = code == .ok ? .debug : .info
            if self.logger.logLevel <= level {
                var metadata: Logger.Metadata = [
                    "method": "\(request.path)", "code": "\(code)", "duration_ms": "\(Double(nanoseconds) / 1e6)",
                    "peer": "\(context.peer)",
                ]
                if let caller = request.metadata.first("x-tongxin-user") { metadata["caller"] = "\(caller)" }
                if !message.isEmpty { metadata["error"] = "\(message)" }
                self.logger.log(level: level, "rpc", metadata: metadata)
            }
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

/// The call counters and timers, made once per method and code rather than per call (each
/// make is a registry lookup under a lock).
private final class Instruments: Sendable {
    private struct Key: Hashable {
        var path: String
        var code: Status.Code
    }

    private let made = NIOLockedValueBox<[Key: (Counter, Timer)]>([:])

    func forCall(_ path: String, _ code: Status.Code) -> (Counter, Timer) {
        // Paths nobody serves are one series, so random paths cannot grow the metrics.
        let path = code == .unimplemented ? "unimplemented" : path
        let key = Key(path: path, code: code)
        return self.made.withLockedValue { made in
            if let instruments = made[key] {
                return instruments
            }
            let instruments = (
                Counter(label: "tongxin_rpc_calls_total", dimensions: [("method", path), ("code", code.description)]),
                Timer(label: "tongxin_rpc_duration_seconds", dimensions: [("method", path)])
            )
            made[key] = instruments
            return instruments
        }
    }
}
