import NIOCore

/// One timer per connection, armed for the earliest deadline of its calls, instead of a
/// scheduled task per call (an allocation, a promise and a heap insertion and removal each):
/// calls that end in time cost nothing here. When it fires, the owner fails the calls whose
/// deadline has passed and arms it again for the earliest one left. Used on the loop only.
struct DeadlineTimer {
    private var scheduled: Scheduled<Void>?
    private var firesAt: NIODeadline?

    /// The instant `timeout` from now in `loop`'s time (virtual time on an embedded loop).
    static func deadline(after timeout: Duration, on loop: any EventLoop) -> NIODeadline {
        let nanoseconds = timeout.nanoseconds
        guard nanoseconds < .max else { return .distantFuture }
        return loop.now + .nanoseconds(max(0, nanoseconds))
    }

    /// Makes sure the timer fires by `deadline`; `fire` runs on `loop` when it does.
    mutating func watch(_ deadline: NIODeadline, on loop: any EventLoop, fire: @escaping @Sendable () -> Void) {
        if let firesAt = self.firesAt, firesAt <= deadline { return }
        self.scheduled?.cancel()
        self.firesAt = deadline
        self.scheduled = loop.scheduleTask(deadline: deadline, fire)
    }

    /// The calls among `calls` whose deadline is `now` or earlier, and the earliest deadline
    /// of the others (where to arm the timer next).
    static func due<Call>(_ calls: some Sequence<Call>, now: NIODeadline, deadline: (Call) -> NIODeadline?) -> (expired: [Call], next: NIODeadline?) {
        var expired: [Call] = []
        var next: NIODeadline?
        for call in calls {
            guard let instant = deadline(call) else { continue }
            if instant <= now {
                expired.append(call)
            } else if next.map({ instant < $0 }) ?? true {
                next = instant
            }
        }
        return (expired, next)
    }

    /// Call first thing when the timer fired: it is no longer armed.
    mutating func fired() {
        self.scheduled = nil
        self.firesAt = nil
    }

    /// Disarms the timer (the connection closed).
    mutating func cancel() {
        self.scheduled?.cancel()
        self.fired()
    }
}
