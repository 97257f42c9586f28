import CLinux
import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// numfile as the kernel enforces it: RLIMIT_NOFILE of the container's init,
/// soft and hard, which what it starts inherits. The shim sets it before
/// exec; a running init's is changed with prlimit(2) (root may set another
/// process's) and read back the same way, as /proc/PID/limits shows it.
public enum OpenFilesLimit {
    /// Sets soft and hard to `limit`; nil gives the init berth's own limits
    /// back (what it had without numfile).
    public static func apply(_ limit: Int?, pid: pid_t) throws {
        var soft: UInt64 = 0
        var hard: UInt64 = 0
        if let limit {
            soft = UInt64(max(0, limit))
            hard = soft
        } else if berth_open_files_limit(0, &soft, &hard) != 0 {
            throw SystemError(call: "prlimit", errno: errno, subject: "berth's RLIMIT_NOFILE")
        }
        guard berth_set_open_files_limit(pid, soft, hard) == 0 else {
            throw SystemError(call: "prlimit", errno: errno, subject: "RLIMIT_NOFILE of process \(pid)")
        }
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
