#if canImport(Glibc)
    import Glibc
#endif

/// LXCFS (Debian's `lxcfs`, one host daemon for every container): a FUSE
/// filesystem whose proc/meminfo, cpuinfo, stat, uptime, loadavg, diskstats
/// and swaps answer for the cgroup of the process that reads them. Bound
/// over a container's /proc, `free` shows its memory limit, `nproc` and
/// cpuinfo its CPUs, `uptime` its own.
public struct LXCFS: Sendable, Equatable {
    /// Where Debian's lxcfs.service mounts it.
    public static let defaultDirectory = "/var/lib/lxcfs"
    /// The files bound over /proc (below `proc/` in LXCFS and in the container).
    public static let procFiles = ["meminfo", "cpuinfo", "stat", "uptime", "loadavg", "diskstats", "swaps"]
    /// The files bound over /sys when LXCFS has them (below `sys/`).
    public static let sysFiles = ["devices/system/cpu/online"]
    /// statfs(2) f_type of a FUSE filesystem (linux/magic.h FUSE_SUPER_MAGIC).
    static let fuseMagic = 0x6573_5546

    /// LXCFS's mountpoint.
    public var directory: String

    public init(directory: String = LXCFS.defaultDirectory) { self.directory = directory }

    /// Whether LXCFS is mounted there and answers: a FUSE filesystem whose
    /// proc/meminfo can be read (a dead daemon's mount answers ENOTCONN).
    public func isLive() -> Bool {
        guard (try? Syscall.filesystemType(directory)) == LXCFS.fuseMagic else { return false }
        return access(directory + "/proc/meminfo", R_OK) == 0
    }

    /// The bind mounts over the container's /proc (and /sys): those of
    /// LXCFS's files that it has (sys/devices/system/cpu/online is newer).
    public func binds() -> [ContainerLaunch.BindMount] {
        let files = LXCFS.procFiles.map { "proc/" + $0 } + LXCFS.sysFiles.map { "sys/" + $0 }
        return files.compactMap { file in
            let source = directory + "/" + file
            guard access(source, F_OK) == 0 else { return nil }
            return ContainerLaunch.BindMount(source: source, destination: "/" + file, readOnly: false, isFile: true)
        }
    }

    /// Whether a process's mountinfo (as /proc/PID/mountinfo gives it, paths
    /// from its own root) shows a FUSE file over /proc/meminfo: LXCFS's.
    public static func virtualizes(mountinfo: String) -> Bool { virtualizes(MountInfo(mountinfo)) }

    /// The same, from mountinfo split once (observe shares it with numpty's check).
    public static func virtualizes(_ mountInfo: MountInfo) -> Bool {
        mountInfo.entries.contains { $0.mountPoint == "/proc/meminfo" && ($0.type == "fuse" || $0.type.hasPrefix("fuse.")) }
    }

    /// Whether the container whose init is `pid` has LXCFS over its /proc
    /// (its /proc/PID/mountinfo, read from the host).
    public static func observe(pid: Int32) throws(SystemError) -> Bool {
        let mountinfo = try Syscall.readFile("/proc/\(pid)/mountinfo", limit: 4 << 20)
        return virtualizes(MountInfo(mountinfo))
    }
}
