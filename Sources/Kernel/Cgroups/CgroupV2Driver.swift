#if canImport(Glibc)
    import Glibc
#endif

/// cgroup v2 (the unified hierarchy).
public struct CgroupV2Driver: CgroupDriver {
    public let root: String
    public var version: CgroupVersion { .v2 }
    static let controllers = ["cpu", "cpuset", "io", "memory", "pids"]

    public init(root: String) { self.root = root }

    func directory(_ path: CgroupPath) -> String { root + "/" + path.description }

    public func create(_ path: CgroupPath) throws(SystemError) {
        var current = root
        for component in path.components {
            // Delegate the controllers one level down before creating it.
            let available = Set(((try? CgroupFile.read(current, "cgroup.controllers")) ?? "").split(separator: " ").map(String.init))
            let enabled = Set(((try? CgroupFile.read(current, "cgroup.subtree_control")) ?? "").split(separator: " ").map(String.init))
            for controller in CgroupV2Driver.controllers where available.contains(controller) && !enabled.contains(controller) {
                _ = try CgroupFile.write(current, "cgroup.subtree_control", "+" + controller)
            }
            current += "/" + component
            try Syscall.mkdir(current, existOK: true)
        }
    }

    public func remove(_ path: CgroupPath) throws(SystemError) {
        try Syscall.rmdir(directory(path), missingOK: true)
    }

    public func exists(_ path: CgroupPath) -> Bool { Syscall.exists(directory(path) + "/cgroup.procs") }

    public func addProcess(_ pid: pid_t, to path: CgroupPath) throws(SystemError) {
        _ = try CgroupFile.write(directory(path), "cgroup.procs", "\(pid)")
    }

    public func processes(in path: CgroupPath) throws(SystemError) -> [pid_t] {
        try CgroupFile.pids(directory(path))
    }

    public func apply(_ limits: CgroupLimits, to path: CgroupPath) throws -> [CgroupWrite] {
        let dir = directory(path)
        let swap = Syscall.exists(dir + "/memory.swap.max")
        if limits.swapMax != nil && !swap {
            throw CgroupUnsupported(feature: "memory swap limit", reason: "no memory.swap.max (swap accounting off)")
        }
        var writes: [CgroupWrite] = []
        if limits.devices != nil {
            // cgroup v2 enforces devices only through a BPF_CGROUP_DEVICE program.
            throw CgroupUnsupported(feature: "device allow-list", reason: "cgroup v2 needs a BPF device program, not built yet")
        }
        for (file, value) in CgroupValues.v2Settings(limits, memorySwapSupported: swap) {
            writes.append(try CgroupFile.write(dir, file, value))
        }
        if Syscall.exists(dir + "/io.weight") {
            writes.append(try CgroupFile.write(dir, "io.weight", "default \(limits.ioWeight ?? 100)"))
        } else if limits.ioWeight != nil {
            throw CgroupUnsupported(feature: "io weight", reason: "no io.weight (the io scheduler has no weights)")
        }
        for limit in limits.ioLimits {
            writes.append(try CgroupFile.write(dir, "io.max", CgroupValues.v2IOMax(limit)))
        }
        return writes
    }

    public func observe(_ path: CgroupPath) throws(SystemError) -> CgroupObservation {
        let dir = directory(path)
        var observation = CgroupObservation()
        var limits = CgroupLimits()
        limits.cpuWeight = (try? CgroupFile.read(dir, "cpu.weight")).flatMap { Int($0) }
        if let cpuMax = try? CgroupFile.read(dir, "cpu.max") {
            let parts = cpuMax.split(separator: " ")
            if parts.count == 2 {
                limits.cpuQuotaMicros = UInt64(parts[0])
                limits.cpuPeriodMicros = UInt64(parts[1]) ?? 100_000
            }
        }
        limits.cpus = (try? CgroupFile.read(dir, "cpuset.cpus")).flatMap { $0.isEmpty ? nil : $0 }
        limits.memoryMax = (try? CgroupFile.read(dir, "memory.max")).flatMap { CgroupValues.parseMax($0) ?? nil }
        limits.memoryHigh = (try? CgroupFile.read(dir, "memory.high")).flatMap { CgroupValues.parseMax($0) ?? nil }
        limits.swapMax = (try? CgroupFile.read(dir, "memory.swap.max")).flatMap { CgroupValues.parseMax($0) ?? nil }
        limits.pidsMax = (try? CgroupFile.read(dir, "pids.max")).flatMap { CgroupValues.parseMax($0) ?? nil }.map { Int($0) }
        observation.limits = limits
        observation.memoryCurrent = CgroupFile.readNumber(dir, "memory.current")
        observation.memoryPeak = CgroupFile.readNumber(dir, "memory.peak")
        let memoryEvents = CgroupValues.keyed((try? CgroupFile.read(dir, "memory.events")) ?? "")
        observation.memoryFailures = memoryEvents["max"]
        observation.oomKills = memoryEvents["oom_kill"]
        observation.pidsCurrent = CgroupFile.readNumber(dir, "pids.current").map { Int($0) }
        observation.pidsFailures = CgroupValues.keyed((try? CgroupFile.read(dir, "pids.events")) ?? "")["max"]
        observation.cpuUsageNanos = CgroupValues.keyed((try? CgroupFile.read(dir, "cpu.stat")) ?? "")["usage_usec"].map { $0 * 1000 }
        observation.frozen = CgroupValues.keyed((try? CgroupFile.read(dir, "cgroup.events")) ?? "")["frozen"] == 1
        return observation
    }

    public func setFrozen(_ frozen: Bool, _ path: CgroupPath) throws(SystemError) {
        let dir = directory(path)
        _ = try CgroupFile.write(dir, "cgroup.freeze", frozen ? "1" : "0")
        // Freezing completes asynchronously: wait (bounded) until cgroup.events says so.
        for _ in 0..<400 {
            let events = CgroupValues.keyed((try? CgroupFile.read(dir, "cgroup.events")) ?? "")
            if (events["frozen"] == 1) == frozen { return }
            usleep(5000)
        }
    }

    public func killAll(_ path: CgroupPath) throws(SystemError) {
        let dir = directory(path)
        if Syscall.exists(dir + "/cgroup.kill") {
            _ = try CgroupFile.write(dir, "cgroup.kill", "1")
            return
        }
        for pid in try CgroupFile.pids(dir) { try? Syscall.kill(pid, SIGKILL) }
    }
}
