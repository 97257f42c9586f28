import Engine
import Foundation
import Kernel
import Logging
import Model
import Reconcile
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// An lxcfs daemon of the test's own, on a private mountpoint in the
/// sandbox's mount namespace; stopped by its pid, its mount checked gone.
final class TestLXCFS {
    let root: String
    let directory: String
    let child: Child

    /// Its own directory (not a test host's root, which is removed while
    /// LXCFS may still be mounted in it); `options` added to lxcfs's.
    init(options: [String] = []) throws {
        root = "/tmp/berth-lxcfs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        directory = root + "/mnt"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // -l: loadavg too; -p: its pid file off the host's /run.
        child = try Child(held: "exec /usr/bin/lxcfs -f -l \(options.joined(separator: " ")) -p '\(root)/lxcfs.pid' '\(directory)'")
        child.release()
    }

    var isReady: Bool { LXCFS(directory: directory).isLive() }

    /// Stops it: its filesystem unmounted (lazily: a FUSE daemon ends once
    /// the kernel lets go of it), then SIGTERM (the test runner may hand its
    /// children a mask that blocks it), SIGKILL only as a last resort.
    /// Returns what is left: its process or its mount.
    func stop() -> [String] {
        var leaks: [String] = []
        umount2(directory, Int32(MNT_DETACH))
        kill(child.pid, SIGTERM)
        if child.wait(timeoutSeconds: 10) == nil {
            leaks.append("lxcfs pid \(child.pid)")
            child.kill()
        }
        let mountinfo = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        if mountinfo.contains(" \(directory) ") { leaks.append("fuse mount \(directory)") }
        try? FileManager.default.removeItem(atPath: root)
        return leaks
    }
}

