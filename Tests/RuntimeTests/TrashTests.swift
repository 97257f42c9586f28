import FoundationEssentials
import Kernel
import Model
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import Runtime

/// The trash's names, its moves and its emptying, without root.
@Suite struct TrashTests {
    let base = "/tmp/berth-trash-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    var store: StateStore { StateStore.scratch(base) }

    @Test(
        arguments: [
            ("web1.123-abc-1", "web1"), ("a.b", "a"), ("web1", nil), (".hidden", nil), ("web1.", nil), ("", nil),
        ] as [(String, String?)])
    func anEntryNamesItsContainerBeforeTheFirstDot(entry: String, container: String?) {
        #expect(Trash.container(ofEntry: entry) == container)
    }

    @Test func entryNamesAreUniqueAndNeverAContainerName() {
        let names = (0..<100).map { _ in Trash.entryName(container: "web1", unique: Trash.uniqueSuffix()) }
        #expect(Set(names).count == 100)
        #expect(names.allSatisfy { Trash.container(ofEntry: $0) == "web1" })
        // A dot is never in a container name: an entry cannot pass for one.
        #expect(names.allSatisfy { (try? Names.checkDNSLabel($0)) == nil })
    }

    @Test func setAsideCgroupNamesAreUniqueValidCgroupNamesAndNeverAContainers() throws {
        let names = (0..<100).map { _ in CgroupTrash.entryName(container: "web1", unique: Trash.uniqueSuffix()) }
        #expect(Set(names).count == 100)
        #expect(names.allSatisfy { $0.hasPrefix(".web1.") && CgroupTrash.isEntry($0) })
        #expect(names.allSatisfy { (try? Names.checkDNSLabel($0)) == nil })
        // A cgroup path takes it (beside the containers' under the parent).
        #expect(try CgroupPath("berth").appending(names[0]).components == ["berth", names[0]])
        #expect(!CgroupTrash.isEntry("web1") && !CgroupTrash.isEntry(""))
    }

    @Test func aTrashedDirectoryFreesTheNameAtOnceAndIsNoContainer() throws {
        defer { try? Syscall.removeTree(base) }
        let store = self.store
        let trash = store.trash
        #expect(trash.isEmpty)
        for name in ["c1", "c2"] {
            try Syscall.makeDirectories(store.containerDirectory(name) + "/upper/etc")
            try Syscall.writeAtomically(Array("x".utf8), to: store.containerDirectory(name) + "/upper/etc/hostname")
        }
        #expect(try trash.take(store.containerDirectory("c1"), container: "c1", into: trash.stateDirectory))
        #expect(!Syscall.exists(store.containerDirectory("c1")))
        #expect(store.names() == ["c2"])
        // The same name again, while the first one waits in the trash.
        try Syscall.makeDirectories(store.containerDirectory("c1"))
        #expect(try trash.take(store.containerDirectory("c1"), container: "c1", into: trash.stateDirectory))
        // Missing: nothing to move.
        #expect(!(try trash.take(store.containerDirectory("gone"), container: "gone", into: trash.stateDirectory)))
        let entries = trash.entries()
        #expect(entries.count == 2)
        #expect(entries.allSatisfy { Trash.container(ofEntry: String($0.split(separator: "/").last ?? "")) == "c1" })
        #expect(!trash.isEmpty)
        #expect(trash.pendingBytes() > 0)

        let outcome = trash.emptyNow()
        #expect(outcome.removed == 2 && outcome.failures.isEmpty)
        #expect(trash.isEmpty)
        #expect(store.names() == ["c2"])
    }

    @Test func oneEmptierAtATimeAndItLooksAgainAfterLettingGo() throws {
        defer { try? Syscall.removeTree(base) }
        let store = self.store
        let trash = store.trash
        let held = try #require(trash.lock(wait: false))
        // Held: a second emptier is not started (and the lock not taken).
        try Syscall.makeDirectories(store.containerDirectory("c1"))
        try trash.take(store.containerDirectory("c1"), container: "c1", into: trash.stateDirectory)
        #expect(trash.lock(wait: false) == nil)
        #expect(trash.startEmptier(["/bin/true"]) == nil)
        // The holder empties, lets go, and looks again.
        let outcome = trash.empty(holding: held)
        #expect(outcome.removed == 1)
        #expect(trash.isEmpty)
        // Free again: nothing to do, nothing started.
        #expect(trash.startEmptier(["/bin/true"]) == nil)
    }

    @Test func aStartedEmptierHoldsTheLockUntilItEnds() throws {
        defer { try? Syscall.removeTree(base) }
        let store = self.store
        let trash = store.trash
        try Syscall.makeDirectories(store.runDirectory("c1"))
        try trash.take(store.runDirectory("c1"), container: "c1", into: trash.runDirectory)
        // A stand-in emptier: holds descriptor 3 for a moment, removes nothing.
        let pid = try #require(trash.startEmptier(["/bin/sh", "-c", "sleep 0.3"]))
        #expect(trash.lock(wait: false) == nil)
        _ = Reaper.wait(pid)
        #expect(trash.lock(wait: false) != nil)
        trash.emptyNow()
        #expect(trash.isEmpty)
    }
}
