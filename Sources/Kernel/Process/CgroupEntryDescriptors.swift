import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A `CgroupEntry` ready for one clone: the v2 directory, open, or the v1
/// `tasks` files the child opens and writes itself into. Clones with it,
/// and on a kernel without CLONE_INTO_CGROUP falls back to moving the child
/// by pid.
final class CgroupEntryDescriptors {
    private let directory: String?
    private var directoryFD: Int32 = -1
    private var taskFiles = CStringArena()
    private let taskFileArray: UnsafePointer<UnsafePointer<CChar>?>
    private let taskCount: Int
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
        taskCount = files.count
        taskFileArray = taskFiles.array(files)
        if let directory { directoryFD = try Syscall.open(directory, O_RDONLY | O_DIRECTORY) }
    }

    deinit {
        if directoryFD >= 0 { Syscall.close(directoryFD) }
        taskFiles.free()
    }

    /// Calls `clone` with the entry for the C shim; when the kernel refuses
    /// CLONE_INTO_CGROUP, again without it (see `lateJoin`). The pid, or -1
    /// with errno set.
    func clone(_ clone: (berth_cgroup_entry) -> pid_t) -> pid_t {
        var entry = berth_cgroup_entry(directory_fd: directoryFD, task_files: taskFileArray, task_file_count: Int32(taskCount))
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
