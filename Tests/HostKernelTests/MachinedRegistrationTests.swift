import Foundation
import Kernel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A private system bus and systemd-machined of the test's own: tmpfs over
/// /run/dbus and /run/systemd in the sandbox's mount namespace (machined runs
/// without systemd as PID 1; machinectl wants /run/systemd/system to exist).
final class TestMachined {
    static let mounts = ["/run/dbus", "/run/systemd"]
    var pids: [pid_t] = []

    init() throws {
        for path in TestMachined.mounts {
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let result = try Spawn.run(["/bin/mount", "-t", "tmpfs", "tmpfs", path])
            guard result.exitedCleanly else { throw SystemError(call: "mount tmpfs", errno: EIO, subject: path) }
        }
        try FileManager.default.createDirectory(atPath: "/run/systemd/system", withIntermediateDirectories: true)
        pids.append(try Spawn.start(["/usr/bin/dbus-daemon", "--system", "--nofork", "--nopidfile"]))
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: "/run/dbus/system_bus_socket") { usleep(10_000) }
        pids.append(try Spawn.start(["/lib/systemd/systemd-machined"]))
        // Ready once it answers on the bus.
        for _ in 0..<200 {
            if (try? Spawn.run(["/usr/bin/machinectl", "list", "--no-pager"]))?.exitedCleanly == true { break }
            usleep(20_000)
        }
    }

    func machines() -> String {
        String(decoding: (try? Spawn.run(["/usr/bin/machinectl", "list", "--no-pager", "--no-legend"]))?.output ?? [], as: UTF8.self)
    }

    func tearDown() {
        for pid in pids.reversed() {
            kill(pid, SIGTERM)
            _ = Reaper.wait(pid)
        }
        for path in TestMachined.mounts.reversed() { _ = try? Spawn.run(["/bin/umount", path]) }
    }
}

extension JournaldTests {
    // In JournaldTests' serialized suite: both put a tmpfs over /run/systemd.
    static let hasMachined = FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd-machined")
    /// machined's RegisterMachine takes the unit from the leader's cgroup in
    /// systemd's own hierarchy: on hybrid hosts the cgroup2 mount
    /// /sys/fs/cgroup/unified, on v1 ones `name=systemd`; berth leaves it as
    /// it found it (README "systemd-machined"). Nil on cgroup v2.
    static let systemdHierarchy = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"].first {
        FileManager.default.fileExists(atPath: $0 + "/cgroup.procs")
    }

    /// A container started by `berth apply` running in a unit (as under
    /// berth.service on a v1 or hybrid host) is in `machinectl list` as
    /// class container, service berth, its init the leader; gone after stop.
    @Test(
        .enabled(if: hasMachined, "systemd-machined is not installed (Debian's systemd-container: scripts/install-deps.sh)"),
        .enabled(
            if: systemdHierarchy != nil,
            "cgroup v2: an init in berth's cgroups is in no systemd unit, and machined's RegisterMachine refuses it"))
    func aStartedContainerIsAMachineUntilItStops() throws {
        let machined = try TestMachined()
        defer { machined.tearDown() }
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let hierarchy = try #require(JournaldTests.systemdHierarchy)
        let unit = "\(hierarchy)/berth-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).service"
        try FileManager.default.createDirectory(atPath: unit, withIntermediateDirectories: false)
        defer {
            _ = host.tearDown()
            rmdir(unit)
        }
        let manifest = host.root + "/mach1.yaml"
        try FileManager.default.createDirectory(atPath: host.root, withIntermediateDirectories: true)
        try """
        apiVersion: berth/v1
        kind: Container
        metadata: {name: mach1}
        spec:
          rootfs: {template: busybox}
          init: {command: [sleep, "300"]}

        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        let apply = ([ContainerCLITests.binary, "apply"] + global + [manifest]).map { "'\($0)'" }.joined(separator: " ")
        let result = try Spawn.run(["/bin/sh", "-c", "echo $$ > \(unit)/cgroup.procs && exec \(apply)"], mergingStandardError: true)
        #expect(result.exitedCleanly, "\(String(decoding: result.output, as: UTF8.self))")
        let pid = try #require(host.runtime.state.load("mach1")?.pid)

        let line = machined.machines().split(separator: "\n").first { $0.hasPrefix("mach1 ") }
        #expect(line?.split(separator: " ", omittingEmptySubsequences: true).prefix(3) == ["mach1", "container", "berth"], "\(machined.machines())")
        let shown = try Spawn.run(["/usr/bin/machinectl", "show", "mach1", "-p", "Leader", "-p", "Class", "-p", "Service", "-p", "Unit"])
        let properties = String(decoding: shown.output, as: UTF8.self)
        #expect(properties.contains("Leader=\(pid)\n"), "\(properties)")
        #expect(properties.contains("Unit=\(URL(fileURLWithPath: unit).lastPathComponent)\n"), "\(properties)")

        let stop = try Spawn.run([ContainerCLITests.binary, "stop"] + global + ["mach1"], mergingStandardError: true)
        #expect(stop.exitedCleanly, "\(String(decoding: stop.output, as: UTF8.self))")
        #expect(!machined.machines().contains("mach1"), "\(machined.machines())")
    }
}
