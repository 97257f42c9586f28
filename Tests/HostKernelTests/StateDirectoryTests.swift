import Foundation
import Kernel
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Where berth keeps its state on the filesystem, as the filesystem sees it.
/// Lane 2 only: nothing here depends on the cgroup version (lane 3 runs
/// the suites whose code does).
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct StateDirectoryTests {
    /// On ext4 the containers directory is a top directory (`lsattr -d`
    /// shows T), so ext4 places each container's tree in a block group of
    /// its own choosing (StateStore.prepareContainersDirectory: a
    /// journal-less ext4 passes over every inode freed in the last minute).
    /// On an ext4 without a journal, as the machines that run berth-bench
    /// have; the containers directory made by the first start.
    @Test func theContainersDirectoryIsATopDirectoryOnExt4() throws {
        let host = try TestHost()
        let state = host.root + "/state"
        let image = host.root + "-state.ext4"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        func run(_ arguments: [String]) throws -> String {
            let result = try Spawn.run(arguments, mergingStandardError: true)
            let output = String(decoding: result.output, as: UTF8.self)
            guard result.exitedCleanly else { throw SystemError(call: arguments.joined(separator: " "), errno: EIO, subject: output) }
            return output
        }
        _ = try run(["/usr/bin/truncate", "-s", "64M", image])
        _ = try run(["/usr/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal", image])
        _ = try run(["/usr/bin/mount", "-o", "loop", image, state])
        defer {
            for name in host.runtime.state.names() { try? host.runtime.delete(name, keepPrivateLayer: false) }
            host.runtime.state.trash.emptyNow()
            #expect((try? run(["/usr/bin/umount", state])) != nil)
            _ = unlink(image)
            #expect(host.tearDown() == [])
        }
        #expect(!Syscall.exists(state + "/containers"))
        _ = try host.runtime.start(host.container("td1", command: ["/bin/sh", "-c", "echo here > /tmp/mark; exec sleep 300"]))
        #expect(host.written("td1", "/tmp/mark") == "here")
        let flags = try run(["/usr/bin/lsattr", "-d", state + "/containers"]).split(separator: " ").first.map(String.init) ?? ""
        #expect(flags.contains("T"), "lsattr -d: \(flags)")
        // A container's own directory is not one (only their parent is).
        let own = try run(["/usr/bin/lsattr", "-d", state + "/containers/td1"]).split(separator: " ").first.map(String.init) ?? ""
        #expect(!own.contains("T"), "lsattr -d: \(own)")
    }
}
