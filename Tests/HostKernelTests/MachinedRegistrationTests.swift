import Foundation
import Kernel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A private system bus and systemd-machined of the test's own: tmpfs over
/// /run/dbus and /run/systemd in the sandbox's mount namespace (machinectl
/// wants /run/systemd/system to exist). Without `manager`, machined runs with
/// no systemd on the bus (a bare dbus-daemon). With it, the bus belongs to a
/// TestSystemdManager, and machined runs as on a systemd host.
final class TestMachined {
    static let mounts = ["/run/dbus", "/run/systemd"]
    var pids: [pid_t] = []
    var manager: TestSystemdManager?

    init(withSystemdIn base: String? = nil) throws {
        for path in TestMachined.mounts {
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let result = try Spawn.run(["/bin/mount", "-t", "tmpfs", "tmpfs", path])
            guard result.exitedCleanly else { throw SystemError(call: "mount tmpfs", errno: EIO, subject: path) }
        }
        try FileManager.default.createDirectory(atPath: "/run/systemd/system", withIntermediateDirectories: true)
        if let base {
            let manager = try TestSystemdManager(base: base)
            self.manager = manager
            for _ in 0..<250 {
                if (try? Spawn.run(["/usr/bin/busctl", "status", "org.freedesktop.systemd1"]))?.exitedCleanly == true { break }
                usleep(40_000)
            }
        } else {
            pids.append(try Spawn.start(["/usr/bin/dbus-daemon", "--system", "--nofork", "--nopidfile"]))
            for _ in 0..<200 where !FileManager.default.fileExists(atPath: "/run/dbus/system_bus_socket") { usleep(10_000) }
        }
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
        manager?.tearDown()
        for path in TestMachined.mounts.reversed() { _ = try? Spawn.run(["/bin/umount", path]) }
    }
}

/// A systemd manager of the test's own for the unified hierarchy, where the
/// VM lane has none (its PID 1 is virtme-ng's init): root's `systemd --user`
/// in a cgroup the test names (`berth-test-….slice`), answering as
/// org.freedesktop.systemd1 on the private system bus. A manager connects to
/// its API bus only once its own dbus.service runs, so the bus is its
/// dbus.socket and dbus.service (the system bus's configuration, at
/// /run/dbus/system_bus_socket on TestMachined's tmpfs).
final class TestSystemdManager {
    let directory: String
    let cgroup: String
    let pid: pid_t

    init(base: String) throws {
        let name = "berth-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        directory = base + "/" + name
        cgroup = "/sys/fs/cgroup/\(name).slice"
        let units = directory + "/config/systemd/user"
        try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/runtime", withIntermediateDirectories: true)
        chmod(directory + "/runtime", 0o700)
        try "[Socket]\nListenStream=/run/dbus/system_bus_socket\n".write(toFile: units + "/dbus.socket", atomically: true, encoding: .utf8)
        try "[Service]\nExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation\n".write(
            toFile: units + "/dbus.service", atomically: true, encoding: .utf8)
        try "[Unit]\nWants=dbus.socket dbus.service\n".write(toFile: units + "/berth-test.target", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: cgroup, withIntermediateDirectories: false)
        pid = try Spawn.start(
            ["/bin/sh", "-c", "echo $$ > \(cgroup)/cgroup.procs && exec /lib/systemd/systemd --user --unit=berth-test.target"],
            environment: [
                "HOME": directory, "XDG_CONFIG_HOME": directory + "/config", "XDG_RUNTIME_DIR": directory + "/runtime",
                "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/dbus/system_bus_socket",
            ], outputPath: directory + "/systemd.log")
    }

