import Foundation
import Testing

@testable import Kernel

/// The drivers' observe over a cgroup tree written as plain files (no root,
/// no cgroupfs): each value read as the kernel prints it, with its newline.
@Suite struct CgroupObserveTests {
    /// A throwaway directory holding `files` (path relative to it → content).
    static func tree(_ files: [String: String]) throws -> String {
        let root = NSTemporaryDirectory() + "berth-cgroup-observe-\(UUID().uuidString)"
        for (path, content) in files {
            let file = root + "/" + path
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: file, atomically: false, encoding: .utf8)
        }
        return root
    }

    @Test(arguments: [
        ("0", UInt64?.some(0)), ("16777216", 16_777_216), ("18446744073709551615", .max), ("18446744073709551616", nil),
        ("-1", nil), ("max", nil), ("", nil), ("12a", nil), ("123456789012345678901", nil),
    ])
    func decimalsReadAsTheKernelPrintsThem(_ text: String, _ value: UInt64?) {
        #expect(CgroupDirectory.decimal(ArraySlice(text.utf8)) == value)
    }

    @Test func v1ObserveReadsEveryLimitAndTheDefaultsAManifestLeavesOut() throws {
        let group = "berth/web1/"
        let root = try Self.tree([
            "cpu/" + group + "cpu.shares": "2048\n",
            "cpu/" + group + "cpu.cfs_quota_us": "50000\n",
            "cpu/" + group + "cpu.cfs_period_us": "50000\n",
            "cpuset/" + group + "cpuset.cpus": "0-1\n",
            "memory/" + group + "memory.limit_in_bytes": "16777216\n",
            "memory/" + group + "memory.soft_limit_in_bytes": "9223372036854771712\n",
            "memory/" + group + "memory.memsw.limit_in_bytes": "33554432\n",
            "pids/" + group + "pids.max": "16\n",
            // No CFQ weight: BFQ's is read (the parent has it too, as every
            // cgroup below the root has: the parent is asked which file).
            "blkio/berth/blkio.bfq.weight": "100\n",
            "blkio/" + group + "blkio.bfq.weight": "200\n",
            "blkio/" + group + "blkio.throttle.read_bps_device": "8:0 1048576\n",
            "blkio/" + group + "blkio.throttle.write_bps_device": "",
            "blkio/" + group + "blkio.throttle.read_iops_device": "",
            "blkio/" + group + "blkio.throttle.write_iops_device": "",
            "freezer/" + group + "freezer.state": "FROZEN\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let mounts = Dictionary(uniqueKeysWithValues: ["cpu", "cpuset", "memory", "pids", "blkio", "freezer"].map { ($0, root + "/" + $0) })
        let driver = try CgroupV1Driver(mounts: mounts)
        let observed = try driver.observe(try CgroupPath("berth/web1"), usage: false)
        #expect(observed.limits.cpuWeight == 200)
        #expect(observed.limits.cpuQuotaMicros == 50_000 && observed.limits.cpuPeriodMicros == 50_000)
        #expect(observed.limits.cpus == "0-1")
        #expect(observed.limits.memoryMax == 16 << 20 && observed.limits.memoryHigh == nil && observed.limits.swapMax == 16 << 20)
        #expect(observed.limits.pidsMax == 16)
        #expect(observed.limits.ioWeight == 2000)
        #expect(observed.limits.ioLimits.map { "\($0.major):\($0.minor) \($0.readBytesPerSecond ?? 0)" } == ["8:0 1048576"])
        #expect(observed.frozen)
    }

    /// Which weight file a host has is asked of the containers' parent
    /// (once a second), not tried in each container's directory; a cgroup
    /// right under the root (which lacks BFQ's file) still tries both.
    @Test func v1WeightFilesAreAskedOfTheParent() throws {
        let root = try Self.tree([
            "blkio/noweights/a/blkio.weight": "500\n", "blkio/cfq/blkio.weight": "100\n", "blkio/cfq/a/blkio.weight": "500\n",
            "blkio/top/blkio.bfq.weight": "300\n", "memory/x": "", "cpu/x": "", "pids/x": "",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let mounts = Dictionary(uniqueKeysWithValues: ["cpu", "memory", "pids", "blkio"].map { ($0, root + "/" + $0) })
        let driver = try CgroupV1Driver(mounts: mounts)
        #expect(driver.weightFiles(besides: try CgroupPath("noweights/a")).isEmpty)
        #expect(try driver.observe(try CgroupPath("noweights/a"), usage: false).limits.ioWeight == nil)
        #expect(driver.weightFiles(besides: try CgroupPath("cfq/a")) == ["blkio.weight"])
        #expect(try driver.observe(try CgroupPath("cfq/a"), usage: false).limits.ioWeight == 5000)
        #expect(driver.weightFiles(besides: try CgroupPath("top")) == ["blkio.weight", "blkio.bfq.weight"])
        #expect(try driver.observe(try CgroupPath("top"), usage: false).limits.ioWeight == 3000)
    }

    @Test func v1WithoutAQuotaKeepsTheDefaultPeriodAndAGoneCgroupReadsAsNothing() throws {
        let root = try Self.tree([
            "cpu/berth/a/cpu.cfs_quota_us": "-1\n", "cpu/berth/a/cpu.cfs_period_us": "50000\n",
            "memory/berth/a/memory.limit_in_bytes": "9223372036854771712\n",
            "pids/berth/a/pids.max": "max\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let driver = try CgroupV1Driver(mounts: ["cpu": root + "/cpu", "memory": root + "/memory", "pids": root + "/pids"])
        let observed = try driver.observe(try CgroupPath("berth/a"), usage: false)
        #expect(observed.limits.cpuQuotaMicros == nil && observed.limits.cpuPeriodMicros == 100_000)
        #expect(observed.limits.memoryMax == nil && observed.limits.pidsMax == nil)
        let gone = try driver.observe(try CgroupPath("berth/gone"), usage: true)
        #expect(gone.limits == CgroupLimits() && gone.memoryCurrent == nil && !gone.frozen)
    }

    @Test func v2ObserveReadsOneDirectory() throws {
        let root = try Self.tree([
            "berth/b/cpu.weight": "300\n", "berth/b/cpu.max": "150000 100000\n", "berth/b/memory.max": "536870912\n",
            "berth/b/memory.high": "max\n", "berth/b/memory.swap.max": "0\n", "berth/b/pids.max": "max\n",
            "berth/b/cgroup.events": "populated 1\nfrozen 0\n", "berth/b/io.weight": "default 100\n",
            "berth/b/io.max": "8:0 rbps=1048576 wbps=max riops=max wiops=max\n", "berth/b/memory.current": "4096\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let observed = try CgroupV2Driver(root: root).observe(try CgroupPath("berth/b"), usage: true)
        #expect(observed.limits.cpuWeight == 300 && observed.limits.cpuQuotaMicros == 150_000 && observed.limits.cpuPeriodMicros == 100_000)
        #expect(observed.limits.memoryMax == 512 << 20 && observed.limits.memoryHigh == nil && observed.limits.swapMax == 0)
        #expect(observed.limits.pidsMax == nil && observed.limits.ioWeight == 100 && observed.limits.ioLimits.count == 1)
        #expect(observed.memoryCurrent == 4096 && !observed.frozen)
    }

    /// Each cgroup looked up from its parent, opened once for the pass
    /// (CgroupParents): the same observation as by the whole path, a gone
    /// cgroup or parent read as nothing, and the parent opened once.
    @Test func observedFromTheParentsOpenedOnceForThePass() throws {
        let root = try Self.tree([
            "cpu/berth/a/cpu.shares": "512\n", "cpu/berth/a/cpu.cfs_quota_us": "20000\n", "cpu/berth/a/cpu.cfs_period_us": "50000\n",
            "cpuset/berth/a/cpuset.cpus": "1\n", "memory/berth/a/memory.limit_in_bytes": "16777216\n",
            "pids/berth/a/pids.max": "16\n", "pids/berth/b/pids.max": "32\n", "freezer/berth/a/freezer.state": "FROZEN\n",
            "v2/berth/c/cpu.weight": "300\n", "v2/berth/c/memory.max": "536870912\n", "v2/berth/c/cgroup.events": "frozen 1\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let mounts = Dictionary(uniqueKeysWithValues: ["cpu", "cpuset", "memory", "pids", "freezer"].map { ($0, root + "/" + $0) })
        let v1 = try CgroupV1Driver(mounts: mounts)
        let v2 = CgroupV2Driver(root: root + "/v2")
        let parents = CgroupParents()
        for path in ["berth/a", "berth/b", "berth/gone", "gone/a", "berth/c"] {
            let group = try CgroupPath(path)
            for usage in [false, true] {
                #expect(try v1.observe(group, usage: usage, parents: parents) == (try v1.observe(group, usage: usage)), "\(path)")
                #expect(try v2.observe(group, usage: usage, parents: parents) == (try v2.observe(group, usage: usage)), "\(path)")
            }
        }
        let a = try v1.observe(try CgroupPath("berth/a"), usage: false, parents: parents)
        #expect(a.limits.cpuWeight == 50 && a.limits.cpuQuotaMicros == 20_000 && a.limits.cpuPeriodMicros == 50_000)
        #expect(a.limits.cpus == "1" && a.limits.memoryMax == 16 << 20 && a.limits.pidsMax == 16 && a.frozen)
        #expect(try v1.observe(try CgroupPath("berth/b"), usage: false, parents: parents).limits.pidsMax == 32)
        let c = try v2.observe(try CgroupPath("berth/c"), usage: false, parents: parents)
        #expect(c.limits.cpuWeight == 300 && c.limits.memoryMax == 512 << 20 && c.frozen)
        // Relative to the parent: the parent's descriptor and the last component, once per parent.
        let (fd, name) = parents.lookup(root + "/pids/berth/a")
        #expect(fd >= 0 && name == "a" && parents.lookup(root + "/pids/berth/b").0 == fd)
        #expect(parents.lookup(root + "/gone/a") == (AT_FDCWD, root + "/gone/a"))
    }
}
