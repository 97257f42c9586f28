import CLinux

/// Capabilities of berth's own process that decide what it can change live.
public enum ProcessCapabilities {
    /// CAP_SYS_RESOURCE in berth's effective set (/proc/self/status CapEff):
    /// growing a mounted ext4 image (EXT4_IOC_RESIZE_FS) and raising another
    /// process's hard RLIMIT_NOFILE need it. Root in a container (or a
    /// machine that drops it) lacks it: those changes wait for a restart.
    public static let sysResource: Bool = effectiveMask.map { $0 & (1 << 24) != 0 } ?? false

    /// The effective set (capget(2): what /proc/self/status shows as
    /// CapEff, without the kernel formatting the whole file and berth
    /// splitting it, 0.15 ms of every plan, apply and drift); nil when the
    /// kernel does not say.
    static var effectiveMask: UInt64? {
        var mask: UInt64 = 0
        return berth_effective_capabilities(&mask) == 0 ? mask : nil
    }
}
