import Testing

@testable import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// mkdir -p and rm -rf as berth does them for its own directories.
@Suite struct FileTreeTests {
    let base = "/tmp/berth-filetree-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    func touch(_ path: String) throws { Syscall.close(try Syscall.open(path, O_WRONLY | O_CREAT, mode: 0o600)) }

    @Test func makesParentsAndRemovesTheTreeWithoutFollowingSymlinks() throws {
        defer { try? Syscall.removeTree(base) }
        try Syscall.makeDirectories(base + "/tree/a/b/c")
        try Syscall.makeDirectories(base + "/tree/a/b/c")  // idempotent
        try touch(base + "/tree/a/b/c/file")
        try Syscall.makeDirectories(base + "/tree/work/work")
        if getuid() == 0 { _ = chmod(base + "/tree/work/work", 0) }  // as overlayfs leaves it (root reads it anyway)
        // Links out of the tree: removed themselves, their targets kept.
        try Syscall.makeDirectories(base + "/outside")
        try touch(base + "/outside/keep")
        try Syscall.symlink(base + "/outside", at: base + "/tree/a/link-to-dir")
        try Syscall.symlink(base + "/outside/keep", at: base + "/tree/link-to-file")

        try Syscall.removeTree(base + "/tree")
        #expect(!Syscall.exists(base + "/tree"))
        #expect(Syscall.exists(base + "/outside/keep"))
        try Syscall.removeTree(base + "/tree")  // a missing tree is fine
    }

    /// A container may name its files with any bytes: a name that is not
    /// UTF-8 (Latin-1 "\xe9t\xe9", a lone 0xff) is removed as well, file
    /// or directory, so deleting the container leaves nothing behind.
    @Test func namesThatAreNotUTF8AreRemovedToo() throws {
        defer { try? Syscall.removeTree(base) }
        try Syscall.makeDirectories(base + "/tree")
        func path(_ name: [UInt8]) -> [CChar] { (Array((base + "/tree/").utf8) + name).map { CChar(bitPattern: $0) } + [0] }
        let directory: [UInt8] = [0xE9, 0x74, 0xE9]
        #expect(Glibc.mkdir(path(directory), 0o755) == 0)
        let inside = open(path(directory + [0x2F, 0xFF]), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        #expect(inside >= 0)
        close(inside)
        let file = open(path([0x61, 0xFE, 0x62]), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        #expect(file >= 0)
        close(file)
        try Syscall.removeTree(base + "/tree")
        #expect(!Syscall.exists(base + "/tree"))
    }

    @Test func aSymlinkGivenAsTheTreeIsRemovedNotFollowed() throws {
        defer { try? Syscall.removeTree(base) }
        try Syscall.makeDirectories(base + "/target")
        try touch(base + "/target/keep")
        try Syscall.symlink(base + "/target", at: base + "/link")
        try Syscall.removeTree(base + "/link")
        #expect(!Syscall.exists(base + "/link") && Syscall.exists(base + "/target/keep"))
    }

    /// berth migrate's ssh socket directory: a stale one of an earlier run
    /// (same name but for the random part) does not stop the next.
    @Test func temporaryDirectoriesAreNewEachTimeAndPrivate() throws {
        defer { try? Syscall.removeTree(base) }
        try Syscall.makeDirectories(base)
        try Syscall.mkdir(base + "/ssh-\(getpid())", mode: 0o700)
        let first = try Syscall.makeTemporaryDirectory(prefix: base + "/ssh-")
        let second = try Syscall.makeTemporaryDirectory(prefix: base + "/ssh-")
        #expect(first != second)
        for path in [first, second] {
            #expect(path.hasPrefix(base + "/ssh-") && path.count == (base + "/ssh-").count + 6)
            var info = stat()
            #expect(stat(path, &info) == 0 && info.st_mode & 0o7777 == 0o700 && info.st_mode & S_IFMT == S_IFDIR)
        }
        #expect(throws: SystemError.self) { try Syscall.makeTemporaryDirectory(prefix: base + "/missing/ssh-") }
    }

    /// writeAtomically's temp files (`NAME.tmp-PID`) are known by their
    /// name; those a dead writer left are removed, those of a live one (or
    /// of this process) kept, and so is every other file.
    @Test func staleTempFilesAreKnownByNameAndOnlyADeadWritersAreRemoved() throws {
        defer { try? Syscall.removeTree(base) }
        #expect(Syscall.isTemporaryName("kedge.tmp-4242"))
        #expect(Syscall.isTemporaryName("0a1b.json.tmp-1"))
        #expect(Syscall.temporaryWriter("kedge.tmp-4242") == 4242)
        for name in ["kedge", "kedge.tmp-", "kedge.tmp-12x", ".tmp-12", "kedge.tmp", "kedge-tmp-12", "a.json", "tmp-12"] {
            #expect(!Syscall.isTemporaryName(name), "\(name)")
        }
        try Syscall.makeDirectories(base)
        // No process has a pid of PID_MAX_LIMIT (pids stay below pid_max, at most that).
        let dead: pid_t = 4_194_304
        let names = ["kedge", "kedge.tmp-\(dead)", "kfront.tmp-\(getpid())", "kweb.tmp-1", "note.tmp-x"]
        for name in names { try touch(base + "/" + name) }
        #expect(Syscall.removeStaleTemporaries(in: base) == ["kedge.tmp-\(dead)"])
        let left = Set(names).subtracting(["kedge.tmp-\(dead)"])
        #expect(left.allSatisfy { Syscall.exists(base + "/" + $0) })
        #expect(!Syscall.exists(base + "/kedge.tmp-\(dead)"))
        #expect(Syscall.removeStaleTemporaries(in: base + "/missing").isEmpty)
    }
}
