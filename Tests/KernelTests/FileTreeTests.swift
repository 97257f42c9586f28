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
}
