import Foundation

extension Thread {
    /// Starts a thread running `body`, named `name` as `top -H`, `perf` and `/proc` show it.
    ///
    /// Foundation on Linux passes a `Thread`'s name to the system only when the name is set on
    /// the thread itself, and then not always (it compares the thread with one it records as
    /// the thread starts; one test run in five saw the writer unnamed). So the thread writes
    /// its name to `/proc/thread-self/comm`, which Linux reads as the calling thread's name
    /// (what glibc's `pthread_setname_np` does; Swift does not see that GNU function). Linux
    /// keeps no name over 15 bytes: a longer one is cut. A thread left unnamed shows its
    /// creator's name (a Swift concurrency thread's "oot.default-qos").
    static func startNamed(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let bytes = Data(name.utf8.prefix(15))
        Thread {
            // Best effort: a thread that cannot be named still runs.
            if let comm = FileHandle(forWritingAtPath: "/proc/thread-self/comm") {
                try? comm.write(contentsOf: bytes)
                try? comm.close()
            }
            body()
        }.start()
    }
}
