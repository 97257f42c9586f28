import Foundation
import Testing

@testable import Kernel

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct CgroupDriverTests {
    /// The file a user would `cat` for a v1 controller or the v2 group.
    func file(_ cgroup: TestCgroup, _ controller: String, _ name: String) -> String {
        if let v1 = cgroup.driver as? CgroupV1Driver, let mount = v1.mounts[controller] {
            return "\(mount)/\(cgroup.group)/\(name)"
        }
        return "/sys/fs/cgroup/\(cgroup.group)/\(name)"
    }

    /// v1: a new cpuset takes the cpus and mems of berth's parent; the
    /// parent then has clone_children set (the kernel copies them for the
    /// next container) and the hierarchy's root is left as it was.
    @Test func aNewCpusetGetsItsParentsCpusAndTheRootIsLeftAlone() throws {
        guard let v1 = try CgroupDrivers.detect() as? CgroupV1Driver, let mount = v1.mounts["cpuset"] else { return }
        let rootFlag = cat(mount + "/cgroup.clone_children")
        let cgroup = try TestCgroup()
        defer { #expect(cgroup.tearDown() == []) }
        let second = try cgroup.parent.appending("c2")
        try cgroup.driver.create(second)
        defer { try? cgroup.driver.remove(second) }
        for group in [cgroup.group, second] {
            #expect(cat("\(mount)/\(group)/cpuset.cpus") == cat(mount + "/cpuset.cpus"))
            #expect(cat("\(mount)/\(group)/cpuset.mems") == cat(mount + "/cpuset.mems"))
        }
        #expect(cat("\(mount)/\(cgroup.parent)/cgroup.clone_children") == "1")
        #expect(cat(mount + "/cgroup.clone_children") == rootFlag)
    }

    /// v1: an emptied cgroup set aside is renamed beside the others in every
    /// hierarchy (`ls` of the parent), then removed as any other; v2 has no
    /// rename of cgroups: nothing is done and false says so.
    @Test func anEmptiedCgroupIsSetAsideInEveryHierarchyOnV1() throws {
        let cgroup = try TestCgroup()
        defer { #expect(cgroup.tearDown() == []) }
        let child = try cgroup.parent.appending("c2")
        try cgroup.driver.create(child)
        let aside = try cgroup.parent.appending(".c2.1-2a-3")
        defer { try? cgroup.driver.remove(aside) }
        defer { try? cgroup.driver.remove(child) }
        let moved = try cgroup.driver.setAside(child, as: aside.components[1])
        guard cgroup.driver is CgroupV1Driver else {
            #expect(!moved)
            #expect(cgroup.driver.exists(child))
            return
        }
        #expect(moved)
        for directory in TestHost.cgroupDirectories(of: cgroup.parent.description) {
            let names = Syscall.entryNames(in: directory)
            #expect(names.contains(".c2.1-2a-3") && !names.contains("c2"), "\(directory): \(names)")
        }
        #expect(!cgroup.driver.exists(child) && cgroup.driver.exists(aside))
        #expect(cgroup.driver.childrenInAnyHierarchy(of: cgroup.parent) == [".c2.1-2a-3", "c1"])
        // A missing cgroup: nothing to do, no error.
        #expect(try cgroup.driver.setAside(child, as: ".c2.1-2a-4"))
        try cgroup.driver.remove(aside)
        #expect(cgroup.driver.childrenInAnyHierarchy(of: cgroup.parent) == ["c1"])
    }

    @Test func memoryLimitChangedLiveShowsInCgroupFile() throws {
        let cgroup = try TestCgroup()
        defer { #expect(cgroup.tearDown() == []) }
        _ = try cgroup.spawnHeld("sleep 30")
        var limits = CgroupLimits()
        limits.memoryMax = 64 << 20
        _ = try cgroup.driver.apply(limits, to: cgroup.group)
        let maxFile = cgroup.driver.version == .v1 ? "memory.limit_in_bytes" : "memory.max"
        #expect(cat(file(cgroup, "memory", maxFile)) == "\(64 << 20)")
        // Live change with a process inside.
        limits.memoryMax = 48 << 20
        let writes = try cgroup.driver.apply(limits, to: cgroup.group)
        #expect(cat(file(cgroup, "memory", maxFile)) == "\(48 << 20)")
        #expect(writes.contains { $0.file == maxFile && $0.readBack == "\(48 << 20)" })
        #expect(try cgroup.driver.observe(cgroup.group).limits.memoryMax == 48 << 20)
    }

    @Test func kernelRoundsMemoryToPagesAndReadBackSaysSo() throws {
        let cgroup = try TestCgroup()
        defer { #expect(cgroup.tearDown() == []) }
        var limits = CgroupLimits()
        limits.memoryMax = (32 << 20) + 100
        let writes = try cgroup.driver.apply(limits, to: cgroup.group)
        let maxFile = cgroup.driver.version == .v1 ? "memory.limit_in_bytes" : "memory.max"
        let write = try #require(writes.first { $0.file == maxFile })
        #expect(write.value == "\((32 << 20) + 100)")
        #expect(write.readBack == "\(32 << 20)")
    }

    @Test func cpuWeightAndLimitShowInCgroupFiles() throws {
        let cgroup = try TestCgroup()
        defer { #expect(cgroup.tearDown() == []) }
        var limits = CgroupLimits()
        limits.cpuWeight = 200
        limits.cpuQuotaMicros = 50_000
        _ = try cgroup.driver.apply(limits, to: cgroup.group)
        if cgroup.driver.version == .v1 {
            #expect(cat(file(cgroup, "cpu", "cpu.shares")) == "2048")
            #expect(cat(file(cgroup, "cpu", "cpu.cfs_quota_us")) == "50000")
            #expect(cat(file(cgroup, "cpu", "cpu.cfs_period_us")) == "100000")
        } else {
            #expect(cat(file(cgroup, "cpu", "cpu.weight")) == "200")
            #expect(cat(file(cgroup, "cpu", "cpu.max")) == "50000 100000")
        }
        let observed = try cgroup.driver.observe(cgroup.group).limits
        #expect(observed.cpuWeight == 200)
        #expect(observed.cpuQuotaMicros == 50_000)
        // Unset again: declarative apply resets to unlimited.
        _ = try cgroup.driver.apply(CgroupLimits(), to: cgroup.group)
        #expect(try cgroup.driver.observe(cgroup.group).limits.cpuQuotaMicros == nil)
    }

    @Test func pidsMaxRefusesAForkBombAndCountsIt() throws {
        let cgroup = try TestCgroup()
        defer { #expect(cgroup.tearDown() == []) }
        var limits = CgroupLimits()
        limits.pidsMax = 4
        _ = try cgroup.driver.apply(limits, to: cgroup.group)
        let child = try cgroup.spawnHeld("for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done; wait")
        child.release()
        var observation = try cgroup.driver.observe(cgroup.group)
        for _ in 0..<200 where (observation.pidsFailures ?? 0) == 0 {
            usleep(10_000)
            observation = try cgroup.driver.observe(cgroup.group)
        }
        #expect(observation.pidsCurrent ?? 99 <= 4)
        #expect((observation.pidsFailures ?? 0) > 0)
        #expect(cat(file(cgroup, "pids", "pids.max")) == "4")
    }

    @Test func memoryLimitStopsAnAllocatorAndTheCounterShowsIt() throws {
        let cgroup = try TestCgroup()
        defer { #expect(cgroup.tearDown() == []) }
        var limits = CgroupLimits()
        limits.memoryMax = 32 << 20
        _ = try cgroup.driver.apply(limits, to: cgroup.group)
        // Write 128 MiB into memory; the kernel stops it at 32 MiB.
        let child = try cgroup.spawnHeld("exec /usr/bin/python3 -c 'b = b\"x\" * (128 << 20)'")
        child.release()
        let status = try #require(child.wait())
        #expect(status & 0x7f == SIGKILL)  // the OOM killer ended it
        let observation = try cgroup.driver.observe(cgroup.group)
        #expect((observation.memoryFailures ?? 0) > 0 || (observation.oomKills ?? 0) > 0)
        #expect((observation.memoryPeak ?? UInt64.max) <= 32 << 20)
    }

    @Test func freezeAndThawShowInTheFreezer() throws {
        let cgroup = try TestCgroup()
        defer { #expect(cgroup.tearDown() == []) }
        _ = try cgroup.spawnHeld("sleep 30")
        try cgroup.driver.setFrozen(true, cgroup.group)
        #expect(try cgroup.driver.observe(cgroup.group).frozen)
        if cgroup.driver.version == .v1 {
            #expect(cat(file(cgroup, "freezer", "freezer.state")) == "FROZEN")
        }
        try cgroup.driver.setFrozen(false, cgroup.group)
        #expect(try !cgroup.driver.observe(cgroup.group).frozen)
    }

    @Test func deviceAllowListLetsListedNodesThroughAndRefusesOthers() throws {
        let cgroup = try TestCgroup()
        defer { #expect(cgroup.tearDown() == []) }
        var limits = CgroupLimits()
        limits.devices = [
            .init(kind: .char, major: 1, minor: 3, access: "rwm"), .init(kind: .char, major: 1, minor: 5, access: "r"),
        ]
        _ = try cgroup.driver.apply(limits, to: cgroup.group)
        // Exit status: 0 = /dev/zero readable, /dev/urandom (1:9) refused.
        let child = try cgroup.spawnHeld("head -c 1 /dev/zero > /dev/null || exit 1; head -c 1 /dev/urandom > /dev/null && exit 2; exit 0")
        child.release()
        let status = try #require(child.wait())
        #expect(status >> 8 == 0, "exit status \(status >> 8): 1 = an allowed device was refused, 2 = a refused one was readable")
    }

    @Test func multiLineValueIsRefusedBeforeAnyWrite() throws {
        let cgroup = try TestCgroup()
        defer { #expect(cgroup.tearDown() == []) }
        var limits = CgroupLimits()
        limits.cpus = "0\n1"
        #expect(throws: SystemError.self) { _ = try cgroup.driver.apply(limits, to: cgroup.group) }
    }
}
