import Foundation
import Kernel
import Logging
import Model
import Netlink
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway host for one test: temp state and run dirs, a cgroup parent
/// of its own; `tearDown` deletes everything and reports what is left.
final class TestHost {
    let root: String
    let runtime: ContainerRuntime
    let parent: String

    init() throws {
        // BERTH_TEST_ROOT: a filesystem overlayfs accepts as an upper layer
        // (the VM lane points it at a tmpfs; its /tmp is the host's 9p share).
        let base = ProcessInfo.processInfo.environment["BERTH_TEST_ROOT"] ?? "/tmp"
        root = "\(base)/berth-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        parent = "berth-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let paths = RuntimePaths(stateDirectory: .init(root + "/state"), runDirectory: .init(root + "/run"), cgroupParent: parent)
        runtime = ContainerRuntime(paths: paths, cgroups: try CgroupDrivers.detect(), logger: Logger(label: "test"))
    }

    func container(_ name: String, command: [String], configure: (inout ContainerSpec) -> Void = { _ in }) -> ContainerObject {
        var spec = ContainerSpec()
        spec.rootfs = RootfsSpec(source: .template("busybox"))
        spec.`init` = InitSpec(command: command)
        configure(&spec)
        return ContainerObject(
            metadata: ObjectMeta(name: name), spec: spec.resolved(name: name, defaultRootfs: .template("busybox")),
            source: SourceLocation(file: "test", line: 1, column: 1))
    }

    /// The container's private layer: what it wrote, seen from the host.
    func written(_ name: String, _ path: String, waitSeconds: Int = 10) -> String? {
        let file = "\(root)/state/containers/\(name)/upper\(path)"
        for _ in 0..<(waitSeconds * 50) {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), text.hasSuffix("\n") {
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            usleep(20_000)
        }
        return nil
    }

    /// The directories of the cgroup `path` (v1: one per mounted hierarchy;
    /// v2: the one), as `ls` would be given them.
    static func cgroupDirectories(of path: String) -> [String] {
        let driver = try? CgroupDrivers.detect()
        if let v1 = driver as? CgroupV1Driver { return Set(v1.mounts.values).sorted().map { $0 + "/" + path } }
        if let v2 = driver as? CgroupV2Driver { return [v2.root + "/" + path] }
        return []
    }

    /// Processes whose command line holds every one of `words` (in an argument).
    static func processes(withArguments words: [String]) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let text = String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            return words.allSatisfy { text.contains($0) } ? pid : nil
        }
    }

    func tearDown() -> [String] {
        for name in runtime.state.names() { try? runtime.delete(name, keepPrivateLayer: false) }
        // A trash emptier that apply or the agent started (it holds the
        // trash lock from before they return) is waited for: it removes
        // files under root, and the cgroups deletes set aside in the parent.
        runtime.trash.emptyNow()
        if let parentPath = try? CgroupPath(parent) { try? runtime.cgroups.remove(parentPath) }
        var leaks: [String] = []
        if let parentPath = try? CgroupPath(parent), runtime.cgroups.exists(parentPath) { leaks.append("cgroup \(parent)") }
        // A container's sysinfo responder ends with its last process.
        var responders: [pid_t] = []
        for _ in 0..<250 {
            responders = TestHost.processes(withArguments: ["sysinfo-responder", parent])
            if responders.isEmpty { break }
            usleep(20_000)
        }
        leaks += responders.map { "sysinfo responder \($0)" }
        try? FileManager.default.removeItem(atPath: root)
        if FileManager.default.fileExists(atPath: root) { leaks.append(root) }
        return leaks
    }
}

/// `berth trash-empty`'s command line for a test host, as apply builds it.
enum TrashEmptierArguments {
    static func of(_ host: TestHost) -> [String] {
        [
            "/proc/self/exe", "trash-empty", "--state-dir", host.root + "/state", "--run-dir", host.root + "/run",
            "--cgroup-parent", host.parent, "--inherited-lock",
        ]
    }
}

