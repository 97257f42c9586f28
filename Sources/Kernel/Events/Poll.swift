import CLinux

#if canImport(Glibc)
    import Glibc
#endif

extension Syscall {
    /// poll(2) for readability of `fds`, at most `timeoutMilliseconds` (-1:
    /// forever). Returns which of them are readable (or hung up); all false
    /// on timeout or EINTR (the caller's loop looks again).
    public static func pollReadable(_ fds: [Int32], timeoutMilliseconds: Int32) throws(SystemError) -> [Bool] {
        var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let result = entries.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), timeoutMilliseconds) }
        if result < 0 {
            if errno == EINTR { return fds.map { _ in false } }
            throw SystemError(call: "poll", errno: errno)
        }
        return entries.map { $0.revents != 0 }
    }
}

extension Syscall {
    /// malloc_trim(3): returns freed heap pages to the kernel (a long-running
    /// process's idle memory). Idempotent.
    public static func releaseFreedMemory() {
        _ = berth_malloc_trim()
    }

    /// mallopt(M_ARENA_MAX): at most `arenas` malloc arenas for the whole
    /// process, set before its threads first allocate (the agent: its idle
    /// resident memory, berth-bench reconcile and scale). Idempotent.
    public static func limitMallocArenas(_ arenas: Int32) {
        _ = berth_malloc_arena_max(arenas)
    }
}

/// CLOCK_MONOTONIC in milliseconds: deadlines that wall-clock jumps do not move.
public enum MonotonicClock {
    public static func milliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }

    public static func microseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}

/// The wall clock (CLOCK_REALTIME), for timestamps others read (metrics).
public enum WallClock {
    /// Seconds since the Unix epoch, with fractions.
    public static func seconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
