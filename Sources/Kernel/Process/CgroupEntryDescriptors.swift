import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A `CgroupEntry` opened for one clone: the v2 directory, or the v1 `tasks`
/// files the child writes itself into. Clones with it, and on a kernel
/// without CLONE_INTO_CGROUP falls back to moving the child by pid.
final class CgroupEntryDescriptors {
    private let directory: String?
    private var directoryFD: Int32 = -1
    private let taskFDs: UnsafeMutablePointer<Int32>
    private var taskCount = 0
    /// Set when clone3 could not clone into the directory: the parent writes
    /// the child's pid here before letting it go.
    private(set) var lateJoin: String?

    /// nil: the child stays in berth's cgroup.
    init(_ entry: CgroupEntry?) throws(SystemError) {
        var files: [String] = []
        switch entry {
        case .cloneInto(let directory)?: self.directory = directory
        case .moveSelf(let taskFiles)?:
            directory = nil
            files = taskFiles
        case nil: directory = nil
        }
        taskFDs = .allocate(capacity: max(1, files.count))
        if let directory { directoryFD = try Syscall.open(directory, O_RDONLY | O_DIRECTORY) }
        for file in files {
            taskFDs[taskCount] = try Syscall.open(file, O_WRONLY)
            taskCount += 1
        }
    }

    deinit {
        if directoryFD >= 0 { Syscall.close(directoryFD) }
        for index in 0..<taskCount { Syscall.close(taskFDs[index]) }
        taskFDs.deallocate()
    }

    /// Calls `clone` with the entry for the C shim; when the kernel refuses
    /// CLONE_INTO_CGROUP, again without it (see `lateJoin`). The pid, or -1
    /// with errno set.
    func clone(_ clone: (berth_cgroup_entry) -> pid_t) -> pid_t {
        var entry = berth_cgroup_entry(directory_fd: directoryFD, task_fds: UnsafePointer(taskFDs), task_fd_count: Int32(taskCount))
        let pid = clone(entry)
        guard pid < 0, directoryFD >= 0, errno == ENOSYS || errno == E2BIG || errno == EINVAL, let directory else { return pid }
        entry.directory_fd = -1
        lateJoin = directory + "/cgroup.procs"
        return clone(entry)
    }

    /// In the parent, before the child goes on: the fallback's migration by pid.
    func joinLate(_ pid: pid_t) throws(SystemError) {
        guard let lateJoin else { return }
        let fd = try Syscall.open(lateJoin, O_WRONLY)
        defer { Syscall.close(fd) }
        try Syscall.writeOnce(fd, Array("\(pid)".utf8), subject: lateJoin)
    }
}
