import Kernel
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where a deleted container's directories wait to be removed: its state
/// directory goes to STATE/trash, its run directory to RUN/trash, each by
/// one rename(2) on its own filesystem. The name is free and the container
/// gone at once; the files are removed off the critical path, by a
/// detached `berth trash-empty` that apply and the agent start (issue 16:
/// on ext4 with `discard` the last close of each deleted directory costs
/// about 2 ms, six per container; `berth-bench scale N`'s teardown prints
/// "apply returned" and "trash empty", the figures that defend this).
///
/// An entry is named `NAME.UNIQUE`: a dot is never in a container name (a
/// DNS label), and STATE/trash is not STATE/containers, so no scan of
/// containers ever takes an entry for a container.
///
/// A deleted container's cgroups wait too, where the kernel renames
/// cgroups (v1): beside the live ones, renamed (CgroupTrash).
///
/// One emptier at a time: RUN/trash.lock (flock). Whoever moves a tree in
/// and then finds the lock held leaves the entry to the holder, which
/// looks again after it lets go.
public struct Trash: Sendable {
    /// STATE/trash.
    public let stateDirectory: String
    /// RUN/trash.
    public let runDirectory: String
    /// RUN/trash.lock.
    public let lockPath: String
    /// RUN, which holds the lock.
    let lockDirectory: String
    /// The cgroups set aside under berth's cgroup parent (nil: the
    /// directories only; ContainerRuntime.trash has both).
    public var cgroups: CgroupTrash?

    public init(paths: RuntimePaths, cgroups: CgroupTrash? = nil) {
        stateDirectory = paths.stateDirectory.string + "/trash"
        runDirectory = paths.runDirectory.string + "/trash"
        lockPath = paths.runDirectory.string + "/trash.lock"
        lockDirectory = paths.runDirectory.string
        self.cgroups = cgroups
    }

    /// An entry's name: the container's, a dot, and `unique`.
    public static func entryName(container: String, unique: String) -> String { container + "." + unique }

    /// The container an entry was (nil: not an entry's name).
    public static func container(ofEntry entry: String) -> String? {
        guard let dot = entry.firstIndex(of: "."), dot != entry.startIndex, entry.index(after: dot) != entry.endIndex else { return nil }
        return String(entry[..<dot])
    }

    private static let counter = Atomic<UInt64>(0)

    /// What makes an entry's name unique: this process, the monotonic
    /// clock in nanoseconds, and a counter (several deletes of one apply
    /// run at once).
    static func uniqueSuffix() -> String {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nanoseconds = UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
        let count = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return "\(getpid())-\(String(nanoseconds, radix: 16))-\(count)"
    }

