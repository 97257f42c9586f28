import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A bounded set of threads for independent blocking work (container
/// creates and deletes of one apply): the kernel does most of that work and
/// waits in it (namespaces, cgroups, netlink), so several run at once.
/// Threads, not Swift tasks: each body blocks in system calls. Processes
/// are never forked here (a container's clone and set-up are in the C shim).
public enum WorkerPool {
    /// The default width: twice the CPUs berth may run on (a create spends
    /// about half its time waiting in the kernel); `berth-bench scale` is
    /// the figure that defends it.
    public static var defaultWidth: Int {
        max(2, 2 * max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Runs `body(index)` for every index in 0..<count, at most `width` at
    /// once (the calling thread is one of them), in index order of start;
    /// returns once every body returned.
    public static func run(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard count > 0 else { return }
        let work = Work(count: count, body: body)
        var threads: [pthread_t] = []
        for _ in 1..<max(1, min(width, count)) {
            // No more threads: the ones there (and this one) do the rest.
            guard let thread = try? Threads.start({ work.drain() }) else { break }
            threads.append(thread)
        }
        work.drain()
        for thread in threads { pthread_join(thread, nil) }
    }

    /// `body(index)` for every index in 0..<count, run as `run` runs it;
    /// the results in index order. The indices are taken in runs, about
    /// eight for each worker: a lock for each run, not each index (a body
    /// of a few microseconds, the init check of a container, otherwise
    /// queues the workers on the locks).
    public static func map<Result: Sendable>(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Result) -> [Result] {
        let results = Results<Result>(count: count)
        let length = max(1, count / (max(1, width) * 8))
        run((count + length - 1) / length, width: width) { run in
            let indices = (run * length)..<min(count, (run + 1) * length)
            let values = indices.map(body)
            // Indexed, not zip(indices, values): its iterator's generic
            // metadata is made at first use (0.2 ms of a command's start).
            results.slots.withLock { slots in
                for offset in values.indices { slots[indices.lowerBound + offset] = values[offset] }
            }
        }
        return results.slots.withLock { $0.compactMap { $0 } }
    }

    /// The results by position, under one lock.
    private final class Results<Result: Sendable>: Sendable {
        let slots: Mutex<[Result?]>
        init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }
    }

    private final class Work: Sendable {
        let count: Int
        let body: @Sendable (Int) -> Void
        let next = Mutex(0)

        init(count: Int, body: @escaping @Sendable (Int) -> Void) {
            self.count = count
            self.body = body
        }

        func drain() {
            while true {
                let index = next.withLock { next in
                    defer { next += 1 }
                    return next
                }
                guard index < count else { return }
                body(index)
            }
        }
    }
}
