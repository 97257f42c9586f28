#if canImport(Glibc)
    import Glibc
#endif

/// What making an unpacked template safe to share took out of it.
public struct TemplateHardening: Equatable, Sendable {
    /// Character and block device nodes removed.
    public var deviceNodes = 0
    /// Files whose set-user-ID or set-group-ID bit was cleared.
    public var setIDFiles = 0

    public init(deviceNodes: Int = 0, setIDFiles: Int = 0) {
        self.deviceNodes = deviceNodes
        self.setIDFiles = setIDFiles
    }
}

extension Syscall {
    /// Makes a tree unpacked from a tarball safe to keep as a shared lower
    /// layer: device nodes are removed (a container gets its /dev from
    /// berth, and a node in the template would reach a host disk wherever
    /// the device filter is off), set-user-ID and set-group-ID bits are
    /// cleared on files (directories keep set-group-ID, which only passes a
    /// group on), and the top directory becomes root's, mode 0700, so no
    /// other host user reads or runs anything in it. Never follows a
    /// symlink and stays on one filesystem. Idempotent.
    public static func hardenTemplateTree(_ path: String) throws(SystemError) -> TemplateHardening {
        let fd = try open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError(call: "fstat", errno: errno, subject: path) }
        guard fchown(fd, 0, 0) == 0 else { throw SystemError(call: "fchown", errno: errno, subject: path) }
        guard fchmod(fd, 0o700) == 0 else { throw SystemError(call: "fchmod", errno: errno, subject: path) }
        var report = TemplateHardening()
        try harden(fd, device: info.st_dev, subject: path, into: &report)
        return report
    }

    private static func harden(_ fd: Int32, device: dev_t, subject: String, into report: inout TemplateHardening) throws(SystemError) {
        try forEachEntry(fd, subject: subject) { entry, info throws(SystemError) in
            let name = entry.cString
            let path = subject + "/" + entry.display
            switch info.st_mode & S_IFMT {
            case S_IFCHR, S_IFBLK:
                guard unlinkat(fd, name, 0) == 0 else { throw SystemError(call: "unlinkat", errno: errno, subject: path) }
                report.deviceNodes += 1
            case S_IFREG where info.st_mode & (S_ISUID | S_ISGID) != 0:
                // Opened without following a link, and checked to be the file seen.
                let file = try retrying("openat", path) { openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
                defer { close(file) }
                var opened = stat()
                guard fstat(file, &opened) == 0 else { throw SystemError(call: "fstat", errno: errno, subject: path) }
                guard opened.st_ino == info.st_ino, opened.st_dev == info.st_dev else {
                    throw SystemError(call: "openat", errno: ESTALE, subject: path + " (replaced while hardening)")
                }
                guard fchmod(file, opened.st_mode & 0o7777 & ~(S_ISUID | S_ISGID)) == 0 else {
                    throw SystemError(call: "fchmod", errno: errno, subject: path)
                }
                report.setIDFiles += 1
            case S_IFDIR:
                guard info.st_dev == device else { throw SystemError(call: "openat", errno: EXDEV, subject: path + " (a mount point)") }
                let child = try retrying("openat", path) { openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                defer { close(child) }
                try harden(child, device: device, subject: path, into: &report)
            default:
                return
            }
        }
    }
}
