import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The directory fsyncs of durable writes made together, done once at the
/// end instead of after each write (hardening item 27, as the lead decided
/// for issue 16). Each file is still written to a temp file, fsync'd and
/// renamed at once, so its content is never torn; only the fsync that makes
/// the new name (or a removal) outlive a power loss waits for the end of
/// the pass. berth-bench scale, create: each durable record cost a file
/// fsync and a directory fsync (~17 ms on an ext4 disk), and the directory
/// syncs of a pass written together cost one journal commit.
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
        // Deepest first: a new directory's own entries before its name in
        // its parent (a directory already removed has nothing to sync).
        var failure: SystemError?
        for directory in directories.sorted(by: { $0.count > $1.count }) {
            do {
                try Syscall.fsyncDirectory(directory)
            } catch {
                if error.errno != ENOENT { failure = failure ?? error }
            }
        }
        if let failure { throw failure }
    }
}

extension Syscall {
    /// fsync(2) of a directory: its entries (names made, renamed or removed)
    /// outlive a power loss.
    public static func fsyncDirectory(_ directory: String) throws(SystemError) {
        let fd = try open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, subject: directory)
    }
}