    func tearDown() {
        kill(pid, SIGTERM)
        _ = Reaper.wait(pid)
        // What the manager left (its dbus-daemon, its cgroups) goes.
        _ = try? Syscall.writeValue("1", to: cgroup + "/cgroup.kill")
        let tree = ((try? FileManager.default.subpathsOfDirectory(atPath: cgroup)) ?? []).filter {
            FileManager.default.fileExists(atPath: cgroup + "/" + $0 + "/cgroup.procs")
        }
        for _ in 0..<50 {
            for path in tree.sorted(by: { $0.count > $1.count }) { rmdir(cgroup + "/" + path) }
            if rmdir(cgroup) == 0 || errno == ENOENT { break }
            usleep(20_000)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension JournaldTests {
    /// In JournaldTests' serialized suite: both put a tmpfs over /run/systemd
    /// (the VM lane runs it alone: BERTH_VM_SUITES='JournaldTests/MachinedRegistrationTests').
    @Suite struct MachinedRegistrationTests {
        static let hasMachined = FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd-machined")
        /// machined's RegisterMachine takes the unit from the leader's cgroup in
        /// systemd's own hierarchy: on hybrid hosts the cgroup2 mount
        /// /sys/fs/cgroup/unified, on v1 ones `name=systemd`; berth leaves it as
        /// it found it (README "systemd-machined"). Nil on cgroup v2.
        static let systemdHierarchy = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"].first {
            FileManager.default.fileExists(atPath: $0 + "/cgroup.procs")
        }
        static let isUnified =
            !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified") && systemdHierarchy == nil
            && FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")

        static func manifest(_ host: TestHost, _ name: String) throws -> String {
            let manifest = host.root + "/\(name).yaml"
            try FileManager.default.createDirectory(atPath: host.root, withIntermediateDirectories: true)
            try """
            apiVersion: berth/v1
            kind: Container
            metadata: {name: \(name)}
            spec:
              rootfs: {template: busybox}
              init: {command: [sleep, "300"]}

            """.write(toFile: manifest, atomically: true, encoding: .utf8)
            return manifest
        }

        static func global(_ host: TestHost) -> [String] {
            ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
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
            let hierarchy = try #require(MachinedRegistrationTests.systemdHierarchy)
            let unit = "\(hierarchy)/berth-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).service"
            try FileManager.default.createDirectory(atPath: unit, withIntermediateDirectories: false)
            defer {
                _ = host.tearDown()
                rmdir(unit)
            }
            let manifest = try MachinedRegistrationTests.manifest(host, "mach1")
            let global = MachinedRegistrationTests.global(host)
            let apply = ([ContainerCLITests.binary, "apply"] + global + [manifest]).map { "'\($0)'" }.joined(separator: " ")
            let result = try Spawn.run(["/bin/sh", "-c", "echo $$ > \(unit)/cgroup.procs && exec \(apply)"], mergingStandardError: true)
            #expect(result.exitedCleanly, "\(String(decoding: result.output, as: UTF8.self))")
            let pid = try #require(host.runtime.state.load("mach1")?.pid)

            let line = machined.machines().split(separator: "\n").first { $0.hasPrefix("mach1 ") }
            #expect(
                line?.split(separator: " ", omittingEmptySubsequences: true).prefix(3) == ["mach1", "container", "berth"], "\(machined.machines())")
            let shown = try Spawn.run(["/usr/bin/machinectl", "show", "mach1", "-p", "Leader", "-p", "Class", "-p", "Service", "-p", "Unit"])
            let properties = String(decoding: shown.output, as: UTF8.self)
            #expect(properties.contains("Leader=\(pid)\n"), "\(properties)")
            #expect(properties.contains("Unit=\(URL(fileURLWithPath: unit).lastPathComponent)\n"), "\(properties)")

            let stop = try Spawn.run([ContainerCLITests.binary, "stop"] + global + ["mach1"], mergingStandardError: true)
            #expect(stop.exitedCleanly, "\(String(decoding: stop.output, as: UTF8.self))")
            #expect(!machined.machines().contains("mach1"), "\(machined.machines())")
        }

        /// On the unified hierarchy alone (the VM lane), with a systemd manager
        /// and machined on the bus, the init stays in berth's own cgroup, under
        /// --cgroup-parent, where its limits are; that cgroup is in no systemd
        /// unit, so machined refuses the registration
        /// (README "systemd-machined" says why berth does not move it into a
        /// scope). The start succeeds all the same, the refusal is one warning
        /// that names machined's reason, and stop works as anywhere.
        @Test(
            .enabled(if: hasMachined, "systemd-machined is not installed (Debian's systemd-container: scripts/install-deps.sh)"),
            .enabled(if: isUnified, "cgroup v1 or hybrid: aStartedContainerIsAMachineUntilItStops covers them"))
        func onCgroupV2AContainerInBerthsCgroupRunsUnregisteredAndSaysWhy() throws {
            let machined = try TestMachined(withSystemdIn: ProcessInfo.processInfo.environment["BERTH_TEST_ROOT"] ?? "/tmp")
            defer { machined.tearDown() }
            let systemd = try Spawn.run(["/usr/bin/busctl", "status", "org.freedesktop.systemd1"], mergingStandardError: true)
            try #require(systemd.exitedCleanly, "no systemd manager on the test's bus: \(String(decoding: systemd.output, as: UTF8.self))")
            let host = try TestHost()
            defer { #expect(host.tearDown() == []) }
            let manifest = try MachinedRegistrationTests.manifest(host, "mach2")
            let global = MachinedRegistrationTests.global(host)
            let result = try Spawn.run([ContainerCLITests.binary, "apply"] + global + [manifest], mergingStandardError: true)
            let output = String(decoding: result.output, as: UTF8.self)
            #expect(result.exitedCleanly, "\(output)")
            let pid = try #require(host.runtime.state.load("mach2")?.pid)
            #expect(kill(pid, 0) == 0)
            let cgroup = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
            #expect(cgroup == "0::/\(host.parent)/mach2\n", "\(cgroup)")

            #expect(!machined.machines().contains("mach2"), "\(machined.machines())")
            // Without journald the event is a log line on stderr (its kind and fields).
            let warnings = output.split(separator: "\n").filter { $0.contains("warning: machined registration failed container=mach2") }
            #expect(warnings.count == 1, "\(output)")
            #expect(warnings.first?.contains("Failed to determine unit of process \(pid)") == true, "\(output)")

            let stop = try Spawn.run([ContainerCLITests.binary, "stop"] + global + ["mach2"], mergingStandardError: true)
            #expect(stop.exitedCleanly, "\(String(decoding: stop.output, as: UTF8.self))")
            #expect(host.runtime.state.load("mach2")?.pid == nil)
        }

        /// With the systemd cgroup driver (cgroup v2, a systemd manager on the
        /// bus) the container is the payload of a delegated scope, which
        /// machined takes as its unit: `machinectl` shows it. berth's limits in
        /// the payload survive a daemon-reload; the cpu weight is the scope's
        /// CPUWeight=, changed live and repaired from the scope's cpu.weight;
        /// deleting the container leaves no scope.
        @Test(
            .enabled(if: hasMachined, "systemd-machined is not installed (Debian's systemd-container: scripts/install-deps.sh)"),
            .enabled(if: isUnified, "the systemd cgroup driver needs the unified hierarchy (cgroup v2)"))
        func withTheSystemdDriverAContainerIsTheMachineOfItsScope() throws {
            let machined = try TestMachined(withSystemdIn: ProcessInfo.processInfo.environment["BERTH_TEST_ROOT"] ?? "/tmp")
            defer { machined.tearDown() }
            let host = try TestHost()
            defer { #expect(host.tearDown() == []) }
            let manifest = host.root + "/sd1.yaml"
            func write(weight: Int) throws {
                try """
                apiVersion: berth/v1
                kind: Container
                metadata: {name: sd1}
                spec:
                  rootfs: {template: busybox}
                  init: {command: [sleep, "300"]}
                  resources: {memory: {max: 64Mi}, pids: {max: 50}, cpu: {weight: \(weight)}}

                """.write(toFile: manifest, atomically: true, encoding: .utf8)
            }
            try FileManager.default.createDirectory(atPath: host.root, withIntermediateDirectories: true)
            try write(weight: 300)
            let global = MachinedRegistrationTests.global(host) + ["--cgroup-driver", "systemd"]
            func apply() throws -> String {
                let result = try Spawn.run([ContainerCLITests.binary, "apply"] + global + [manifest], mergingStandardError: true)
                let output = String(decoding: result.output, as: UTF8.self)
                #expect(result.exitedCleanly, "\(output)")
                return output
            }
            let output = try apply()
            #expect(!output.contains("machined registration failed"), "\(output)")
            let record = try #require(host.runtime.state.load("sd1"))
            let pid = try #require(record.pid)
            let unit = "\(host.parent)-sd1.scope"
            #expect(record.scope == unit)
            #expect(record.cgroup.hasSuffix("/\(host.parent).slice/\(unit)/payload"), "\(record.cgroup)")
            let cgroup = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
            #expect(cgroup == "0::/\(record.cgroup)\n", "\(cgroup)")
            let payload = "/sys/fs/cgroup/" + record.cgroup
            let scope = URL(fileURLWithPath: payload).deletingLastPathComponent().path
            func file(_ path: String) -> String {
                ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            }

            let line = machined.machines().split(separator: "\n").first { $0.hasPrefix("sd1 ") }
            #expect(
                line?.split(separator: " ", omittingEmptySubsequences: true).prefix(3) == ["sd1", "container", "berth"], "\(machined.machines())")
            let shown = try Spawn.run(["/usr/bin/machinectl", "show", "sd1", "-p", "Leader", "-p", "Unit"])
            let properties = String(decoding: shown.output, as: UTF8.self)
            #expect(properties.contains("Leader=\(pid)\n") && properties.contains("Unit=\(unit)\n"), "\(properties)")

            // berth's limits in the payload; the weight on the scope (systemd's).
            #expect(file(payload + "/memory.max") == "67108864")
            #expect(file(payload + "/pids.max") == "50")
            #expect(file(scope + "/cpu.weight") == "300")
            #expect(file(scope + "/pids.max") == "max", "TasksMax=infinity")
            // A daemon-reload (SIGHUP) writes the scope's own files again from its
            // unit: the scope's pids.max, set by hand, is TasksMax=infinity again.
            try "1000".write(toFile: scope + "/pids.max", atomically: false, encoding: .utf8)
            let manager = try #require(machined.manager)
            kill(manager.pid, SIGHUP)
            for _ in 0..<1500 where file(scope + "/pids.max") != "max" { usleep(20_000) }
            #expect(file(scope + "/pids.max") == "max", "the manager reloaded")
            #expect(file(payload + "/memory.max") == "67108864", "a daemon-reload leaves the delegated payload alone")
            #expect(file(scope + "/cpu.weight") == "300")

            // Changed live (the same init), and repaired from the scope's file.
            try write(weight: 700)
            _ = try apply()
            #expect(file(scope + "/cpu.weight") == "700")
            #expect(host.runtime.state.load("sd1")?.pid == pid)
            try "150".write(toFile: scope + "/cpu.weight", atomically: false, encoding: .utf8)
            _ = try apply()
            #expect(file(scope + "/cpu.weight") == "700")
            #expect(host.runtime.state.load("sd1")?.pid == pid)

            // exec joins the payload (the root of the container's cgroup
            // namespace, entered once the init was moved there); suspend and
            // resume freeze and thaw the payload.
            let exec = try Spawn.run(
                [ContainerCLITests.binary, "exec"] + global + ["sd1", "--", "/bin/cat", "/proc/self/cgroup", "/proc/1/cgroup"],
                mergingStandardError: true)
            #expect(String(decoding: exec.output, as: UTF8.self) == "0::/\n0::/\n", "\(String(decoding: exec.output, as: UTF8.self))")
            let suspend = try Spawn.run([ContainerCLITests.binary, "suspend"] + global + ["sd1"], mergingStandardError: true)
            #expect(suspend.exitedCleanly && file(payload + "/cgroup.freeze") == "1", "\(String(decoding: suspend.output, as: UTF8.self))")
            let resume = try Spawn.run([ContainerCLITests.binary, "resume"] + global + ["sd1"], mergingStandardError: true)
            #expect(resume.exitedCleanly && file(payload + "/cgroup.freeze") == "0", "\(String(decoding: resume.output, as: UTF8.self))")

            try host.runtime.delete("sd1", keepPrivateLayer: false)
            #expect(!FileManager.default.fileExists(atPath: scope), "\(scope)")
            #expect(!machined.machines().contains("sd1"), "\(machined.machines())")
            var loaded = true
            for _ in 0..<100 where loaded {
                let unitCall = [
                    "/usr/bin/busctl", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                    "GetUnit", "s", unit,
                ]
                loaded = (try? Spawn.run(unitCall))?.exitedCleanly ?? false
                if loaded { usleep(20_000) }
            }
            #expect(!loaded, "systemd still has \(unit)")
        }
    }
}