@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct ContainerRuntimeTests {
    let probe = [
        "/bin/sh", "-c",
        "echo $$ > /tmp/pid; hostname > /tmp/hostname; ps -o pid,comm > /tmp/ps; "
            + "(wc -c < /proc/timer_list) > /tmp/timer_list 2>&1; (echo x > /proc/sys/kernel/domainname) 2>/dev/null; "
            + "echo $? > /tmp/procsys; "
            + "ls /dev > /tmp/dev; ls /proc/self/fd > /tmp/fds; exec sleep 300",
    ]

    @Test func initIsPID1WithItsHostnameAndSeesOnlyItsOwnProcesses() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(host.container("web1", command: probe) { $0.hostname = "web1.example" })
        let pid = try #require(record.pid)
        #expect(host.written("web1", "/tmp/pid") == "1")
        #expect(ProcessStat.namespacePID(pid) == 1)
        #expect(host.written("web1", "/tmp/hostname") == "web1.example")
        let ps = try #require(host.written("web1", "/tmp/ps"))
        let pids = ps.split(separator: "\n").dropFirst().compactMap { Int($0.split(separator: " ").first ?? "") }
        #expect(pids.contains(1))
        #expect(pids.allSatisfy { $0 < 10 }, "ps inside shows host processes: \(ps)")
        #expect(host.runtime.status("web1") == .running(pid: pid))
    }

    @Test func userNamespaceMapsContainerRootToAnUnprivilegedHostID() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var spec = NetworkSpec(subnet: try CIDR(parsing: "10.85.0.0/24"))
        spec.bridge = "br-t85"
        let network = NetworkObject(
            metadata: ObjectMeta(name: "usernet"), spec: spec.resolved(name: "usernet"), source: SourceLocation(file: "t", line: 1, column: 1))
        defer { try? RouteNetlink().deleteLink("br-t85") }
        let address = try CIDR(parsing: "10.85.0.10", requirePrefix: false)
        let script =
            "cat /proc/self/uid_map > /tmp/map; id -u > /tmp/uid; stat -c %u /bin/busybox > /tmp/owner; "
            + "echo hi > /root/made; mknod /tmp/node c 1 3 2>/dev/null; echo $? > /tmp/mknod; "
            + "cat /dev/null && echo ok > /tmp/devnull; ip -o -6 addr | wc -l > /tmp/inet6; "
            + "cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6 > /tmp/v6off; exec sleep 300"
        let container = host.container("userns1", command: ["/bin/sh", "-c", script]) { spec in
            spec.userNamespace = UserNamespaceSpec(uidMap: [IDRange(containerID: 0, hostID: 200_000, size: 65536)])
            spec.networks = [NetworkAttachment(network: "usernet", addresses: [address])]
        }
        let record = try host.runtime.start(container, networks: [network])
        let pid = try #require(record.pid)
        // Inside: root of its own namespace, the template's files its own, /dev usable.
        #expect(host.written("userns1", "/tmp/map")?.split(separator: " ", omittingEmptySubsequences: true) == ["0", "200000", "65536"])
        #expect(host.written("userns1", "/tmp/uid") == "0")
        #expect(host.written("userns1", "/tmp/owner") == "0")
        #expect(host.written("userns1", "/tmp/mknod") != "0")
        #expect(host.written("userns1", "/tmp/devnull") == "ok")
        // No IPv6 address in the manifest: IPv6 off inside, its veth's too.
        #expect(host.written("userns1", "/tmp/v6off") == "1")
        #expect(host.written("userns1", "/tmp/inet6") == "0")
        // Outside: the init and its files belong to host uid 200000, not root.
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(separator: "\t").dropFirst().first == "200000")
        var info = stat()
        #expect(lstat(host.root + "/state/containers/userns1/upper/root/made", &info) == 0 && info.st_uid == 200_000)
        // berth exec joins the user namespace too, and the network works.
        #expect(try host.runtime.exec("userns1", command: ["/bin/sh", "-c", "test $(id -u) = 0"]) == 0)
        #expect(try Spawn.run(["/bin/busybox", "ping", "-c", "1", "-W", "2", "10.85.0.10"]).exitedCleanly)
    }

    @Test func aDeleteThroughTheTrashFreesTheNameAtOnceAndTheEmptierRemovesTheFiles() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let state = host.runtime.state
        let first = try host.runtime.start(host.container("web1", command: ["/bin/sh", "-c", "echo one > /tmp/mark; exec sleep 300"]))
        #expect(host.written("web1", "/tmp/mark") == "one")
        try host.runtime.delete("web1", trash: true)
        // Gone at once: no directory, no record, no cgroup; its two
        // directories wait in the trash, as entries no scan takes for a container.
        #expect(!Syscall.exists(state.containerDirectory("web1")) && !Syscall.exists(state.runDirectory("web1")))
        #expect(state.names().isEmpty)
        #expect(!host.runtime.cgroups.exists(try CgroupPath(host.parent).appending("web1")))
        // Its cgroup, on v1, waits beside the others, renamed `.web1.UNIQUE`
        // in every hierarchy (`ls` of the parent), and holds nothing; on v2
        // it is gone.
        let parentDirectories = TestHost.cgroupDirectories(of: host.parent)
        let setAside = parentDirectories.map { directory in Syscall.entryNames(in: directory).filter { $0.hasPrefix(".web1.") } }
        if host.runtime.cgroups.version == .v1 {
            #expect(setAside.allSatisfy { $0.count == 1 } && Set(setAside.flatMap { $0 }).count == 1, "\(parentDirectories) \(setAside)")
            #expect(parentDirectories.allSatisfy { !Syscall.exists($0 + "/web1") })
            let procs = setAside.first?.first.map { cat(parentDirectories[0] + "/" + $0 + "/cgroup.procs") }
            #expect(procs == "", "\(procs ?? "none")")
        } else {
            #expect(setAside.allSatisfy { $0.isEmpty }, "\(setAside)")
        }
        // Not a container: nothing unrecorded runs under the parent.
        #expect(host.runtime.unrecorded(known: []).isEmpty)
        let trash = host.runtime.trash
        let cgroupEntries = host.runtime.cgroups.version == .v1 ? 1 : 0
        #expect(trash.entries().count == 2 + cgroupEntries, "\(trash.entries())")
        let directories = trash.entries().filter { !$0.hasPrefix("cgroup ") }
        #expect(directories.allSatisfy { Trash.container(ofEntry: String($0.split(separator: "/").last ?? "")) == "web1" })

        // The name again, at once, with a private layer of its own.
        let second = try host.runtime.start(host.container("web1", command: ["/bin/sh", "-c", "echo two > /tmp/mark2; exec sleep 300"]))
        #expect(host.written("web1", "/tmp/mark2") == "two")
        #expect(!Syscall.exists(state.containerDirectory("web1") + "/upper/tmp/mark"))
        #expect(second.pid != first.pid)

        // The emptier as apply starts it (detached, handed the lock): the
        // trash is empty once it lets go of the lock.
        let pid = try #require(trash.startEmptier([ContainerCLITests.binary] + Array(TrashEmptierArguments.of(host).dropFirst())))
        if let lock = trash.lock(wait: true) { withExtendedLifetime(lock) {} }
        _ = Reaper.wait(pid)
        #expect(trash.isEmpty, "\(trash.entries())")
        #expect(state.names() == ["web1"])
        // The parent holds the new web1's cgroup, and nothing set aside.
        for directory in parentDirectories {
            #expect(Syscall.entryNames(in: directory).filter { $0.hasPrefix(".") }.isEmpty, "\(directory)")
            #expect(Syscall.exists(directory + "/web1/cgroup.procs"), "\(directory)")
        }
        #expect(try host.runtime.cgroups.processes(in: try CgroupPath(host.parent).appending("web1")).contains(second.pid ?? -1))
    }

    @Test func fileWrittenInsideIsNotInTheTemplate() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(host.container("c1", command: probe))
        #expect(host.written("c1", "/tmp/hostname") == "c1")
        #expect(!FileManager.default.fileExists(atPath: record.lower + "/tmp/hostname"))
    }

    @Test func hardenedBoundaryIsSeenFromInside() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(host.container("c1", command: probe))
        let pid = try #require(record.pid)
        // Masked (this kernel has no /proc/kcore; timer_list is masked the same way).
        #expect(host.written("c1", "/tmp/timer_list") == "0")
        // /proc/sys is read-only inside.
        #expect(["1", "2"].contains(host.written("c1", "/tmp/procsys") ?? "missing"))
        // Only stdio is open in the container: no descriptor leaked from berth.
        #expect(host.written("c1", "/tmp/fds")?.split(separator: "\n").sorted() == ["0", "1", "2", "3"])
        let dev = try #require(host.written("c1", "/tmp/dev")).split(separator: "\n").map(String.init)
        #expect(Set(["null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm"]).isSubset(of: Set(dev)))
        let status = cat("/proc/\(pid)/status")
        func field(_ name: String) -> String? {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
                String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
            }
        }
        let expected = try CapabilitySet.resolve(add: [], drop: [], privileged: false).mask
        #expect(field("CapBnd").flatMap { UInt64($0, radix: 16) } == expected)
        #expect(field("CapInh") == "0000000000000000")
        #expect(field("CapAmb") == "0000000000000000")
        #expect(field("NoNewPrivs") == "1")
        let sysAdmin = UInt64(1) << 21
        #expect((field("CapEff").flatMap { UInt64($0, radix: 16) } ?? sysAdmin) & sysAdmin == 0)
    }

    @Test func seccompFilterIsOnAndRefusesDangerousCalls() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        // busybox has no keyctl; the filter shows in /proc/PID/status.
        let record = try host.runtime.start(host.container("c1", command: ["sleep", "300"]))
        let pid = try #require(record.pid)
        let status = cat("/proc/\(pid)/status")
        #expect(status.contains("Seccomp:\t2"))
        var unconfined = try host.runtime.start(
            host.container("c2", command: ["sleep", "300"]) {
                $0.security = {
                    var s = SecuritySpec(); s.seccomp = .unconfined; return s
                }()
            })
        #expect(cat("/proc/\(try #require(unconfined.pid))/status").contains("Seccomp:\t0"))
        unconfined.pid = nil
    }

    @Test func deviceNotOnTheListCannotBeUsedButAListedOneCan() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let script =
            "(mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda > /dev/null) 2> /tmp/sda.err; echo $? > /tmp/sda.rc; "
            + "(exec 3<> /dev/net/tun) 2> /tmp/tun.err; echo $? > /tmp/tun.rc; exec sleep 300"
        let hasTun = FileManager.default.fileExists(atPath: "/dev/net/tun")
        _ = try host.runtime.start(
            host.container("c1", command: ["/bin/sh", "-c", script]) {
                $0.devices = hasTun ? [DeviceSpec(path: "/dev/net/tun", access: "rw")] : []
            })
        #expect(host.written("c1", "/tmp/sda.rc") != "0", "\(host.written("c1", "/tmp/sda.err", waitSeconds: 1) ?? "")")
        #expect(host.written("c1", "/tmp/sda.err")?.contains("Operation not permitted") == true)
        if hasTun {
            #expect(host.written("c1", "/tmp/tun.rc") == "0", "\(host.written("c1", "/tmp/tun.err", waitSeconds: 1) ?? "")")
        }
    }

    @Test func capabilityAddedInTheManifestIsInTheBoundingSet() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(
            host.container("c1", command: ["sleep", "300"]) { $0.capabilities = CapabilitiesSpec(add: ["CAP_NET_ADMIN"], drop: ["CAP_MKNOD"]) })
        let pid = try #require(record.pid)
        let line = cat("/proc/\(pid)/status").split(separator: "\n").first { $0.hasPrefix("CapBnd:") } ?? ""
        let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16) ?? 0
        #expect(mask & (1 << 12) != 0)  // CAP_NET_ADMIN
        #expect(mask & (1 << 27) == 0)  // CAP_MKNOD
    }

    @Test func memoryLimitFromTheSpecShowsInTheCgroupFile() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(
            host.container("c1", command: ["sleep", "300"]) { spec in
                var resources = ResourcesSpec()
                resources.memory = MemorySpec(max: ByteSize(bytes: 64 << 20))
                resources.pids = PidsSpec(max: 64)
                spec.resources = resources
            })
        let observed = try host.runtime.cgroups.observe(try CgroupPath(record.cgroup))
        #expect(observed.limits.memoryMax == 64 << 20)
        #expect(observed.limits.pidsMax == 64)
        #expect(try host.runtime.cgroups.processes(in: try CgroupPath(record.cgroup)).contains(try #require(record.pid)))
        // The init moved itself in (v1) or was cloned in (v2): every
        // hierarchy berth manages shows the container's cgroup.
        let lines = cat("/proc/\(try #require(record.pid))/cgroup").split(separator: "\n")
        let managed = lines.filter(Sandbox.isManagedHierarchy)
        #expect(!managed.isEmpty && managed.allSatisfy { $0.hasSuffix(":/" + record.cgroup) }, "\(lines)")
    }

    @Test func stopKillsAnInitThatIgnoresSIGTERMAndCleansUp() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        // A shell as PID 1 has no SIGTERM handler: only the SIGKILL fallback ends it.
        let record = try host.runtime.start(host.container("c1", command: ["/bin/sh", "-c", "sleep 300 & sleep 300 & wait"]))
        let pid = try #require(record.pid)
        try host.runtime.stop("c1", timeout: Interval(milliseconds: 300))
        #expect(host.runtime.status("c1") == .stopped)
        #expect(ProcessStat.read(pid)?.isAlive != true)
        #expect(!host.runtime.cgroups.exists(try CgroupPath(record.cgroup)))
    }

    /// A suspended container: a delete kills it at once (the freezer no
    /// longer holds the SIGKILL back until a wait runs out), and a stop
    /// thaws it first, so that its init shuts down on SIGTERM as asked.
    @Test func aSuspendedContainerIsDeletedAtOnceAndStoppedCleanly() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let killed = try host.runtime.start(host.container("c1", command: ["sleep", "300"]))
        try host.runtime.setFrozen("c1", true)
        #expect(host.runtime.cgroups.isFrozen(try CgroupPath(killed.cgroup)))
        var began = MonotonicClock.milliseconds()
        try host.runtime.delete("c1", trash: true)
        // (Held back, the kill waited 5 s before drain thawed it.)
        #expect(MonotonicClock.milliseconds() - began < 3000)
        #expect(ProcessStat.read(try #require(killed.pid))?.isAlive != true)
        #expect(host.runtime.status("c1") == .unknown)

        // A shell as PID 1 that leaves a mark on SIGTERM, suspended once its
        // trap is set (before that, PID 1 ignores SIGTERM).
        let script = "trap 'echo bye > /tmp/stopped; exit 0' TERM; echo set > /tmp/trap; while true; do sleep 1; done"
        let stopped = try host.runtime.start(host.container("c2", command: ["/bin/sh", "-c", script]))
        #expect(host.written("c2", "/tmp/trap") == "set")
        try host.runtime.setFrozen("c2", true)
        began = MonotonicClock.milliseconds()
        // (Held back, the SIGTERM waited out the whole 20 s, and the kill 5 s more.)
        try host.runtime.stop("c2", timeout: Interval(milliseconds: 20_000))
        #expect(MonotonicClock.milliseconds() - began < 15_000)
        #expect(host.written("c2", "/tmp/stopped", waitSeconds: 5) == "bye")
        #expect(ProcessStat.read(try #require(stopped.pid))?.isAlive != true)
        #expect(host.runtime.status("c2") == .stopped)
    }

    @Test func aNewRuntimeFindsTheRunningContainerAgain() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(host.container("c1", command: ["sleep", "300"]))
        let again = ContainerRuntime(paths: host.runtime.paths, cgroups: try CgroupDrivers.detect(), logger: Logger(label: "again"))
        #expect(again.status("c1") == .running(pid: try #require(record.pid)))
    }

    @Test func symlinkedMountTargetIsRefusedNotFollowedOutOfTheRoot() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        // The container's own layer holds /data → /etc (as a hostile image could).
        let upper = "\(host.root)/state/containers/c1/upper"
        try FileManager.default.createDirectory(atPath: upper, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: upper + "/data", withDestinationPath: "/etc")
        let source = host.root + "/source"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let hostEtc = try FileManager.default.contentsOfDirectory(atPath: "/etc").sorted()
        #expect {
            _ = try host.runtime.start(
                host.container("c1", command: ["sleep", "300"]) { $0.mounts = [MountSpec(source: source, destination: "/data")] })
        } throws: { error in
            (error as? ContainerStartError).map { $0.step == "bind mount" && $0.errno == ELOOP } ?? false
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/etc").sorted() == hostEtc)
        #expect(host.runtime.status("c1") != .running(pid: 0))
    }
}

