import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// Project quotas, straight from the kernel: a directory tree marked with a
/// project ID (FS_IOC_FSSETXATTR, inherited by what is made under it) is
/// charged to that project, and quotactl_fd(2) sets and reads the
/// project's limits and use on any file of the filesystem (Q_SETQUOTA /
/// Q_GETQUOTA with PRJQUOTA). XFS mounted with prjquota and ext4 with the
/// project and quota features mounted with prjquota enforce them: a write
/// or a new file past a hard limit fails with EDQUOT.
public enum ProjectQuota {
    /// A project's hard limits (nil: none) and what it uses.
    public struct Usage: Sendable, Equatable {
        public var bytesLimit: UInt64?
        public var inodesLimit: UInt64?
        public var usedBytes: UInt64
        public var usedInodes: UInt64

        public init(bytesLimit: UInt64?, inodesLimit: UInt64?, usedBytes: UInt64, usedInodes: UInt64) {
            self.bytesLimit = bytesLimit
            self.inodesLimit = inodesLimit
            self.usedBytes = usedBytes
            self.usedInodes = usedInodes
        }
    }

    /// Bytes as quotactl's blocks (QIF_DQBLKSIZE, 1 KiB), rounded up so the
    /// limit is never below the bytes asked for. Inverse: `bytes(kib:)`.
    public static func kib(bytes: UInt64) -> UInt64 { bytes / 1024 + (bytes % 1024 == 0 ? 0 : 1) }

    /// quotactl's 1 KiB blocks as bytes (saturating).
    public static func bytes(kib: UInt64) -> UInt64 { kib.multipliedReportingOverflow(by: 1024).overflow ? .max : kib * 1024 }

    /// Whether the filesystem holding `path` enforces project quotas (false
    /// where it has none, or only accounts them).
    public static func isEnforced(on path: String) -> Bool { Quota.isEnforced(.project, on: path) }

    /// Q_GETQUOTA of project `id` on the filesystem holding `path`.
    public static func usage(of id: UInt32, on path: String) throws(SystemError) -> Usage {
        try Quota.usage(.project, of: id, on: path)
    }

    /// Q_SETQUOTA: project `id`'s hard limits (nil: none) on the filesystem
    /// holding `path`. Idempotent.
    public static func setLimits(bytes: UInt64?, inodes: UInt64?, of id: UInt32, on path: String) throws(SystemError) {
        try Quota.setLimits(.project, bytes: bytes, inodes: inodes, of: id, on: path)
    }

    /// The project ID of `directory` (FS_IOC_FSGETXATTR), and whether what
    /// is made under it inherits it.
    public static func project(of directory: String) throws(SystemError) -> (id: UInt32, inherits: Bool) {
        let fd = try Syscall.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { Syscall.close(fd) }
        var id: UInt32 = 0
        var inherits: Int32 = 0
        guard berth_project_get(fd, &id, &inherits) == 0 else {
            throw SystemError(call: "FS_IOC_FSGETXATTR", errno: errno, subject: directory)
        }
        return (id, inherits != 0)
    }

    /// Marks `directory` with project `id`, inherited by what is made under
    /// it (FS_IOC_FSSETXATTR with PROJINHERIT). Idempotent.
    public static func setProject(_ id: UInt32, on directory: String) throws(SystemError) {
        let fd = try Syscall.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { Syscall.close(fd) }
        guard berth_project_set(fd, id) == 0 else { throw SystemError(call: "FS_IOC_FSSETXATTR", errno: errno, subject: directory) }
    }
}
