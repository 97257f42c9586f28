import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One blocking job on a thread of its own while the caller goes on (a
/// container's record synced to disk while its init starts: `berth-bench
/// network`'s "one networked container" is the figure that defends it);
/// `wait` joins it and throws what it threw. Without a thread (none to be
/// had) the job runs at once, on the caller's. Processes are never forked
/// here.
public final class BackgroundThread: Sendable {
    private let job: @Sendable () throws -> Void
    private let failure = Mutex<(any Error)?>(nil)
    private let thread: Mutex<pthread_t?> = Mutex(nil)

    /// Starts `job`.
    public init(_ job: @escaping @Sendable () throws -> Void) {
        self.job = job
        if let started = try? Threads.start({ self.run() }) {
            thread.withLock { $0 = started }
        } else {
            run()
        }
    }

    private func run() {
        do { try job() } catch { failure.withLock { $0 = error } }
    }

    /// Waits for the job (once; later calls return at once) and throws its error.
    public func wait() throws {
        let joinable = thread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        if let joinable { pthread_join(joinable, nil) }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