@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct ProcVirtualizationTests {
    /// Skipped without lxcfs, except where the lane must run them
    /// (BERTH_LXCFS_REQUIRED=1, the VM lane): there a missing lxcfs fails.
    static let lxcfsInstalled =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/lxcfs") || ProcessInfo.processInfo.environment["BERTH_LXCFS_REQUIRED"] == "1"

    /// What a user checks inside: free, the CPUs cpuinfo lists, nproc,
    /// uptime. procps' `free` and `top` read /proc/meminfo (LXCFS's);
    /// busybox's `free` and `uptime` ask sysinfo(2), which berth's responder
    /// answers from the container's cgroup.
    static let probe = [
        "/bin/sh", "-c",
        "free -m > /tmp/free; head -1 /proc/meminfo > /tmp/meminfo; grep -c ^processor /proc/cpuinfo > /tmp/cpuinfo; "
            + "nproc > /tmp/nproc; cut -d' ' -f1 /proc/uptime > /tmp/uptime; uptime > /tmp/busybox-uptime; exec sleep 300",
    ]

    /// The "total" column of `free -m`'s Mem: line, in MiB.
    static func totalMiB(_ free: String?) -> Int? {
        guard let line = free?.split(separator: "\n").first(where: { $0.hasPrefix("Mem:") }) else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }

    /// MemTotal of /proc/meminfo ("MemTotal:  131072 kB"), in MiB.
    static func memTotalMiB(_ meminfo: String?) -> Int? {
        meminfo?.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 >> 10 }
    }

    /// The "available" column of `free -m`'s Mem: line, in MiB.
    static func availableMiB(_ free: String?) -> Int? {
        guard let line = free?.split(separator: "\n").first(where: { $0.hasPrefix("Mem:") }) else { return nil }
        return line.split(separator: " ").last.flatMap { Int($0) }
    }

    @Test(.enabled(if: lxcfsInstalled, "lxcfs is not installed (scripts/install-deps.sh installs it)"))
    func freeInsideShowsTheMemoryLimitAndCpuinfoItsCPUsWithLXCFS() throws {
        try withLXCFS { host, runtime in try freeInside(host, runtime) }
    }

    /// A test host whose runtime looks for a live LXCFS of the test's own;
    /// both torn down after `body`, nothing left behind.
    func withLXCFS(options: [String] = [], _ body: (TestHost, ContainerRuntime) throws -> Void) throws {
        let host = try TestHost()
        let lxcfs = try TestLXCFS(options: options)
        defer {
            #expect(host.tearDown() == [])
            #expect(lxcfs.stop() == [])
        }
        #expect(eventually(seconds: 20) { lxcfs.isReady }, "lxcfs did not mount \(lxcfs.directory)")
        var paths = host.runtime.paths
        paths.lxcfsDirectory = .init(lxcfs.directory)
        var runtime = ContainerRuntime(paths: paths, cgroups: host.runtime.cgroups, logger: Logger(label: "test"))
        // The sysinfo responder is berth's (`berth sysinfo-responder`), not this test binary.
        runtime.relayExecutable = ContainerCLITests.binary
        try body(host, runtime)
    }

    func freeInside(_ host: TestHost, _ runtime: ContainerRuntime) throws {
        let hostCPUs = sysconf(Int32(_SC_NPROCESSORS_ONLN))

        // Unset: LXCFS is live, so /proc is the container's.
        let small = try runtime.start(
            host.container("small", command: ProcVirtualizationTests.probe) { spec in
                var resources = ResourcesSpec()
                resources.memory = MemorySpec(max: ByteSize(bytes: 128 << 20))
                resources.cpu = CPUSpec(cpus: CPUSet(cpus: [0]))
                spec.resources = resources
            })
        let total = try #require(ProcVirtualizationTests.memTotalMiB(host.written("small", "/tmp/meminfo")))
        #expect(total == 128, "/proc/meminfo inside shows \(total) MiB total")
        let available = try #require(ProcVirtualizationTests.availableMiB(host.written("small", "/tmp/free")))
        #expect(available <= 128, "free -m inside shows \(available) MiB available")
        #expect(host.written("small", "/tmp/cpuinfo") == "1")
        #expect(host.written("small", "/tmp/nproc") == "1")
        let uptime = try #require(host.written("small", "/tmp/uptime").flatMap { Double($0) })
        #expect(uptime < 60, "uptime inside is \(uptime) s: the host's")
        // busybox's free and uptime: sysinfo(2), answered from the cgroup.
        let freeTotal = try #require(ProcVirtualizationTests.totalMiB(host.written("small", "/tmp/free")))
        #expect(freeTotal == 128, "free -m inside shows \(freeTotal) MiB total")
        let busyboxUptime = try #require(host.written("small", "/tmp/busybox-uptime"))
        #expect(busyboxUptime.contains("up 0 min") || busyboxUptime.contains("up 1 min"), "uptime inside: \(busyboxUptime)")
        // A command berth exec runs gets the same answers.
        #expect(try runtime.exec("small", command: ["/bin/sh", "-c", "free -m > /tmp/free-exec"]) == 0)
        #expect(ProcVirtualizationTests.totalMiB(host.written("small", "/tmp/free-exec")) == 128)
        // One responder for the init (the exec's has ended with its command).
        #expect(eventually(seconds: 5) { TestHost.processes(withArguments: ["sysinfo-responder", host.parent]).count == 1 })
        #expect(try LXCFS.observe(pid: try #require(small.pid)))

        // false: the host's files, as the kernel gives them.
        let plain = try runtime.start(
            host.container("plain", command: ProcVirtualizationTests.probe) { spec in
                var resources = ResourcesSpec()
                resources.memory = MemorySpec(max: ByteSize(bytes: 128 << 20))
                spec.resources = resources
                spec.proc = ProcSpec(virtualize: false)
            })
        let hostTotal = (sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE))) >> 20
        let plainTotal = try #require(ProcVirtualizationTests.memTotalMiB(host.written("plain", "/tmp/meminfo")))
        #expect(abs(plainTotal - hostTotal) <= 1, "/proc/meminfo shows \(plainTotal) MiB, the host has \(hostTotal)")
        #expect(host.written("plain", "/tmp/cpuinfo") == "\(hostCPUs)")
        let plainFree = try #require(ProcVirtualizationTests.totalMiB(host.written("plain", "/tmp/free")))
        #expect(abs(plainFree - hostTotal) <= 1, "free -m shows \(plainFree) MiB, the host has \(hostTotal)")
        #expect(!(try LXCFS.observe(pid: try #require(plain.pid))))
    }

    /// A cpu limit without a cpu set: cpuinfo lists as many CPUs as the
    /// limit rounds up to where LXCFS runs with --enable-cfs (Debian's
    /// lxcfs.service does not pass it); nproc counts the CPUs the container
    /// may run on (its cpu set), so it stays the host's.
    @Test(.enabled(if: lxcfsInstalled, "lxcfs is not installed (scripts/install-deps.sh installs it)"))
    func cpuinfoFollowsACpuLimitWhereLXCFSRunsWithCFS() throws {
        let hostCPUs = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        try withLXCFS(options: ["--enable-cfs"]) { host, runtime in
            _ = try runtime.start(
                host.container("capped", command: ProcVirtualizationTests.probe) { spec in
                    var resources = ResourcesSpec()
                    resources.cpu = CPUSpec(limit: CPUQuantity(millicores: 1000))
                    spec.resources = resources
                })
            #expect(host.written("capped", "/tmp/cpuinfo") == "1", "the host has \(hostCPUs)")
            #expect(host.written("capped", "/tmp/nproc") == "\(hostCPUs)")
        }
    }

    @Test func virtualizeTrueWithoutLXCFSFailsToStartAndSaysWhy() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var paths = host.runtime.paths
        paths.lxcfsDirectory = .init(host.root + "/no-lxcfs")
        let runtime = ContainerRuntime(paths: paths, cgroups: host.runtime.cgroups, logger: Logger(label: "test"))
        #expect {
            try runtime.start(host.container("web", command: ["/bin/sleep", "300"]) { $0.proc = ProcSpec(virtualize: true) })
        } throws: { error in
            "\(error)".contains("LXCFS is not mounted at \(host.root)/no-lxcfs")
        }
        // Unset: it starts with the host's /proc.
        let record = try runtime.start(host.container("web2", command: ["/bin/sleep", "300"]))
        #expect(!(try LXCFS.observe(pid: try #require(record.pid))))
    }

    /// The field contract: a change on a running container is pending
    /// until a restart, observed in the init's mountinfo, and then matches.
    @Test(.enabled(if: lxcfsInstalled, "lxcfs is not installed (scripts/install-deps.sh installs it)"))
    func virtualizeChangedOnARunningContainerIsPendingRestartThenObserved() throws {
        try withLXCFS { host, runtime in try restartTakesIt(host, runtime) }
    }

    func restartTakesIt(_ host: TestHost, _ runtime: ContainerRuntime) throws {
        let reconciler = Reconciler(runtime: runtime, logger: Logger(label: "test"))
        func desired(_ virtualize: Bool?) -> DesiredHost {
            DesiredHost(
                host: HostFacts(name: "h"), networks: [],
                containers: [host.container("pc", command: ["/bin/sleep", "300"]) { $0.proc = virtualize.map { ProcSpec(virtualize: $0) } }])
        }
        _ = reconciler.apply(reconciler.plan(desired(false)))
        let pid = try #require(runtime.state.load("pc")?.pid)
        #expect(!(try LXCFS.observe(pid: pid)))
        #expect(reconciler.plan(desired(false)).isEmpty)

        let plan = reconciler.plan(desired(true))
        #expect(plan.map(\.kind) == [.pendingRestart])
        #expect(plan.first?.changes.map(\.description) == ["spec.proc.virtualize: host → lxcfs"])
        _ = reconciler.apply(plan)
        #expect(runtime.state.load("pc")?.pid == pid)  // pending: not restarted without --restart
        _ = reconciler.apply(plan, options: ApplyOptions(restart: true))
        let restarted = try #require(runtime.state.load("pc")?.pid)
        #expect(restarted != pid)
        #expect(try LXCFS.observe(pid: restarted))
        #expect(reconciler.plan(desired(true)).isEmpty)
        // Unset, with LXCFS live: the container's /proc, as it has.
        #expect(reconciler.plan(desired(nil)).allSatisfy { $0.kind == .updateLive && $0.changes.allSatisfy { $0.origin == .manifest } })
    }
}