@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct ContainerExecTests {
    @Test func execJoinsEveryNamespaceAndReturnsTheExitCode() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(host.container("c1", command: ["sleep", "300"]) { $0.hostname = "inside" })
        let script = "hostname > /tmp/exec-hostname; ps -o pid,comm > /tmp/exec-ps; cat /proc/self/cgroup > /tmp/exec-cgroup; exit 7"
        let code = try host.runtime.exec("c1", command: ["/bin/sh", "-c", script])
        #expect(code == 7)
        #expect(host.written("c1", "/tmp/exec-hostname") == "inside")
        let ps = try #require(host.written("c1", "/tmp/exec-ps"))
        let pids = ps.split(separator: "\n").dropFirst().compactMap { Int($0.split(separator: " ").first ?? "") }
        #expect(pids.contains(1) && pids.allSatisfy { $0 < 20 }, "\(ps)")
        // In the container's cgroup namespace, its own cgroup is the root, in
        // every hierarchy berth manages.
        let lines = try #require(host.written("c1", "/tmp/exec-cgroup")).split(separator: "\n")
        let managed = lines.filter(Sandbox.isManagedHierarchy)
        #expect(!managed.isEmpty && managed.allSatisfy { $0.hasSuffix(":/") }, "\(lines)")
        #expect(try host.runtime.cgroups.processes(in: try CgroupPath(record.cgroup)).count == 1)
    }

    @Test func execOfAMissingProgramSaysWhichStepFailed() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        _ = try host.runtime.start(host.container("c1", command: ["sleep", "300"]))
        #expect {
            _ = try host.runtime.exec("c1", command: ["/no/such/program"])
        } throws: { error in
            (error as? ContainerStartError).map { $0.step == "execute the command" && $0.errno == ENOENT } ?? false
        }
    }

    @Test func execIntoAStoppedContainerIsRefused() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        _ = try host.runtime.start(host.container("c1", command: ["sleep", "300"]))
        try host.runtime.stop("c1", timeout: Interval(milliseconds: 100))
        #expect(throws: ContainerRuntime.RuntimeError.self) { _ = try host.runtime.exec("c1", command: ["true"]) }
    }
}

