/// Capabilities of berth's own process that decide what it can change live.
public enum ProcessCapabilities {
    /// CAP_SYS_RESOURCE in berth's effective set (/proc/self/status CapEff):
    /// growing a mounted ext4 image (EXT4_IOC_RESIZE_FS) and raising another
    /// process's hard RLIMIT_NOFILE need it. Root in a container (or a
    /// machine that drops it) lacks it: those changes wait for a restart.
    public static let sysResource: Bool = effectiveMask.map { $0 & (1 << 24) != 0 } ?? false

    /// The effective set, as /proc/self/status shows it (nil: unreadable).
    static var effectiveMask: UInt64? {
        guard let status = try? Syscall.readFile("/proc/self/status", limit: 1 << 16) else { return nil }
        for line in String(decoding: status, as: UTF8.self).split(separator: "\n") where line.hasPrefix("CapEff:") {
            return UInt64(line.dropFirst("CapEff:".count).trimmingPrefix(while: { $0 == " " || $0 == "\t" }), radix: 16)
        }
        return nil
    }
}
