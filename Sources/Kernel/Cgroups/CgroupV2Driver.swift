import CLinux

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

    public func children(of path: CgroupPath) -> [String] { CgroupFile.children(directory(path)) }

    public func entry(_ path: CgroupPath) -> CgroupEntry { .cloneInto(directory: directory(path)) }

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
        if let rules = limits.devices {
            try attachDeviceProgram(rules, dir)
            writes.append(CgroupWrite(file: "(bpf device program)", value: "\(rules.count) rules", readBack: "attached"))
        }
        var limits = limits
        if limits.cpus == nil, Syscall.exists(dir + "/cpuset.cpus") {
            // No set wanted: every CPU of the parent (the set a write once put
            // here would otherwise stay).
            limits.cpus = inheritedCPUs(path)
        }
        for (file, value) in CgroupValues.v2Settings(limits, memorySwapSupported: swap) {
            writes.append(try CgroupFile.write(dir, file, value))
        }
        if Syscall.exists(dir + "/io.weight") {
            writes.append(try CgroupFile.write(dir, "io.weight", "default \(limits.ioWeight ?? 100)"))
        } else if limits.ioWeight != nil {
            throw CgroupUnsupported(feature: "io weight", reason: "no io.weight (the io scheduler has no weights)")
        }
        // Devices limited before and no longer: their line goes back to max.
        let wanted = Set(limits.ioLimits.map { "\($0.major):\($0.minor)" })
        let stale = CgroupValues.v2IOMaxLines((try? CgroupFile.read(dir, "io.max")) ?? "").filter { !wanted.contains("\($0.major):\($0.minor)") }
        for limit in stale.map({ CgroupLimits.IOLimit(major: $0.major, minor: $0.minor) }) + limits.ioLimits {
            writes.append(try CgroupFile.write(dir, "io.max", CgroupValues.v2IOMax(limit)))
        }
        return writes
    }

    /// cgroup v2 enforces devices only through a BPF_CGROUP_DEVICE program:
    /// one is assembled from the allow-list (default deny) and attached.
    func attachDeviceProgram(_ rules: [CgroupLimits.DeviceRule], _ dir: String) throws(SystemError) {
        var native = rules.map { rule in
            var access: UInt32 = 0
            if rule.access.contains("m") { access |= 1 }
            if rule.access.contains("r") { access |= 2 }
            if rule.access.contains("w") { access |= 4 }
            return berth_device_rule(
                is_block: rule.kind == .block ? 1 : 0, major: rule.major, minor: rule.minor.map { Int32($0) } ?? -1, access: access)
        }
        var log = [CChar](repeating: 0, count: 16384)
        let program = native.withUnsafeMutableBufferPointer { buffer in
            log.withUnsafeMutableBufferPointer { logBuffer in
                berth_device_program_load(buffer.baseAddress, Int32(buffer.count), logBuffer.baseAddress, logBuffer.count)
            }
        }
        if program < 0 {
            let verifier = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SystemError(call: "bpf(BPF_PROG_LOAD)", errno: errno, subject: verifier.isEmpty ? dir : "\(dir): \(verifier)")
        }
        defer { Syscall.close(program) }
        let directoryFD = try Syscall.open(dir, O_RDONLY | O_DIRECTORY)
        defer { Syscall.close(directoryFD) }
        if berth_device_program_attach(program, directoryFD) != 0 {
            throw SystemError(call: "bpf(BPF_PROG_ATTACH)", errno: errno, subject: dir)
        }
    }

    public func observe(_ path: CgroupPath, usage: Bool, parents: CgroupParents?) throws(SystemError) -> CgroupObservation {
        let dir = CgroupDirectory(directory(path), parents: parents)
        var observation = CgroupObservation()
        var limits = CgroupLimits()
        func max(_ file: String) -> UInt64? { dir.read(file).flatMap { CgroupValues.parseMax($0) ?? nil } }
        limits.cpuWeight = dir.number("cpu.weight").map { Int($0) }
        if let cpuMax = dir.read("cpu.max") {
            let parts = cpuMax.split(separator: " ")
            if parts.count == 2 {
                limits.cpuQuotaMicros = UInt64(parts[0])
                limits.cpuPeriodMicros = UInt64(parts[1]) ?? 100_000
            }
        }
        limits.memoryMax = max("memory.max")
        limits.pidsMax = max("pids.max").map { Int($0) }
        observation.frozen = CgroupV2Driver.frozen(events: dir.read("cgroup.events"))
        limits.cpus = dir.read("cpuset.cpus").flatMap { $0.isEmpty ? nil : $0 }
        limits.memoryHigh = max("memory.high")
        limits.swapMax = max("memory.swap.max")
        limits.ioWeight = dir.read("io.weight").flatMap { CgroupValues.v2IOWeight($0) }
        limits.ioLimits = CgroupValues.v2IOMaxLines(dir.read("io.max") ?? "")
        observation.limits = limits
        guard usage else { return observation }
        observation.memoryCurrent = dir.number("memory.current")
        observation.memoryPeak = dir.number("memory.peak")
        let memoryEvents = CgroupValues.keyed(dir.read("memory.events") ?? "")
        observation.memoryFailures = memoryEvents["max"]
        observation.oomKills = memoryEvents["oom_kill"]
        observation.oomEvents = memoryEvents["oom"]
        observation.memoryStat = CgroupValues.keyed(dir.read("memory.stat") ?? "")
        observation.swapCurrent = dir.number("memory.swap.current")
        observation.swapPeak = dir.number("memory.swap.peak")
        observation.swapFailures = CgroupValues.keyed(dir.read("memory.swap.events") ?? "")["max"]
        observation.pidsCurrent = dir.number("pids.current").map { Int($0) }
        observation.pidsPeak = dir.number("pids.peak").map { Int($0) }
        observation.pidsFailures = CgroupValues.keyed(dir.read("pids.events") ?? "")["max"]
        observation.cpuUsageNanos = CgroupValues.keyed(dir.read("cpu.stat") ?? "")["usage_usec"].map { $0 * 1000 }
        return observation
    }

    public func inheritedCPUs(_ path: CgroupPath) -> String? {
        let parent = path.parentDirectory(under: root)
        return (try? CgroupFile.read(parent, "cpuset.cpus.effective")).flatMap { $0.isEmpty ? nil : $0 }
    }

    public func setFrozen(_ frozen: Bool, _ path: CgroupPath) throws(SystemError) {
        let dir = directory(path)
        _ = try CgroupFile.write(dir, "cgroup.freeze", frozen ? "1" : "0")
        // Freezing completes asynchronously: wait (bounded) until cgroup.events says so.
        for _ in 0..<400 {
            if isFrozen(path) == frozen { return }
            usleep(5000)
        }
    }

    public func isFrozen(_ path: CgroupPath) -> Bool {
        CgroupV2Driver.frozen(events: try? CgroupFile.read(directory(path), "cgroup.events"))
    }

    public func oomKills(_ path: CgroupPath) -> UInt64? {
        guard let text = try? CgroupFile.read(directory(path), "memory.events") else { return nil }
        return CgroupValues.keyed(text)["oom_kill"]
    }

    /// `frozen 1` in the text of cgroup.events (nil: unreadable, not frozen).
    static func frozen(events: String?) -> Bool { CgroupValues.keyed(events ?? "")["frozen"] == 1 }

    public func killAll(_ path: CgroupPath) throws(SystemError) {
        let dir = directory(path)
        if Syscall.exists(dir + "/cgroup.kill") {
            _ = try CgroupFile.write(dir, "cgroup.kill", "1")
            return
        }
        for pid in try CgroupFile.pids(dir) { try? Syscall.kill(pid, SIGKILL) }
    }
}
