import CLinux
import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// numpty (OpenVZ's pseudo-terminal beancounter): the `max=` of the
/// container's own devpts instance. The shim mounts it with the limit; a
/// running container's is changed live by reconfiguring that mount from
/// outside (fspick and fsconfig, as a remount inside would), and read back
/// from its init's mountinfo.
public enum PseudoTerminalLimit {
    /// NR_UNIX98_PTY_MAX: devpts' own ceiling, what no `max=` means.
    static let ceiling = 1 << 20

    /// Sets the limit of the devpts on /dev/pts inside the root of `pid`
    /// (resolved in that root: a symlink there never leads out of it); nil
    /// gives the kernel's ceiling back.
    public static func apply(_ limit: Int?, pid: pid_t) throws {
        let rootfd = try Syscall.open("/proc/\(pid)/root", O_RDONLY | O_DIRECTORY)
        defer { Syscall.close(rootfd) }
        let fd = try RootTree.openat2InRoot(rootfd, "/dev/pts")
        defer { Syscall.close(fd) }
        // EMEDIUMTYPE: what is there is not a devpts (a container's own mount over it).
        guard berth_devpts_set_max(fd, Int32(clamping: limit ?? ceiling)) == 0 else {
            throw SystemError(call: "fsconfig", errno: errno, subject: "max= of the devpts on /dev/pts of process \(pid)")
        }
    }

    /// The limit its init's mountinfo shows; nil when none (or unreadable).
    public static func observe(pid: pid_t) -> Int? {
        guard let mountinfo = try? Syscall.readFile("/proc/\(pid)/mountinfo", limit: 1 << 20) else { return nil }
        return ContainerLaunch.pseudoTerminalLimit(MountInfo(mountinfo))
    }
}
