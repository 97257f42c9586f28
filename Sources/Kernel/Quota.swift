import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// Filesystem quotas of any type, straight from the kernel: quotactl_fd(2)
/// on a file of the filesystem sets and reads one ID's hard limits and use
/// (Q_SETQUOTA, Q_GETQUOTA), lists every ID that has one (Q_GETNEXTQUOTA)
/// and says whether a type is enforced (Q_XGETQSTATV). Project quotas are
/// the first level of a container's disk quota (ProjectQuota); user and
/// group quotas on its disk image are the second (resources.disk.userQuota).
public enum Quota {
    /// The quota types (USRQUOTA, GRPQUOTA, PRJQUOTA).
    public enum Kind: Int32, Sendable, Equatable, Codable, CaseIterable {
        case user = 0
        case group = 1
        case project = 2

        public var name: String {
            switch self {
            case .user: return "user"
            case .group: return "group"
            case .project: return "project"
            }
        }
    }

    /// One ID's quota as a listing holds it.
    public struct Entry: Sendable, Equatable {
        public var kind: Kind
        public var id: UInt32
        public var usage: ProjectQuota.Usage

        public init(kind: Kind, id: UInt32, usage: ProjectQuota.Usage) {
            self.kind = kind
            self.id = id
            self.usage = usage
        }
    }

    static func usage(_ quota: berth_quota) -> ProjectQuota.Usage {
        ProjectQuota.Usage(
            bytesLimit: quota.block_hard_kib == 0 ? nil : ProjectQuota.bytes(kib: quota.block_hard_kib),
            inodesLimit: quota.inode_hard == 0 ? nil : quota.inode_hard, usedBytes: quota.space_bytes, usedInodes: quota.inodes)
    }

    /// Whether the filesystem holding `path` accounts and enforces quotas
    /// of `kind` (false where it has none, or only accounts them).
    public static func isEnforced(_ kind: Kind, on path: String) -> Bool {
        guard let fd = try? Syscall.open(path, O_RDONLY | O_CLOEXEC) else { return false }
        defer { Syscall.close(fd) }
        var accounted: Int32 = 0
        var enforced: Int32 = 0
        guard berth_quota_state(fd, kind.rawValue, &accounted, &enforced) == 0 else { return false }
        return accounted != 0 && enforced != 0
    }

    /// Q_GETQUOTA of `id` of `kind` on the filesystem holding `path`.
    public static func usage(_ kind: Kind, of id: UInt32, on path: String) throws(SystemError) -> ProjectQuota.Usage {
        let fd = try Syscall.open(path, O_RDONLY | O_CLOEXEC)
        defer { Syscall.close(fd) }
        var quota = berth_quota()
        guard berth_quota_get(fd, kind.rawValue, id, &quota) == 0 else {
            throw SystemError(call: "quotactl_fd(Q_GETQUOTA)", errno: errno, subject: "\(kind.name) \(id) on \(path)")
        }
        return usage(quota)
    }

    /// Q_SETQUOTA: the hard limits (nil: none) of `id` of `kind` on the
    /// filesystem holding `path`. Idempotent.
    public static func setLimits(_ kind: Kind, bytes: UInt64?, inodes: UInt64?, of id: UInt32, on path: String) throws(SystemError) {
        let fd = try Syscall.open(path, O_RDONLY | O_CLOEXEC)
        defer { Syscall.close(fd) }
        guard berth_quota_set_limits(fd, kind.rawValue, id, bytes.map { ProjectQuota.kib(bytes: $0) } ?? 0, inodes ?? 0) == 0 else {
            throw SystemError(call: "quotactl_fd(Q_SETQUOTA)", errno: errno, subject: "\(kind.name) \(id) on \(path)")
        }
    }

    /// Every ID of `kind` with a quota (use or limits) on the filesystem
    /// holding `path`, in ID order (Q_GETNEXTQUOTA).
    public static func all(_ kind: Kind, on path: String) throws(SystemError) -> [Entry] {
        let fd = try Syscall.open(path, O_RDONLY | O_CLOEXEC)
        defer { Syscall.close(fd) }
        var entries: [Entry] = []
        var next: UInt32 = 0
        while true {
            var quota = berth_quota()
            var found: UInt32 = 0
            guard berth_quota_get_next(fd, kind.rawValue, next, &found, &quota) == 0 else {
                if errno == ENOENT { break }
                throw SystemError(call: "quotactl_fd(Q_GETNEXTQUOTA)", errno: errno, subject: "\(kind.name) quotas on \(path)")
            }
            entries.append(Entry(kind: kind, id: found, usage: usage(quota)))
            guard found < UInt32.max else { break }
            next = found + 1
        }
        return entries
    }
}
