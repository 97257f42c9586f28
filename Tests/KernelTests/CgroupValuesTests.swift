import Testing

@testable import Kernel

@Suite struct CgroupValuesTests {
    @Test func v2SettingsRenderDeclaratively() {
        var limits = CgroupLimits()
        limits.cpuWeight = 200
        limits.cpuQuotaMicros = 150_000
        limits.memoryMax = 512 << 20
        let settings = CgroupValues.v2Settings(limits).map { "\($0.file)=\($0.value)" }
        #expect(
            settings == [
                "cpu.weight=200", "cpu.max=150000 100000", "memory.high=max", "memory.max=536870912",
                "memory.swap.max=max", "pids.max=max",
            ])
    }

    @Test func v2IOMaxLine() {
        var limit = CgroupLimits.IOLimit(major: 254, minor: 0)
        limit.readBytesPerSecond = 1_048_576
        #expect(CgroupValues.v2IOMax(limit) == "254:0 rbps=1048576 wbps=max riops=max wiops=max")
    }

    @Test func ioMaxAndThrottleFilesParse() {
        let lines = CgroupValues.v2IOMaxLines("8:0 rbps=1048576 wbps=max riops=max wiops=10\n254:16 rbps=max wbps=2 riops=max wiops=max\n")
        #expect(lines.map { "\($0.major):\($0.minor)" } == ["8:0", "254:16"])
        #expect(lines.first?.readBytesPerSecond == 1_048_576 && lines.first?.writeIOPS == 10 && lines.first?.writeBytesPerSecond == nil)
        let v1 = CgroupValues.v1ThrottleLines(readBps: "8:0 100\n", writeBps: "8:0 0\n8:16 5\n", readIOPS: "", writeIOPS: "")
        #expect(v1.map { "\($0.major):\($0.minor)" } == ["8:0", "8:16"])
        #expect(v1.first?.readBytesPerSecond == 100 && v1.first?.writeBytesPerSecond == nil && v1.last?.writeBytesPerSecond == 5)
        #expect(CgroupValues.v2IOWeight("default 300\n8:0 50\n") == 300)
    }

    @Test(arguments: ["max", "12", "1 2", "0-3,5"])
    func writableValues(value: String) { #expect(CgroupValues.isWritable(value)) }

    @Test(arguments: ["", " 1", "1 ", "1\n2", "max\n", "\u{7f}", "é"])
    func refusedValues(value: String) { #expect(!CgroupValues.isWritable(value)) }

    @Test func parsesKeyedFiles() {
        #expect(CgroupValues.keyed("low 0\nhigh 3\nmax 7\noom_kill 1\n") == ["low": 0, "high": 3, "max": 7, "oom_kill": 1])
        #expect(CgroupValues.parseMax("max\n") == .some(nil))
        #expect(CgroupValues.parseMax("42\n") == .some(42))
        #expect(CgroupValues.parseMax("x") == nil)
    }

    @Test func findsV1ControllersInMountinfo() {
        let mountinfo = """
            25 1 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
            26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
            27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
            28 25 0:25 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory
            29 25 0:26 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
            30 25 0:27 / /sys/fs/cgroup/odd\\040name rw - cgroup cgroup rw,freezer
            31 25 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
            """
        let mounts = CgroupV1Driver.controllerMounts(mountinfo: mountinfo)
        #expect(
            mounts == [
                "cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct", "memory": "/sys/fs/cgroup/memory",
                "pids": "/sys/fs/cgroup/pids", "freezer": "/sys/fs/cgroup/odd name",
            ])
    }

    @Test(arguments: ["berth/web1", "berth-test-1/a.b_c"])
    func acceptsCgroupPaths(path: String) throws { _ = try CgroupPath(path) }

    /// The parent's directory under a hierarchy root, as joining the root
    /// and all components but the last gave it.
    @Test(arguments: ["berth", "berth/web1", "a/b/c.d"])
    func parentDirectoryIsTheRootAndAllButTheLastComponent(path: String) throws {
        let group = try CgroupPath(path)
        let joined = (["/sys/fs/cgroup/cpuset"] + group.components.dropLast()).joined(separator: "/")
        #expect(group.parentDirectory(under: "/sys/fs/cgroup/cpuset") == joined)
    }

    @Test(arguments: ["", "/berth", "berth/", "berth/../x", "berth/a b", "berth/./x"])
    func refusesCgroupPaths(path: String) {
        #expect(throws: SystemError.self) { try CgroupPath(path) }
    }
}