/// The berth binary driven as a user would, against containers of a test host.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct ContainerCLITests {
    /// `.build/debug/berth` of this package, or BERTH_TEST_BINARY (a build
    /// with another --scratch-path).
    static let binary =
        ProcessInfo.processInfo.environment["BERTH_TEST_BINARY"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/berth").path

    func berth(_ host: TestHost, _ arguments: [String]) throws -> (code: Int32, output: String) {
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        let command = arguments[0]
        let result = try Spawn.run([ContainerCLITests.binary, command] + global + arguments.dropFirst())
        return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
    }

    @Test func listExecUBCSuspendStopAndStartFromTheCommandLine() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var web1 = host.container("web1", command: ["sleep", "300"]) { spec in
            var resources = ResourcesSpec()
            resources.memory = MemorySpec(max: ByteSize(bytes: 128 << 20))
            resources.pids = PidsSpec(max: 100)
            spec.resources = resources
        }
        web1.metadata.labels = ["tier": "web"]
        let record = try host.runtime.start(web1)
        let pid = try #require(record.pid)

        let list = try berth(host, ["list", "--output", "json"])
        #expect(list.code == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [[String: Any]]
        #expect(rows?.first?["name"] as? String == "web1")
        #expect(rows?.first?["state"] as? String == "running")
        #expect(rows?.first?["pid"] as? Int == Int(pid))
        // A running container's cgroup, layers, record and uptime; the same keys as a stopped one's.
        let row = try #require(rows?.first)
        #expect(row["cgroup"] as? String == record.cgroup)
        let rootfs = row["rootfs"] as? [String: Any]
        #expect(rootfs?["lower"] as? String == record.lower && rootfs?["upper"] as? String == record.upper)
        #expect(rootfs?["work"] as? String == record.work && rootfs?.keys.contains("diskImage") == true)
        #expect((row["record"] as? [String: Any])?["cgroup"] as? String == record.cgroup)
        #expect(row["hostname"] as? String == "web1")
        #expect(row["labels"] as? [String: String] == ["tier": "web"])
        #expect(try berth(host, ["list", "-q", "-l", "tier=web"]).output == "web1\n")
        #expect(try berth(host, ["list", "-q", "-l", "tier=db"]).output == "")
        #expect((row["uptimeSeconds"] as? Int).map { $0 >= 0 && $0 < 600 } == true, "\(row)")
        let status = try berth(host, ["status", "web1", "-o", "json"])
        let statusRow = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
        #expect(statusRow.map { Set($0.keys) } == Set(row.keys))
        let table = try berth(host, ["list", "--columns", "name,uptime,restarts"]).output.split(separator: "\n")
        #expect(table.first?.split(separator: " ") == ["NAME", "UPTIME", "RESTARTS"])
        #expect(table.dropFirst().first?.split(separator: " ").last == "0", "\(table)")

        #expect(try berth(host, ["exec", "web1", "--", "/bin/sh", "-c", "exit 3"]).code == 3)
        // OpenVZ's table, physpages in pages of this system's size.
        let ubc = try berth(host, ["ubc", "web1"]).output
        let pages = (128 << 20) / Int(sysconf(Int32(_SC_PAGESIZE)))
        #expect(ubc.hasPrefix("Version: 2.5\n"), "\(ubc)")
        let physpages = ubc.split(separator: "\n").first { $0.contains(" physpages ") }?.split(separator: " ")
        #expect(physpages?.suffix(3).map(String.init) == ["\(pages)", "\(pages)", "0"], "\(ubc)")
        #expect(ubc.split(separator: "\n").dropFirst(2).first?.hasPrefix("      web1: ") == true, "\(ubc)")
        let ubcJSON = try berth(host, ["ubc", "web1", "-o", "json"])
        let counters = try JSONSerialization.jsonObject(with: Data(ubcJSON.output.utf8)) as? [[String: Any]]
        let numproc = counters?.first { $0["resource"] as? String == "numproc" }
        #expect(numproc?["limit"] as? Int == 100 && numproc?["unit"] as? String == "count", "\(ubcJSON.output)")
        #expect((numproc?["source"] as? [String: String])?["failcnt"] == "pids.events max")
        #expect(counters?.contains { $0["resource"] as? String == "numfile" && ($0["held"] as? Int ?? 0) >= 3 } == true)
        #expect(try berth(host, ["ubc", "nosuch"]).code == 1)

        #expect(try berth(host, ["suspend", "web1"]).code == 0)
        #expect(try berth(host, ["status", "web1"]).output.contains("frozen"))
        #expect(try berth(host, ["resume", "web1"]).code == 0)
        #expect(try berth(host, ["status", "web1"]).output.contains("running"))

        // -t: the command gets a terminal; input is relayed, the exit code kept.
        let tty = try berth(host, ["exec", "-t", "web1", "--", "/bin/sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty"])
        #expect(tty.code == 0)
        #expect(tty.output.contains("is-a-tty"))
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        let interactive = try Spawn.run(
            [ContainerCLITests.binary, "exec"] + global + ["-t", "web1", "--", "/bin/sh"],
            input: Array("echo hello-$((6*7)); exit 5\n".utf8))
        #expect((interactive.status >> 8) & 0xff == 5)
        #expect(String(decoding: interactive.output, as: UTF8.self).contains("hello-42"))

        #expect(try berth(host, ["stop", "web1", "--timeout", "0"]).code == 0)
        #expect(host.runtime.status("web1") == .stopped)
        #expect(try berth(host, ["start", "web1"]).code == 0)
        guard case .running(let again) = host.runtime.status("web1") else {
            Issue.record("not running after berth start")
            return
        }
        #expect(again != pid)
        #expect(try berth(host, ["stop", "web1", "--timeout", "0"]).code == 0)
    }
}