    /// Moves the directory `path`, a container's, into `directory` (one of
    /// the two trash directories, on its filesystem); a tree that cannot be
    /// moved (another filesystem, a mount point, a project-inheriting
    /// parent: EXDEV, EBUSY, whatever the error) is removed here instead. Nothing when `path`
    /// is missing. Returns whether it was moved.
    @discardableResult
    public func take(_ path: String, container: String, into directory: String) throws(SystemError) -> Bool {
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return false }
            throw SystemError(call: "lstat", errno: errno, subject: path)
        }
        try Syscall.makeDirectories(directory, mode: 0o700)
        let target = directory + "/" + Trash.entryName(container: container, unique: Trash.uniqueSuffix())
        if Glibc.rename(path, target) == 0 { return true }
        if errno == ENOENT { return false }
        // Whatever kept it from moving, it goes now (removeTree says why not).
        try Syscall.removeTree(path)
        return false
    }

    /// Every entry waiting, as paths (both directories; then the cgroups
    /// set aside, each as `cgroup PATH`).
    public func entries() -> [String] {
        directoryEntries() + (cgroups?.entries().map(CgroupTrash.describe) ?? [])
    }

    /// The entries of the two directories, as paths.
    func directoryEntries() -> [String] {
        [stateDirectory, runDirectory].flatMap { directory in
            Syscall.entryNames(in: directory).map { directory + "/" + $0 }
        }
    }

    /// Whether nothing waits (two readdirs, a missing directory is empty;
    /// and one of the cgroup parent).
    public var isEmpty: Bool {
        Syscall.entryNames(in: stateDirectory).isEmpty && Syscall.entryNames(in: runDirectory).isEmpty && cgroups?.isEmpty != false
    }

    /// The bytes waiting in STATE/trash (blocks in use, as du counts
    /// them; the run dir's trash is tmpfs memory and not counted).
    public func pendingBytes() -> UInt64 {
        var total: UInt64 = 0
        for entry in Syscall.entryNames(in: stateDirectory) {
            let path = stateDirectory + "/" + entry
            let children = ((try? Syscall.treePaths(path)) ?? []).map { path + "/" + String(decoding: $0.dropFirst(2), as: UTF8.self) }
            for file in [path] + children {
                var info = stat()
                if lstat(file, &info) == 0 { total &+= UInt64(max(0, info.st_blocks)) &* 512 }
            }
        }
        return total
    }

    /// The emptier's lock (flock on RUN/trash.lock), released when closed.
    public final class Lock: Sendable {
        public let fd: Int32

        /// Adopts a descriptor that holds the lock already (a detached
        /// emptier's descriptor 3, taken for it by whoever started it).
        public init(holding fd: Int32) { self.fd = fd }

        deinit { Syscall.close(fd) }
    }

    /// The lock, without waiting (nil: held by another, or no run dir to
    /// hold it in), or waiting for it.
    public func lock(wait: Bool) -> Lock? {
        guard (try? Syscall.makeDirectories(lockDirectory)) != nil,
            let fd = try? Syscall.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o600)
        else { return nil }
        while flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            Syscall.close(fd)
            return nil
        }
        return Lock(holding: fd)
    }

    /// Removes every entry (the caller holds the lock); returns how many
    /// went and why the others did not.
    public func removeEntries() -> (removed: Int, failures: [String: SystemError]) {
        var removed = 0
        var failures: [String: SystemError] = [:]
        for entry in directoryEntries() {
            do {
                try Syscall.removeTree(entry)
                removed += 1
            } catch {
                // Gone meanwhile (another remover): not a failure.
                if Syscall.exists(entry) { failures[entry] = error }
            }
        }
        if let cgroups {
            for entry in cgroups.entries() {
                do {
                    try cgroups.driver.remove(entry)
                    removed += 1
                } catch {
                    failures[CgroupTrash.describe(entry)] = error
                }
            }
        }
        return (removed, failures)
    }

    /// Empties the trash with `lock` held, lets go, and looks again: an
    /// entry moved in while it held the lock (whose mover found the lock
    /// held) is removed too, under the lock taken again. Stops when
    /// nothing but entries that could not be removed is left, or another
    /// holds the lock.
    public func empty(holding lock: Lock) -> (removed: Int, failures: [String: SystemError]) {
        var held: Lock? = lock
        var removed = 0
        var failures: [String: SystemError] = [:]
        while held != nil {
            let pass = removeEntries()
            removed += pass.removed
            failures.merge(pass.failures) { $1 }
            held = nil
            guard entries().contains(where: { failures[$0] == nil }) else { break }
            held = self.lock(wait: false)
        }
        return (removed, failures)
    }

    /// Empties the trash here, after waiting for an emptier that runs
    /// (tests and benchmarks: nothing is left once it returns).
    @discardableResult
    public func emptyNow() -> (removed: Int, failures: [String: SystemError]) {
        guard let lock = lock(wait: true) else { return (0, [:]) }
        return empty(holding: lock)
    }

    /// When something waits and no emptier runs: starts `arguments` (a
    /// `berth trash-empty`) detached, its lock taken here and handed over
    /// as its descriptor 3, so that it is held from now until the emptier
    /// is done (a test's tear-down that waits for the lock never races
    /// it). Returns its pid (nil: nothing to do, an emptier already runs,
    /// or it could not start; the next command that deletes tries again).
    public func startEmptier(_ arguments: [String]) -> pid_t? {
        guard !isEmpty, let lock = lock(wait: false) else { return nil }
        return withExtendedLifetime(lock) { try? Spawn.detached(arguments, passing: lock.fd) }
    }
}

/// The cgroups of deleted containers, set aside under berth's cgroup
/// parent for the emptier (`CgroupDriver.setAside`): renamed
/// `.NAME.UNIQUE`, beside the live ones, after the delete emptied them.
/// No container's cgroup is named so (a container's name is a DNS label,
/// never with a dot), so no scan of the parent takes one for a container
/// (CgroupLayout.containerName). A renamed cgroup holds no process; its
/// memory cgroup still holds the page cache charged to it until removed.
/// On cgroup v2, which has no rename of cgroups, a delete removes the
/// cgroup at once.
public struct CgroupTrash: Sendable {
    public let driver: any CgroupDriver
    /// Where the containers' cgroups are (CgroupLayout.containersParent).
    public let parent: CgroupPath

    public init(driver: any CgroupDriver, parent: CgroupPath) {
        self.driver = driver
        self.parent = parent
    }

    /// An entry's name: a dot, the container's name, a dot, and `unique`.
    public static func entryName(container: String, unique: String) -> String { "." + container + "." + unique }

    /// Whether a child of the parent is an entry (a leading dot).
    public static func isEntry(_ child: String) -> Bool { child.utf8.first == UInt8(ascii: ".") }

    /// How an entry is named in the trash's entries and failures.
    static func describe(_ entry: CgroupPath) -> String { "cgroup " + entry.description }

    /// Sets `group`, the emptied cgroup of `container`, aside; where
    /// cgroups cannot be renamed, or `group` is not directly under the
    /// parent (a record from another layout), removes it at once.
    public func take(_ group: CgroupPath, container: String) throws(SystemError) {
        guard group.components.dropLast().elementsEqual(parent.components) else { return try driver.remove(group) }
        if try driver.setAside(group, as: CgroupTrash.entryName(container: container, unique: Trash.uniqueSuffix())) { return }
        try driver.remove(group)
    }

    /// The entries waiting, in any hierarchy.
    public func entries() -> [CgroupPath] {
        driver.childrenInAnyHierarchy(of: parent).filter(CgroupTrash.isEntry).compactMap { try? parent.appending($0) }
    }

    /// Whether none waits (one readdir: every hierarchy's entries are
    /// renamed together; one a failed rename left elsewhere goes with the
    /// next emptying).
    public var isEmpty: Bool { !driver.children(of: parent).contains(where: CgroupTrash.isEntry) }
}

extension StateStore {
    /// Where deleted containers' directories wait to be removed.
    public var trash: Trash { Trash(paths: paths) }
}
