import Atomics
import NIOConcurrencyHelpers

/// Counts a database's commits and wakes those waiting for the next one, so a change-feed
/// watcher hears of a commit at once instead of at its next poll.
///
/// Only commits made through this process's writer are seen: another process writing the same
/// database (PostgreSQL shared by several instances) is noticed by polling, which is why a wait
/// has a timeout.
final class CommitSignal: Sendable {
    private struct State {
        var closed = false
        var nextWaiter = 0
        /// Each waiter and the task that ends its wait at the timeout (cancelled when a
        /// commit ends it first, so woken waits leave no sleeping task behind).
        var waiters: [Int: (continuation: CheckedContinuation<Bool, Never>, timer: Task<Void, Never>?)] = [:]
    }

    private let state = NIOLockedValueBox(State())
    /// Commits so far: read without the lock (every SQLite lookup on an event loop reads it),
    /// changed only under it, so a waiter registering under the lock never misses an advance.
    private let committed = ManagedAtomic(0)

    /// Commits so far.
    var generation: Int {
        self.committed.load(ordering: .acquiring)
    }

    /// Whether the database has closed (no commit will come).
    var isClosed: Bool {
        self.state.withLockedValue { $0.closed }
    }

    /// Records commits up to `generation` and wakes every waiter.
    func advance(to generation: Int) {
        self.wakeAll(returning: true) { _ in
            if generation > self.committed.load(ordering: .relaxed) {
                self.committed.store(generation, ordering: .releasing)
            }
        }
    }

    /// Wakes every waiter for good: the database is closing.
    func close() {
        self.wakeAll(returning: false) { $0.closed = true }
    }

    /// Applies `change` and takes every waiter under the lock, then resumes them with `outcome`.
    private func wakeAll(returning outcome: Bool, _ change: (inout State) -> Void) {
        let waiters = self.state.withLockedValue { state in
            change(&state)
            defer { state.waiters = [:] }
            return state.waiters
        }
        for waiter in waiters.values {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: outcome)
        }
    }

    /// Returns true once a commit after `generation` has happened (at once if one already
    /// has), false after `timeout`, on cancellation, or when the database closes.
    func wait(after generation: Int, timeout: Duration) async -> Bool {
        let id = self.state.withLockedValue { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                // Already cancelled: onCancel ran before there was a waiter to wake.
                if Task.isCancelled {
                    continuation.resume(returning: false)
                    return
                }
                let timer = Task {
                    try? await Task.sleep(for: timeout)
                    if !Task.isCancelled { self.give(up: id) }
                }
                let outcome: Bool? = self.state.withLockedValue { state in
                    if self.committed.load(ordering: .relaxed) > generation { return true }
                    if state.closed { return false }
                    state.waiters[id] = (continuation, timer)
                    return nil
                }
                if let outcome {
                    timer.cancel()
                    continuation.resume(returning: outcome)
                } else if Task.isCancelled {
                    // Cancelled while registering: onCancel may have found nothing yet.
                    self.give(up: id)
                }
            }
        } onCancel: {
            self.give(up: id)
        }
    }

    /// Resumes waiter `id` with false, if it is still waiting.
    private func give(up id: Int) {
        guard let waiter = self.state.withLockedValue({ $0.waiters.removeValue(forKey: id) }) else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume(returning: false)
    }
}
