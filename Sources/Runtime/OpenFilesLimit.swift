import CLinux
import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// numfile as the kernel enforces it: RLIMIT_NOFILE of the container's init,
/// soft and hard, which what it starts inherits. The shim sets it before
/// exec; a running init's is changed with prlimit(2) (root may set another
/// process's; raising its hard limit needs CAP_SYS_RESOURCE) and read back
/// the same way, as /proc/PID/limits shows it.
public enum OpenFilesLimit {
    /// Sets soft and hard to `limit`; nil gives the init berth's own limits
    /// back (what it had without numfile). Returns false, changing nothing,
    /// when that would raise the init's hard limit and berth lacks
    /// CAP_SYS_RESOURCE: the limit is then the next start's (the shim sets
    /// it before exec, below berth's own hard limit).
    @discardableResult
    public static func apply(_ limit: Int?, pid: pid_t) throws -> Bool {
        let wanted = try target(limit)
        guard raisesLive(to: wanted.hard, pid: pid) else { return false }
        guard berth_set_open_files_limit(pid, wanted.soft, wanted.hard) == 0 else {
            throw SystemError(call: "prlimit", errno: errno, subject: "RLIMIT_NOFILE of process \(pid)")
        }
        return true
    }

    /// Whether `limit` (nil: berth's own) can be given to the running init
    /// now: always with CAP_SYS_RESOURCE, else only up to its hard limit.
    public static func changesLive(to limit: Int?, pid: pid_t) -> Bool {
        guard let wanted = try? target(limit) else { return true }
        return raisesLive(to: wanted.hard, pid: pid)
    }

    static func raisesLive(to hard: UInt64, pid: pid_t) -> Bool {
        if ProcessCapabilities.sysResource { return true }
        var soft: UInt64 = 0
        var held: UInt64 = 0
        // Unreadable (the init is gone): the write says what went wrong.
        guard berth_open_files_limit(pid, &soft, &held) == 0 else { return true }
        return hard <= held
    }

    static func target(_ limit: Int?) throws -> (soft: UInt64, hard: UInt64) {
        if let limit { return (UInt64(max(0, limit)), UInt64(max(0, limit))) }
        var soft: UInt64 = 0
        var hard: UInt64 = 0
        guard berth_open_files_limit(0, &soft, &hard) == 0 else {
            throw SystemError(call: "prlimit", errno: errno, subject: "berth's RLIMIT_NOFILE")
        }
        return (soft, hard)
    }

    /// The init's soft limit ("Max open files" in /proc/PID/limits); nil
    /// when it cannot be read.
    public static func observe(pid: pid_t) -> Int? {
        var soft: UInt64 = 0
        var hard: UInt64 = 0
        guard berth_open_files_limit(pid, &soft, &hard) == 0 else { return nil }
        return Int(clamping: soft)
    }
}