@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct ContainerResourceTests {
    /// CPU time the container's cgroup used over `seconds` of wall time.
    func cpuSeconds(_ host: TestHost, _ record: ContainerRecord, over seconds: Double) throws -> Double {
        let group = try CgroupPath(record.cgroup)
        let before = try host.runtime.cgroups.observe(group).cpuUsageNanos ?? 0
        usleep(UInt32(seconds * 1_000_000))
        let after = try host.runtime.cgroups.observe(group).cpuUsageNanos ?? 0
        return Double(after - before) / 1e9
    }

    @Test func cpuLimitHoldsABusyLoopNearItsQuotaAndChangesLive() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(
            host.container("busy", command: ["/bin/sh", "-c", "while :; do :; done"]) { spec in
                var resources = ResourcesSpec()
                resources.cpu = CPUSpec(limit: CPUQuantity(millicores: 200))
                spec.resources = resources
            })
        let limited = try cpuSeconds(host, record, over: 1.0)
        #expect(limited > 0.05 && limited < 0.35, "used \(limited) s of CPU in 1 s under a 0.2-core limit")
        // Live: raise the limit without a restart; the same init keeps running.
        var resources = ResourcesSpec()
        resources.cpu = CPUSpec(limit: CPUQuantity(millicores: 600))
        resources.memory = MemorySpec(max: ByteSize(bytes: 96 << 20))
        try host.runtime.updateResources("busy", resources)
        let raised = try cpuSeconds(host, record, over: 1.0)
        // The ceiling is what the quota guarantees; the floor is loose because
        // other suites run in parallel on two cores.
        #expect(raised > limited && raised > 0.2 && raised < 0.75, "used \(raised) s of CPU in 1 s under a 0.6-core limit")
        let observed = try host.runtime.cgroups.observe(try CgroupPath(record.cgroup)).limits
        #expect(observed.cpuQuotaMicros == 60_000)
        #expect(observed.memoryMax == 96 << 20)
        #expect(host.runtime.status("busy") == .running(pid: try #require(record.pid)))
    }
}

