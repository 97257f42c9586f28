import CLinux
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The directory fsyncs of durable writes made together, done once at the
/// end instead of after each write (hardening item 27, as the lead decided
/// for issue 16). Each file is still written to a temp file, fsync'd and
/// renamed at once, so its content is never torn; only the fsync that makes
/// the new name (or a removal) outlive a power loss waits for the end of
/// the pass, by one syncfs(2) of the state dir's filesystem. berth-bench
/// scale, create: each durable record cost a file fsync and a directory
/// fsync (~17 ms on an ext4 disk); the directory syncs of a pass written
/// together cost one journal commit and one flush of the disk's cache.
///
/// Why a crash in between is safe: a process killed before `flush` leaves
/// the renamed files in the page cache (the next run reads them, failpoint
/// `apply.directories-unsynced`); a power loss loses the kernel objects
/// (cgroups, namespaces, processes) too, and a record it loses is a
/// container the next apply creates again from its manifest.
public final class DirectorySyncs: Sendable {
    private let state = Mutex<(depth: Int, pending: Set<String>)>((0, []))

    public init() {}

    /// Holds back the directory syncs of durable writes until `body`
    /// returns, then makes them: once per directory. Nested calls sync at
    /// the outermost end. `failure`: a directory that could not be synced
    /// (the pass's writes happened; only their durability is unsure).
    public func deferring<Result>(_ body: () -> Result) -> (result: Result, failure: SystemError?) {
        state.withLock { $0.depth += 1 }
        let result = body()
        do {
            try end()
            return (result, nil)
        } catch {
            return (result, error)
        }
    }

    /// Whether `directory`'s sync was taken over (a pass is open); else the
    /// caller syncs it now.
    public func hold(_ directory: String) -> Bool {
        state.withLock { state in
            guard state.depth > 0 else { return false }
            state.pending.insert(directory)
            return true
        }
    }

    private func end() throws(SystemError) {
        let directories: [String] = state.withLock { state in
            state.depth -= 1
            guard state.depth == 0 else { return [] }
            defer { state.pending = [] }
            return Array(state.pending)
        }
        guard !directories.isEmpty else { return }
        Failpoint.directoriesUnsynced.hit()
        // One syncfs(2) per filesystem rather than an fsync per directory:
        // each fsync of a directory flushes the disk's cache again, and on
        // berth-bench scale 200 the 200 of them at the end of the create
        // cost more than they saved (4.7 s, ~20 ms each on a busy ext4).
        // The files themselves were fsync'd before their rename.
        var failure: SystemError?
        var synced: Set<UInt64> = []
        for directory in directories {
            var info = stat()
            if fstatat(AT_FDCWD, directory, &info, 0) != 0 {
                // A directory already removed has nothing to sync.
                if errno != ENOENT { failure = failure ?? SystemError(call: "stat", errno: errno, subject: directory) }
                continue
            }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                failure = failure ?? SystemError(call: "syncfs", errno: ENOTDIR, subject: directory)
                continue
            }
            guard synced.insert(UInt64(info.st_dev)).inserted else { continue }
            do {
                try Syscall.syncfs(directory)
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
    }
}

extension Syscall {
    /// syncfs(2) of the filesystem that holds `directory`: every write to
    /// it reaches the disk (one journal commit, one cache flush).
    public static func syncfs(_ directory: String) throws(SystemError) {
        let fd = try open(directory, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        _ = try retrying("syncfs", directory) { berth_syncfs(fd) }
    }

    /// fsync(2) of a directory: its entries (names made, renamed or removed)
    /// outlive a power loss.
    public static func fsyncDirectory(_ directory: String) throws(SystemError) {
        let fd = try open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, subject: directory)
    }
}
