import Foundation
import Kernel
import Model
import Testing

@testable import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// A batch delete's kill holds the container's root open (Trash.openRoot),
/// so that its overlay's unmount (a sync of the state filesystem) is done
/// by the emptier, not in the init's exit that the delete waits for.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct HeldRootTests {
    /// The device of what `fd` is open on (an overlay has one of its own).
    static func device(_ fd: Int32) -> UInt64? {
        var info = stat()
        return fstat(fd, &info) == 0 ? UInt64(info.st_dev) : nil
    }

    /// The device of the root of process `pid`.
    static func rootDevice(_ pid: pid_t) -> UInt64? {
        var info = stat()
        return stat("/proc/\(pid)/root/", &info) == 0 ? UInt64(info.st_dev) : nil
    }

    /// The roots this process holds on `device` (other suites may hold theirs).
    static func held(on device: UInt64?) -> [Int32] {
        Trash.heldRoots.withLock { $0 }.filter { HeldRootTests.device($0) == device }
    }

    @Test func aBatchDeleteHoldsTheRootUntilTheEmptierClosesIt() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(host.container("web1", command: ["/bin/sleep", "300"]))
        let pid = try #require(record.pid)
        let overlay = try #require(HeldRootTests.rootDevice(pid))
        host.runtime.killAhead("web1")
        #expect(HeldRootTests.held(on: overlay).count == 1)
        // The delete goes on with the root held: no cgroup, no record, the files in the trash.
        try host.runtime.delete("web1", trash: true)
        #expect(host.runtime.state.names().isEmpty)
        #expect(!host.runtime.cgroups.exists(try CgroupPath(host.parent).appending("web1")))
        let trash = host.runtime.state.trash
        #expect(trash.entries().count == 2, "\(trash.entries())")
        // Handed to the emptier (this process's copy closed), which closes
        // it and empties the trash.
        let emptier = try #require(trash.startEmptier([ContainerCLITests.binary] + Array(TrashEmptierArguments.of(host).dropFirst())))
        #expect(HeldRootTests.held(on: overlay).isEmpty)
        if let lock = trash.lock(wait: true) { withExtendedLifetime(lock) {} }
        _ = Reaper.wait(emptier)
        #expect(trash.isEmpty, "\(trash.entries())")
    }

    @Test func aKeptPrivateLayerIsNotHeld() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(
            host.container("keep1", command: ["/bin/sleep", "300"]) { $0.rootfs = RootfsSpec(source: .template("busybox"), persistent: true) })
        let pid = try #require(record.pid)
        let overlay = try #require(HeldRootTests.rootDevice(pid))
        host.runtime.killAhead("keep1")
        // Its layer stays for the next start, which mounts it again at once.
        #expect(HeldRootTests.held(on: overlay).isEmpty)
        try host.runtime.delete("keep1", trash: true)
    }
}
