import Foundation
import Kernel
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The field contract on the real kernel, through the berth binary, as a
/// user meets it: change a field in the manifest → plan shows it →
/// apply → the kernel file changed, the init kept its pid, plan says "No
/// changes"; change the kernel behind berth's back → drift exits 2 naming
/// the field → apply repairs it. docs/manifests.md lists every field's
/// class; Tests/schema/test_field_contract.py checks that every live and
/// restart field is named by a kernel test.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct FieldContractTests {
    /// One container, its manifest written to a directory of its own.
    struct Bench {
        let host: TestHost
        let manifests: String
        var global: [String] { ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent] }

        init() throws {
            host = try TestHost()
            manifests = host.root + "/manifests"
            try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        }

        /// `spec` lines go under `spec:`; rootfs and init are added unless given.
        func write(_ spec: String, name: String = "fc1") throws {
            var lines = spec.split(separator: "\n").map(String.init)
            if !lines.contains(where: { $0.hasPrefix("rootfs:") }) { lines.append("rootfs: {template: busybox}") }
            if !lines.contains(where: { $0.hasPrefix("init:") }) { lines.append("init: {command: [/bin/sleep, \"600\"]}") }
            let text = """
                apiVersion: berth/v1
                kind: Container
                metadata: {name: \(name)}
                spec:
                \(lines.map { "  " + $0 }.joined(separator: "\n"))

                """
            try text.write(toFile: manifests + "/\(name).yaml", atomically: true, encoding: .utf8)
        }

        @discardableResult
        func berth(_ command: String, _ arguments: [String] = []) throws -> (code: Int32, output: String) {
            let paths = ["plan", "apply", "drift", "validate"].contains(command) ? [manifests] : []
            let result = try Spawn.run([ContainerCLITests.binary, command] + global + arguments + paths, mergingStandardError: true)
            return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
        }

        func pid(_ name: String = "fc1") -> Int32? {
            guard let record = host.runtime.state.load(name), host.runtime.isRunning(record) else { return nil }
            return record.pid
        }

        /// A cgroup file of the container, as `cat` shows it.
        func kernel(_ controller: String, _ file: String, _ name: String = "fc1") -> String? {
            guard let path = cgroupFile(controller, file, name) else { return nil }
            return (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func cgroupFile(_ controller: String, _ file: String, _ name: String = "fc1") -> String? {
            // v1 io weights are in blkio.bfq.weight under the BFQ scheduler.
            if file == "blkio.weight", let bfq = cgroupFile(controller, "blkio.bfq.weight", name) { return bfq }
            let directory =
                host.runtime.cgroups.version == .v2
                ? "/sys/fs/cgroup/\(host.parent)/\(name)" : "/sys/fs/cgroup/\(controller)/\(host.parent)/\(name)"
            let path = directory + "/" + file
            return FileManager.default.fileExists(atPath: path) ? path : nil
        }

        /// What an admin's echo into a cgroup file does.
        func writeBehindBerthsBack(_ controller: String, _ file: String, _ value: String, _ name: String = "fc1") throws {
            let path = try #require(cgroupFile(controller, file, name))
            try value.write(toFile: path, atomically: false, encoding: .utf8)
        }
    }

    /// One live resource field: the manifest before and after, the kernel
    /// file and value after, and a value to write behind berth's back.
    struct LiveCase: CustomStringConvertible, Sendable {
        var field: String
        var before: String
        var after: String
        /// (controller, file, value after apply) per cgroup version.
        var v1: (String, String, String)
        var v2: (String, String, String)
        var driftValue: (v1: String, v2: String)
        var description: String { field }
    }

    static let blockDevice: String? = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
        for name in names.sorted() where !name.hasPrefix("loop") && !name.hasPrefix("ram") && !name.hasPrefix("zram") {
            if let dev = try? String(contentsOfFile: "/sys/block/\(name)/dev", encoding: .utf8) {
                return dev.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        return nil
    }()

    static let cases: [LiveCase] = {
        var cases = [
            LiveCase(
                field: "spec.resources.cpu.weight", before: "resources: {cpu: {weight: 100}}", after: "resources: {cpu: {weight: 400}}",
                v1: ("cpu", "cpu.shares", "4096"), v2: ("cpu", "cpu.weight", "400"), driftValue: ("512", "50")),
            // 5m needs a longer CFS period (the kernel's least quota is 1 ms).
            LiveCase(
                field: "spec.resources.cpu.limit", before: "resources: {cpu: {limit: \"0.5\"}}", after: "resources: {cpu: {limit: \"5m\"}}",
                v1: ("cpu", "cpu.cfs_quota_us", "1000"), v2: ("cpu", "cpu.max", "1000 200000"), driftValue: ("50000", "50000 100000")),
            LiveCase(
                field: "spec.resources.cpu.cpus", before: "resources: {}", after: "resources: {cpu: {cpus: \"0\"}}",
                v1: ("cpuset", "cpuset.cpus", "0"), v2: ("cpuset", "cpuset.cpus", "0"), driftValue: ("0-1", "0-1")),
            LiveCase(
                field: "spec.resources.memory.max", before: "resources: {memory: {max: 64Mi}}", after: "resources: {memory: {max: 96Mi}}",
                v1: ("memory", "memory.limit_in_bytes", "100663296"), v2: ("memory", "memory.max", "100663296"),
                driftValue: ("83886080", "83886080")),
            LiveCase(
                field: "spec.resources.memory.high", before: "resources: {memory: {max: 96Mi, high: 64Mi}}",
                after: "resources: {memory: {max: 96Mi, high: 32Mi}}", v1: ("memory", "memory.soft_limit_in_bytes", "33554432"),
                v2: ("memory", "memory.high", "33554432"), driftValue: ("41943040", "41943040")),
            LiveCase(
                field: "spec.resources.memory.swap", before: "resources: {memory: {max: 64Mi, swap: 0}}",
                after: "resources: {memory: {max: 64Mi, swap: 16Mi}}", v1: ("memory", "memory.memsw.limit_in_bytes", "83886080"),
                v2: ("memory", "memory.swap.max", "16777216"), driftValue: ("100663296", "33554432")),
            LiveCase(
                field: "spec.resources.pids.max", before: "resources: {pids: {max: 64}}", after: "resources: {pids: {max: 128}}",
                v1: ("pids", "pids.max", "128"), v2: ("pids", "pids.max", "128"), driftValue: ("100", "100")),
            LiveCase(
                field: "spec.resources.io.weight", before: "resources: {io: {weight: 100}}", after: "resources: {io: {weight: 500}}",
                v1: ("blkio", "blkio.weight", "50"), v2: ("io", "io.weight", "default 500"), driftValue: ("10", "default 100")),
        ]
        if let device = blockDevice {
            cases.append(
                LiveCase(
                    field: "spec.resources.io.limits", before: "resources: {}",
                    after: "resources: {io: {limits: [{device: \"\(device)\", readBps: 1Mi}]}}",
                    v1: ("blkio", "blkio.throttle.read_bps_device", "\(device) 1048576"),
                    v2: ("io", "io.max", "\(device) rbps=1048576 wbps=max riops=max wiops=max"),
                    driftValue: ("\(device) 2097152", "\(device) rbps=2097152")))
        }
        return cases
    }()

    @Test(arguments: FieldContractTests.cases)
    func liveFieldChangesInTheKernelWithoutARestartAndItsDriftIsRepaired(_ field: LiveCase) throws {
        let bench = try Bench()
        defer { #expect(bench.host.tearDown() == []) }
        let version = bench.host.runtime.cgroups.version
        let (controller, file, value) = version == .v2 ? field.v2 : field.v1
        // A host without the file (no swap accounting, no io weights) cannot
        // hold the field: apply must say so rather than pretend.
        try bench.write(field.before)
        let first = try bench.berth("apply")
        guard bench.kernel(controller, file) != nil, first.code == 0 else {
            try bench.write(field.after)
            let refused = try bench.berth("apply")
            #expect(refused.code == 1 && refused.output.contains("failed"), "\(field): \(refused.output)")
            return
        }
        let pid = try #require(bench.pid())
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)

        try bench.write(field.after)
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(plan.code == 2 && plan.output.contains("update-live Container/fc1") && plan.output.contains(field.field), "\(plan.output)")
        let apply = try bench.berth("apply")
        #expect(apply.code == 0, "\(apply.output)")
        #expect(bench.kernel(controller, file) == value, "\(field): \(apply.output)")
        if field.field == "spec.resources.cpu.limit" && version == .v1 { #expect(bench.kernel("cpu", "cpu.cfs_period_us") == "200000") }
        #expect(bench.pid() == pid, "changed live, not restarted")
        let again = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(again.code == 0 && again.output.contains("No changes"), "\(field): \(again.output)")

        // Behind berth's back (a second CPU is needed to change the set).
        if field.field == "spec.resources.cpu.cpus" && ProcessInfo.processInfo.activeProcessorCount < 2 { return }
        try bench.writeBehindBerthsBack(controller, file, version == .v2 ? field.driftValue.v2 : field.driftValue.v1)
        let drift = try bench.berth("drift", ["--detailed-exitcode", "--output", "json"])
        #expect(drift.code == 2 && drift.output.contains(field.field) && drift.output.contains("\"origin\" : \"drift\""), "\(drift.output)")
        #expect(try bench.berth("apply").code == 0)
        #expect(bench.kernel(controller, file) == value)
        #expect(try bench.berth("drift", ["--detailed-exitcode"]).code == 0)
        #expect(bench.pid() == pid)
    }

    /// The init check looks at what a plan would start: a container whose
    /// init runs as the manifest says is not refused because its command
    /// is gone from its root filesystem (removed inside it, a whiteout in
    /// its private layer); a change that restarts it is, at the command.
    @Test func aRunningInitIsNotCheckedButARestartOfItIs() throws {
        let bench = try Bench()
        defer { #expect(bench.host.tearDown() == []) }
        try bench.write("init: {command: [/bin/sleep, \"600\"]}")
        #expect(try bench.berth("apply").code == 0)
        let pid = try #require(bench.pid())
        #expect(try bench.host.runtime.exec("fc1", command: ["/bin/rm", "/bin/sleep"]) == 0)
        #expect(try bench.host.runtime.exec("fc1", command: ["/bin/sh", "-c", "test ! -e /bin/sleep"]) == 0)
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(plan.code == 0 && plan.output.contains("No changes"), "\(plan.output)")
        #expect(try bench.berth("drift", ["--detailed-exitcode"]).code == 0)
        try bench.write("init: {command: [/bin/sleep, \"601\"]}")
        let restart = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(restart.code == 1 && restart.output.contains("spec.init.command[0]: /bin/sleep is not in"), "\(restart.output)")
        #expect(bench.pid() == pid)
    }

    /// spec.resources.numtcpsock, whose limit is a table in the container's
    /// network namespace (not a cgroup file): changed live and read back as
    /// `nft list table` shows it; observed without a listing while nothing
    /// there changed, yet a rule edited behind berth's back is drift, and
    /// so is the table deleted.
    @Test func numtcpsockChangesLiveAndATableEditedBehindBerthsBackIsDrift() throws {
        let bench = try Bench()
        defer { #expect(bench.host.tearDown() == []) }
        try bench.write("resources: {numtcpsock: 20}")
        #expect(try bench.berth("apply").code == 0)
        let pid = try #require(bench.pid())
        let namespace = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespace) }
        func counting() throws -> String {
            try NFTables.run("list chain inet berth_ubc count", inNetworkNamespace: namespace)
        }
        #expect(try counting().contains("ct count over 20"))
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)

        try bench.write("resources: {numtcpsock: 30}")
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(
            plan.code == 2 && plan.output.contains("update-live Container/fc1") && plan.output.contains("spec.resources.numtcpsock"), "\(plan.output)"
        )
        #expect(try bench.berth("apply").code == 0)
        #expect(try counting().contains("ct count over 30"))
        #expect(bench.pid() == pid, "changed live, not restarted")
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).output.contains("No changes"))
        #expect(try bench.berth("drift", ["--detailed-exitcode"]).code == 0)

        for edit in ["flush chain inet berth_ubc count", "delete table inet berth_ubc"] {
            try NFTables.run(edit, inNetworkNamespace: namespace)
            let drift = try bench.berth("drift", ["--detailed-exitcode", "--output", "json"])
            #expect(
                drift.code == 2 && drift.output.contains("spec.resources.numtcpsock") && drift.output.contains("\"origin\" : \"drift\""),
                "\(edit): \(drift.output)")
            #expect(try bench.berth("apply").code == 0)
            #expect(try counting().contains("ct count over 30"))
            #expect(try bench.berth("drift", ["--detailed-exitcode"]).code == 0, "\(edit)")
        }
        #expect(bench.pid() == pid)
    }

    /// A limit the manifest leaves out is still the manifest's (none): one
    /// set by hand is drift, and apply takes it away again. Observe reads
    /// fewer files than it did (no stat first, no CFS period without a
    /// quota): none of these may go unseen.
    @Test func limitsTheManifestLeavesOutAreWatchedForDriftToo() throws {
        let bench = try Bench()
        defer { #expect(bench.host.tearDown() == []) }
        try bench.write("")
        #expect(try bench.berth("apply").code == 0)
        let pid = try #require(bench.pid())
        #expect(try bench.berth("drift", ["--detailed-exitcode"]).code == 0)
        let v2 = bench.host.runtime.cgroups.version == .v2
        let memory = v2 ? ("memory", "memory.max") : ("memory", "memory.limit_in_bytes")
        let quota = v2 ? ("cpu", "cpu.max") : ("cpu", "cpu.cfs_quota_us")
        let unlimitedMemory = try #require(bench.kernel(memory.0, memory.1))
        let noQuota = try #require(bench.kernel(quota.0, quota.1))
        try bench.writeBehindBerthsBack(memory.0, memory.1, "67108864")
        try bench.writeBehindBerthsBack("pids", "pids.max", "50")
        try bench.writeBehindBerthsBack(quota.0, quota.1, v2 ? "50000 100000" : "50000")
        let drift = try bench.berth("drift", ["--detailed-exitcode", "--output", "json"])
        #expect(drift.code == 2, "\(drift.output)")
        for field in ["spec.resources.memory.max", "spec.resources.pids.max", "spec.resources.cpu.limit"] {
            #expect(drift.output.contains(field), "\(field) unseen: \(drift.output)")
        }
        #expect(try bench.berth("apply").code == 0)
        #expect(bench.kernel(memory.0, memory.1) == unlimitedMemory)
        #expect(bench.kernel("pids", "pids.max") == "max")
        #expect(bench.kernel(quota.0, quota.1) == noQuota)
        #expect(try bench.berth("drift", ["--detailed-exitcode"]).code == 0)
        #expect(bench.pid() == pid)
    }

    /// Fields applied at the next start: each is pending-restart (the
    /// planner tests check them one by one) until --restart, then each shows
    /// in the new init, read from /proc as a user would.
    @Test func restartFieldsArePendingUntilRestartThenApplied() throws {
        let bench = try Bench()
        defer { #expect(bench.host.tearDown() == []) }
        try bench.write("restartPolicy: never")
        #expect(try bench.berth("apply").code == 0)
        let pid = try #require(bench.pid())
        let tun = FileManager.default.fileExists(atPath: "/dev/net/tun")
        let changed: [(field: String, line: String)] = [
            ("spec.hostname", "hostname: renamed"), ("spec.env", "env: {A: \"2\"}"),
            ("spec.init.command", "init: {command: [/bin/sleep, \"700\"], workingDir: /tmp}"),
            ("spec.devices", tun ? "devices: [{path: /dev/net/tun}]" : "devices: []"),
            ("spec.capabilities", "capabilities: {drop: [NET_RAW]}"), ("spec.security", "security: {noNewPrivileges: false}"),
            ("spec.mounts", "mounts: [{type: tmpfs, destination: /scratch}]"),
            ("spec.userNamespace", "userNamespace: {uidMap: [{containerID: 0, hostID: 200000, size: 65536}]}"),
        ]
        try bench.write((["restartPolicy: never"] + changed.map(\.line)).joined(separator: "\n"))
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(plan.code == 2 && plan.output.contains("pending-restart Container/fc1"), "\(plan.output)")
        for field in changed.map(\.field) + ["spec.init.workingDir"] where field != "spec.devices" || tun {
            #expect(plan.output.contains(field), "\(field): \(plan.output)")
        }
        let drift = try bench.berth("drift", ["--detailed-exitcode"])
        #expect(drift.code == 2 && drift.output.contains("manifest (not applied)"), "\(drift.output)")
        let pending = try bench.berth("apply")
        #expect(pending.output.contains("pending restart") && bench.pid() == pid, "\(pending.output)")
        let restarted = try bench.berth("apply", ["--restart"])
        #expect(restarted.code == 0 && restarted.output.contains("restarted"), "\(restarted.output)")
        let new = try #require(bench.pid())
        #expect(new != pid)
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)

        func proc(_ file: String) -> String { (try? String(contentsOfFile: "/proc/\(new)/\(file)", encoding: .utf8)) ?? "" }
        let hostname = try Spawn.run(["/usr/bin/nsenter", "-t", "\(new)", "-u", "/bin/hostname"])
        #expect(String(decoding: hostname.output, as: UTF8.self).contains("renamed"))
        #expect(proc("environ").split(separator: "\0").contains("A=2"))
        #expect(proc("cmdline").split(separator: "\0").last == "700")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(new)/cwd"))?.hasSuffix("/tmp") == true)
        let status = proc("status")
        #expect(status.contains("NoNewPrivs:\t0"), "\(status)")
        let bounding = status.split(separator: "\n").first { $0.hasPrefix("CapBnd:") }.flatMap {
            UInt64($0.split(separator: "\t").last ?? "", radix: 16)
        }
        #expect(bounding.map { $0 & (1 << 13) == 0 } == true, "CAP_NET_RAW (13) dropped: \(status)")
        #expect(proc("mountinfo").contains(" /scratch "))
        #expect(proc("uid_map").contains("200000"))
        if tun {
            #expect(try bench.berth("exec", ["fc1", "--", "/bin/ls", "/dev/net/tun"]).code == 0)
        }
    }

    /// numfile raised: live (same init) where berth has CAP_SYS_RESOURCE,
    /// else planned as pending-restart, an apply that succeeds without
    /// touching the init, and set at the restart; never an update that fails
    /// at every apply. Lowered: live either way.
    @Test func numfileRaisedIsLiveOrPendingRestartNeverAFailedUpdate() throws {
        let bench = try Bench()
        defer { #expect(bench.host.tearDown() == []) }
        try bench.write("resources: {numfile: 128}")
        #expect(try bench.berth("apply").code == 0)
        let pid = try #require(bench.pid())
        func limit(_ pid: Int32) -> String { BeancounterKernelTests.openFilesLine(pid) }
        #expect(limit(pid) == "Max open files 128 128 files")
        try bench.write("resources: {numfile: 256}")
        let plan = try bench.berth("plan")
        let applied = try bench.berth("apply")
        #expect(applied.code == 0, "\(applied.output)")
        if ProcessCapabilities.sysResource {
            #expect(plan.output.contains("update-live Container/fc1 spec.resources.numfile: 128 → 256"), "\(plan.output)")
            #expect(bench.pid() == pid && limit(pid) == "Max open files 256 256 files")
        } else {
            #expect(plan.output.contains("pending-restart Container/fc1 spec.resources.numfile: 128 → 256"), "\(plan.output)")
            #expect(bench.pid() == pid && limit(pid) == "Max open files 128 128 files")
            let still = try bench.berth("plan", ["--detailed-exitcode"])
            #expect(still.code == 2 && still.output.contains("pending-restart"), "\(still.output)")
            #expect(try bench.berth("apply", ["--restart"]).code == 0)
        }
        let now = try #require(bench.pid())
        #expect(limit(now) == "Max open files 256 256 files")
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)
        try bench.write("resources: {numfile: 64}")
        #expect(try bench.berth("apply").code == 0)
        #expect(bench.pid() == now && limit(now) == "Max open files 64 64 files")
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)
    }

    /// Fields only berth's record holds change live without touching the kernel.
    @Test func recordOnlyFieldsUpdateTheRecordAndPlanSettles() throws {
        let bench = try Bench()
        defer { #expect(bench.host.tearDown() == []) }
        try bench.write("restartPolicy: never\nstopTimeout: 10s\npolicy: {drift: enforce}")
        #expect(try bench.berth("apply").code == 0)
        let pid = try #require(bench.pid())
        try bench.write("restartPolicy: always\nstopTimeout: 3s\npolicy: {drift: warn}\nrootfs: {template: busybox, persistent: true}")
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        for field in ["spec.restartPolicy", "spec.stopTimeout", "spec.policy.drift", "spec.rootfs.persistent"] {
            #expect(plan.output.contains(field), "\(plan.output)")
        }
        #expect(try bench.berth("apply").code == 0)
        #expect(bench.pid() == pid)
        #expect(bench.host.runtime.state.load("fc1")?.spec?.restartPolicy == .always)
        #expect(bench.host.runtime.state.load("fc1")?.keepPrivateLayer == true)
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)
    }

    /// `state: frozen` is applied and observed through the freezer; a
    /// container frozen behind berth's back is drift and is thawed; exec
    /// into a frozen container fails at once.
    @Test func frozenStateIsPlannedObservedAndExecRefusesAFrozenContainer() throws {
        let bench = try Bench()
        defer { #expect(bench.host.tearDown() == []) }
        try bench.write("state: running")
        #expect(try bench.berth("apply").code == 0)
        let pid = try #require(bench.pid())
        func frozen() -> Bool {
            (try? bench.host.runtime.cgroups.observe(try CgroupPath(bench.host.parent + "/fc1"), usage: false))?.frozen == true
        }
        try bench.write("state: frozen")
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(plan.code == 2 && plan.output.contains("freeze Container/fc1"), "\(plan.output)")
        #expect(try bench.berth("apply").code == 0)
        #expect(frozen() && bench.pid() == pid)
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)

        let started = Date()
        let exec = try bench.berth("exec", ["fc1", "--", "/bin/true"])
        #expect(exec.code == 1 && exec.output.contains("frozen"), "\(exec.output)")
        #expect(Date().timeIntervalSince(started) < 5)

        // Thawed in the manifest, then frozen by hand (berth suspend): drift.
        try bench.write("state: running")
        #expect(try bench.berth("apply").code == 0)
        #expect(!frozen())
        #expect(try bench.berth("suspend", ["fc1"]).code == 0)
        let drift = try bench.berth("drift", ["--detailed-exitcode"])
        #expect(drift.code == 2 && drift.output.contains("spec.state") && drift.output.contains("frozen"), "\(drift.output)")
        let thaw = try bench.berth("apply")
        #expect(thaw.output.contains("thaw Container/fc1"), "\(thaw.output)")
        #expect(!frozen() && bench.pid() == pid)
    }

    /// restartPolicy never: an init that ended stays ended, plan and drift
    /// are quiet, list shows it exited; always: apply starts it again.
    @Test func restartPolicyNeverIsHonouredAndAlwaysRestarts() throws {
        let bench = try Bench()
        defer { #expect(bench.host.tearDown() == []) }
        try bench.write("restartPolicy: never")
        #expect(try bench.berth("apply").code == 0)
        let pid = try #require(bench.pid())
        _ = kill(pid, SIGKILL)
        #expect(eventually { bench.pid() == nil })
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)
        #expect(try bench.berth("drift", ["--detailed-exitcode"]).code == 0)
        #expect(try bench.berth("list").output.contains("exited"))
        try bench.write("restartPolicy: always")
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(plan.code == 2 && plan.output.contains("start Container/fc1") && plan.output.contains("restartPolicy always"), "\(plan.output)")
        #expect(try bench.berth("apply").code == 0)
        #expect(bench.pid() != nil)
        #expect(bench.host.runtime.state.load("fc1")?.restarts == 1)
    }

    /// A live update whose record cannot be written (a full state dir)
    /// fails visibly, and the next plan shows the difference instead of
    /// "No changes"; once there is room, apply records it.
    @Test func aFullStateDirNeverHidesALiveUpdate() throws {
        let bench = try Bench()
        defer {
            // The containers go before their state dir does.
            for name in bench.host.runtime.state.names() { try? bench.host.runtime.delete(name, keepPrivateLayer: false) }
            _ = try? Spawn.run(["/bin/umount", "-l", bench.host.root + "/state"])
            #expect(bench.host.tearDown() == [])
        }
        try FileManager.default.createDirectory(atPath: bench.host.root + "/state", withIntermediateDirectories: true)
        #expect(try Spawn.run(["/bin/mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", bench.host.root + "/state"]).exitedCleanly)
        try bench.write("resources: {memory: {max: 64Mi}}")
        #expect(try bench.berth("apply").code == 0)
        let pid = try #require(bench.pid())
        // Fill what is left of the state dir.
        _ = try Spawn.run(["/bin/dd", "if=/dev/zero", "of=\(bench.host.root)/state/filler", "bs=64k"])
        try bench.write("resources: {memory: {max: 96Mi}}")
        let full = try bench.berth("apply")
        #expect(full.code == 1 && full.output.contains("failed"), "\(full.output)")
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(plan.code == 2 && plan.output.contains("spec.resources.memory.max"), "\(plan.output)")
        try FileManager.default.removeItem(atPath: bench.host.root + "/state/filler")
        #expect(try bench.berth("apply").code == 0)
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)
        #expect(bench.host.runtime.state.load("fc1")?.spec?.resources.memory?.max?.bytes == 96 << 20)
        #expect(bench.pid() == pid)
    }

    /// Fields berth cannot enforce are refused, and errors exit 1 (64 is for usage only).
    @Test func refusedFieldsAndErrorsExitOne() throws {
        let bench = try Bench()
        defer { #expect(bench.host.tearDown() == []) }
        // What the kernel would refuse or berth cannot enforce, each refused by
        // every command that reads manifests, before anything is made.
        let refused = [
            ("resources: {cpu: {limit: \"0\"}}", "spec.resources.cpu.limit"),
            ("resources: {memory: {max: 0}}", "spec.resources.memory.max"),
            ("userNamespace: {uidMap: [{containerID: 1, hostID: 100000, size: 10}]}", "spec.userNamespace.uidMap"),
            ("rootfs: {template: busybx}", "spec.rootfs.template"),
            ("init: {command: [/bin/sleep, \"600\"], workingDir: \"/tmp\\nx\"}", "spec.init.workingDir"),
        ]
        for (spec, field) in refused {
            try bench.write(spec)
            for command in ["validate", "plan", "apply", "drift"] {
                let result = try bench.berth(command)
                #expect(result.code == 1 && result.output.contains(field), "\(command): \(result.output)")
            }
        }
        #expect(bench.host.runtime.state.names().isEmpty)
        #expect(try bench.berth("status", ["nosuch"]).code == 1)
        #expect(try Spawn.run([ContainerCLITests.binary, "plan"] + bench.global + ["/no/such/path"]).status >> 8 == 1)
    }
}
