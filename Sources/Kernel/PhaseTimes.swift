import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where the time of one berth command goes, for `berth-bench network`'s
/// breakdown of a one-container apply: with `BERTH_PHASE_TIMES=FILE` set,
/// each `mark` keeps its name and the monotonic clock (CLOCK_MONOTONIC,
/// nanoseconds: the bench reads the same clock when it spawns berth), and
/// `flush` appends them to FILE as `NAME NANOSECONDS` lines. Unset, a mark
/// costs one comparison.
public enum PhaseTimes {
    static let file: String? = {
        guard let value = getenv("BERTH_PHASE_TIMES") else { return nil }
        return String(cString: value)
    }()
    static let marks = Mutex<[(String, UInt64)]>([])

    /// CLOCK_MONOTONIC in nanoseconds.
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Notes that the phase `name` ended now (only with BERTH_PHASE_TIMES).
    public static func mark(_ name: String) {
        guard file != nil else { return }
        let time = now()
        marks.withLock { $0.append((name, time)) }
    }

    /// Appends the marks so far to BERTH_PHASE_TIMES's file (best effort:
    /// a benchmark aid, never an error of the command).
    public static func flush() {
        guard let file else { return }
        let text = marks.withLock { marks in
            defer { marks.removeAll() }
            return marks.map { "\($0.0) \($0.1)\n" }.joined()
        }
        let fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = try? Syscall.writeAll(fd, Array(text.utf8), subject: file)
    }
}
