#if canImport(Glibc)
    import Glibc
#endif

/// One interface over cgroup v1 and v2. Paths are relative to the hierarchy
/// root (`berth/web1`); every value is written with one write(2) and read back.
public protocol CgroupDriver: Sendable {
    var version: CgroupVersion { get }
    /// Creates the cgroup and its missing parents. Idempotent.
    func create(_ path: CgroupPath) throws(SystemError)
    /// Removes an empty cgroup. Idempotent (a missing cgroup is fine).
    func remove(_ path: CgroupPath) throws(SystemError)
    func exists(_ path: CgroupPath) -> Bool
    /// How a process berth clones enters the cgroup by itself.
    func entry(_ path: CgroupPath) -> CgroupEntry
    /// Names of the cgroups directly below `path` (none when it does not exist).
    func children(of path: CgroupPath) -> [String]
    /// Renames the empty cgroup `path` to `name` beside it, for a later
    /// `remove` (CgroupTrash), where the kernel renames cgroups: v1, in
    /// each hierarchy, where a rename is a kernfs rename and a removal
    /// takes every control file down, both under the kernel's one cgroup
    /// lock (berth-bench scale, teardown). A hierarchy where the rename
    /// fails (other than for a missing cgroup) has it removed at once.
    /// Returns false, with nothing done, where cgroups cannot be renamed
    /// (v2).
    func setAside(_ path: CgroupPath, as name: String) throws(SystemError) -> Bool
    /// Names of the cgroups directly below `path` in any hierarchy (v1:
    /// each hierarchy's, together; v2: `children`).
    func childrenInAnyHierarchy(of path: CgroupPath) -> [String]
    /// Moves a process into the cgroup.
    func addProcess(_ pid: pid_t, to path: CgroupPath) throws(SystemError)
    func processes(in path: CgroupPath) throws(SystemError) -> [pid_t]
    /// Sets every limit (declaratively: nil resets) and returns what the kernel holds.
    func apply(_ limits: CgroupLimits, to path: CgroupPath) throws -> [CgroupWrite]
    /// Limits and state; with `usage`, also the usage counters (memory,
    /// pids, cpu, failures). Planning needs no usage: that halves the reads.
    /// `parents`: the pass's parent directories, opened once (nil: each
    /// cgroup looked up by its whole path).
    func observe(_ path: CgroupPath, usage: Bool, parents: CgroupParents?) throws(SystemError) -> CgroupObservation
    func setFrozen(_ frozen: Bool, _ path: CgroupPath) throws(SystemError)
    /// Whether the cgroup is frozen, by one read (v1 `freezer.state`, v2
    /// `cgroup.events`): all observe needs of a container no manifest names.
    func isFrozen(_ path: CgroupPath) -> Bool
    /// Processes the kernel's OOM killer ended in the cgroup, by one read
    /// (v1 `memory.oom_control`, v2 `memory.events`); nil when unreadable.
    /// All a foreground run reads at its init's exit.
    func oomKills(_ path: CgroupPath) -> UInt64?
    /// The CPUs a cgroup with no set of its own may use: its parent's.
    func inheritedCPUs(_ path: CgroupPath) -> String?
    /// SIGKILL to every process in the cgroup.
    func killAll(_ path: CgroupPath) throws(SystemError)
}

extension CgroupDriver {
    public func setAside(_ path: CgroupPath, as name: String) throws(SystemError) -> Bool { false }

    public func childrenInAnyHierarchy(of path: CgroupPath) -> [String] { children(of: path) }

    /// The directory of `controller`'s files for `path` (v2: the cgroup's
    /// own), or nil where the controller is not mounted.
    public func directory(of controller: String, _ path: CgroupPath) -> String? {
        if let v1 = self as? CgroupV1Driver { return v1.directory(controller, path) }
        if let v2 = self as? CgroupV2Driver { return v2.directory(path) }
        return nil
    }

    /// Limits, state and usage counters.
    public func observe(_ path: CgroupPath) throws(SystemError) -> CgroupObservation { try observe(path, usage: true) }

    /// Limits and state (and usage counters with `usage`), each cgroup
    /// looked up by its whole path.
    public func observe(_ path: CgroupPath, usage: Bool) throws(SystemError) -> CgroupObservation {
        try observe(path, usage: usage, parents: nil)
    }
}

/// How a process berth clones gets into its cgroup without berth migrating
/// it: a migration by another process takes a lock that waits for an RCU
/// grace period (about 12 ms on these machines), once per container start.
public enum CgroupEntry: Sendable, Equatable {
    /// cgroup v2: cloned straight into this directory (clone3 with CLONE_INTO_CGROUP).
    case cloneInto(directory: String)
    /// cgroup v1: the child, still single-threaded, writes "0" (itself) into
    /// each hierarchy's `tasks` file. A thread that moves only itself takes
    /// no global lock.
    case moveSelf(taskFiles: [String])

