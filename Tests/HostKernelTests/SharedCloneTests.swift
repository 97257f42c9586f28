import CLinux
import Foundation
import Kernel
import Logging
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A container's init is cloned with berth's memory shared until it execs
/// (berth_container_spawn): no copy of berth's page tables to make, fault
/// in and tear down again. Checked as the kernel sees it (kcmp(2) KCMP_VM)
/// while the child waits for the go, and again once it runs its command.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct SharedCloneTests {
    @Test func theInitSharesBerthsMemoryUntilItExecsAndBerthIsNotDumpableMeanwhile() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let lower = try host.runtime.templates.path(of: "busybox", logger: Logger(label: "test"))
        let directory = host.root + "/launch"
        for name in ["upper", "work", "rootfs"] { try Syscall.makeDirectories(directory + "/" + name) }
        let launch = ContainerLaunch(
            rootfs: directory + "/rootfs", overlay: (lower, directory + "/upper", directory + "/work"), hostname: "shared",
            arguments: ["/bin/sleep", "300"], environment: ["PATH=/bin"], workingDirectory: "/", bindMounts: [],
            capabilities: try CapabilitySet.resolve(add: [], drop: [], privileged: false), noNewPrivileges: true,
            consoleLog: directory + "/console.log")
        var sharedBeforeTheGo: Int32?
        var dumpableBeforeTheGo: Int32?
        let pid = try launch.start { child in
            sharedBeforeTheGo = berth_shares_memory(getpid(), child)
            dumpableBeforeTheGo = berth_dumpable()
        }
        defer {
            kill(pid, SIGKILL)
            _ = Reaper.wait(pid)
        }
        #expect(sharedBeforeTheGo == 1, "the child had a copy of berth's memory, not berth's own")
        // Set-up helpers are non-dumpable until exec (hardening.md 1): the
        // memory the child shares is berth's.
        #expect(dumpableBeforeTheGo == 0)
        // Exec gave it memory of its own: it runs the container's sleep.
        #expect(berth_shares_memory(getpid(), pid) == 0)
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        #expect(exe.hasSuffix("/bin/busybox") || exe.hasSuffix("/bin/sleep"), "runs \(exe)")
        #expect(ProcessStat.namespacePID(pid) == 1)
    }
}