@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct ContainerRootfsTests {
    @Test func tarballTemplateIsUnpackedOnceAndSharedAsTheLowerLayer() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let template = try host.runtime.templates.path(of: "busybox", logger: Logger(label: "test"))
        let tarball = host.root + "/image.tar.gz"
        let tar = try Spawn.run(["/bin/tar", "--create", "--gzip", "--file", tarball, "--directory", template, "."])
        #expect(tar.exitedCleanly)
        let a = try host.runtime.start(
            host.container("a", command: ["/bin/sh", "-c", "echo from-a > /tmp/mark; exec sleep 300"]) {
                $0.rootfs = RootfsSpec(source: .tarball(tarball))
            })
        let b = try host.runtime.start(
            host.container("b", command: ["/bin/sh", "-c", "echo from-b > /tmp/mark; exec sleep 300"]) {
                $0.rootfs = RootfsSpec(source: .tarball(tarball))
            })
        #expect(a.lower == b.lower)
        #expect(a.lower.contains("/templates/tar-"))
        #expect(host.written("a", "/tmp/mark") == "from-a")
        #expect(host.written("b", "/tmp/mark") == "from-b")
    }

    @Test func bindMountsOfADirectoryAndAFileReadOnly() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let data = host.root + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try "shared\n".write(toFile: data + "/file.txt", atomically: true, encoding: .utf8)
        try "motd\n".write(toFile: host.root + "/motd", atomically: true, encoding: .utf8)
        let script =
            "cat /data/file.txt > /tmp/seen; cat /etc/motd >> /tmp/seen; (echo x > /etc/motd) 2>/dev/null; echo $? > /tmp/ro; "
            + "echo written > /data/new.txt; exec sleep 300"
        _ = try host.runtime.start(
            host.container("c1", command: ["/bin/sh", "-c", script]) { spec in
                spec.mounts = [
                    MountSpec(source: data, destination: "/data"),
                    MountSpec(source: host.root + "/motd", destination: "/etc/motd", readOnly: true),
                ]
            })
        #expect(host.written("c1", "/tmp/ro") != "0")
        #expect(host.written("c1", "/tmp/seen") == "shared\nmotd")
        // A writable bind mount writes through to the host directory.
        for _ in 0..<250 where !FileManager.default.fileExists(atPath: data + "/new.txt") { usleep(20_000) }
        #expect((try? String(contentsOfFile: data + "/new.txt", encoding: .utf8)) == "written\n")
        #expect((try? String(contentsOfFile: host.root + "/motd", encoding: .utf8)) == "motd\n")
    }
}
