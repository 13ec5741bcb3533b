import Synchronization

/// A dependency that becomes available after start-up (a database after its migrations):
/// handlers ask for it and get UNAVAILABLE until it is set, so a service can listen, answer
/// health checks with NOT_SERVING and become ready without restarting.
public final class Eventually<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    private let what: String

    /// An empty slot; `what` names it in the UNAVAILABLE message.
    public init(_ what: String) {
        self.what = what
    }

    /// Fills the slot.
    public func set(_ value: Value) {
        self.value.withLock { $0 = value }
    }

    /// The value. - Throws: `ServiceError.unavailable` until it is set.
    public func get() throws(ServiceError) -> Value {
        guard let value = self.value.withLock({ $0 }) else {
            throw .unavailable(reason: "\(self.what) is not ready yet; retry with backoff")
        }
        return value
    }
}