    /// The cgroup must exist when the child is cloned (v2). A v1 cgroup is
    /// entered only after the go, so berth may make it while the child builds
    /// its root.
    public var isNeededAtClone: Bool {
        if case .cloneInto = self { return true }
        return false
    }
}

public enum CgroupVersion: String, Sendable {
    case v1, v2
}

/// Writes and reads cgroup files: one write(2) of a checked value, then a read back.
enum CgroupFile {
    /// Subdirectories (child cgroups) of a cgroup directory.
    static func children(_ directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// One open for the write and its read-back (from offset 0 of the same
    /// descriptor: the kernel renders the file afresh). A write-only file,
    /// such as devices.allow, reads back as "".
    static func write(_ directory: String, _ file: String, _ value: String) throws(SystemError) -> CgroupWrite {
        let path = directory + "/" + file
        try Syscall.checkWritable(value, to: path)
        var fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        let readable = fd >= 0
        if !readable {
            guard errno == EACCES else { throw SystemError(call: "open", errno: errno, subject: path) }
            fd = try Syscall.open(path, O_WRONLY)
        }
        defer { Syscall.close(fd) }
        return try writeAndReadBack(fd, path: path, file: file, value: value, readable: readable)
    }

    /// The write of `value` on `fd` and, when `readable`, its read-back from
    /// offset 0 of the same descriptor (the kernel renders the file afresh).
    private static func writeAndReadBack(
        _ fd: Int32, path: String, file: String, value: String, readable: Bool
    ) throws(SystemError) -> CgroupWrite {
        try Syscall.writeOnce(fd, Array(value.utf8), subject: path)
        var back = ""
        if readable, lseek(fd, 0, SEEK_SET) == 0, let bytes = try? Syscall.readAll(fd, upTo: 1 << 20, subject: path) {
            back = CgroupValues.trimmed(String(decoding: bytes, as: UTF8.self))
        }
        return CgroupWrite(file: file, value: value, readBack: back)
    }

    /// `write` to a write-only file (v1's devices.allow and devices.deny,
    /// mode 0200): no read-back, which root's O_RDWR open would let through
    /// only for the read to fail (EINVAL) after every rule.
    static func writeOnly(_ directory: String, _ file: String, _ value: String) throws(SystemError) -> CgroupWrite {
        let path = directory + "/" + file
        try Syscall.checkWritable(value, to: path)
        let fd = try Syscall.open(path, O_WRONLY)
        defer { Syscall.close(fd) }
        return try writeAndReadBack(fd, path: path, file: file, value: value, readable: false)
    }

    /// `write`, skipped when the file already reads `value` (one open:
    /// read, then write and read back only if it differs). For files whose
    /// write costs the kernel more than a read: v1's cpu.cfs_period_us and
    /// cpu.cfs_quota_us (tg_set_bandwidth walks every task group, a write
    /// even of the value in place; berth-bench network, a new container's
    /// defaults), cpu.shares, and cpuset.cpus (a new cpuset has its
    /// parent's CPUs already).
    static func writeIfDifferent(_ directory: String, _ file: String, _ value: String) throws(SystemError) -> CgroupWrite {
        let path = directory + "/" + file
        try Syscall.checkWritable(value, to: path)
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return try write(directory, file, value) }
        defer { Syscall.close(fd) }
        if let bytes = try? Syscall.readAll(fd, upTo: 1 << 20, subject: path) {
            let current = CgroupValues.trimmed(String(decoding: bytes, as: UTF8.self))
            if current == value { return CgroupWrite(file: file, value: value, readBack: current) }
        }
        return try writeAndReadBack(fd, path: path, file: file, value: value, readable: true)
    }

    static func read(_ directory: String, _ file: String) throws(SystemError) -> String {
        CgroupValues.trimmed(String(decoding: try Syscall.readFile(directory + "/" + file), as: UTF8.self))
    }

    static func readNumber(_ directory: String, _ file: String) -> UInt64? {
        (try? read(directory, file)).flatMap { UInt64($0) }
    }

    static func pids(_ directory: String) throws(SystemError) -> [pid_t] {
        try read(directory, "cgroup.procs").split(separator: "\n").compactMap { pid_t($0) }
    }
}

/// Picks the driver for this host: v2 when /sys/fs/cgroup is cgroup2,
/// else v1 controllers from the mount table.
public enum CgroupDrivers {
    public static func detect(root: String = "/sys/fs/cgroup") throws -> any CgroupDriver {
        if try Syscall.filesystemType(root) == FilesystemMagic.cgroup2 {
            return CgroupV2Driver(root: root)
        }
        let mountinfo = String(decoding: try Syscall.readFile("/proc/self/mountinfo"), as: UTF8.self)
        return try CgroupV1Driver(mounts: CgroupV1Driver.controllerMounts(mountinfo: mountinfo))
    }
}
