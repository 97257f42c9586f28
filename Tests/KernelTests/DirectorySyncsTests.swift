import Testing

@testable import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// An apply pass's durable writes share their directory syncs: held while
/// the pass runs, made once per directory at its end.
@Suite struct DirectorySyncsTests {
    let base = "/tmp/berth-dirsyncs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    @Test func directoriesAreHeldOnlyWhileAPassRuns() {
        let syncs = DirectorySyncs()
        #expect(!syncs.hold("/tmp"))
        let (held, failure) = syncs.deferring { syncs.hold("/tmp") && syncs.hold("/tmp") }
        #expect(held)
        #expect(failure == nil)
        #expect(!syncs.hold("/tmp"))
    }

    @Test func durableWritesInAPassAreReadableAtOnceAndSyncedAtTheEnd() throws {
        defer { try? Syscall.removeTree(base) }
        try Syscall.makeDirectories(base + "/a")
        try Syscall.makeDirectories(base + "/b")
        let syncs = DirectorySyncs()
        let (_, failure) = syncs.deferring {
            for directory in ["a", "b", "a"] {
                try? Syscall.writeAtomically(Array("\(directory)\n".utf8), to: "\(base)/\(directory)/record", directorySyncs: syncs)
                // Renamed at once: what the next reader (or a killed pass's next run) sees.
                #expect((try? Syscall.readFile("\(base)/\(directory)/record")) == Array("\(directory)\n".utf8))
            }
        }
        #expect(failure == nil)
    }

    @Test func nestedPassesSyncAtTheOutermostEnd() throws {
        defer { try? Syscall.removeTree(base) }
        try Syscall.makeDirectories(base)
        let syncs = DirectorySyncs()
        let (inner, outer) = syncs.deferring {
            let inner = syncs.deferring { syncs.hold(base) }
            // Still held after the inner pass: the outer one is open.
            return (inner, syncs.hold(base))
        }.result
        #expect(inner.result && inner.failure == nil && outer)
    }

    @Test func aDirectoryRemovedMeanwhileIsNoFailureButAFileIs() throws {
        defer { try? Syscall.removeTree(base) }
        try Syscall.makeDirectories(base + "/gone")
        Syscall.close(try Syscall.open(base + "/file", O_WRONLY | O_CREAT, mode: 0o600))
        let syncs = DirectorySyncs()
        let gone = syncs.deferring {
            _ = syncs.hold(base + "/gone")
            try? Syscall.removeTree(base + "/gone")
        }
        #expect(gone.failure == nil)
        let notADirectory = syncs.deferring { _ = syncs.hold(base + "/file") }
        #expect(notADirectory.failure?.errno == ENOTDIR)
    }
}
