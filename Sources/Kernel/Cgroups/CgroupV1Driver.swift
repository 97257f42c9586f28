import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// cgroup v1: one hierarchy per controller (or co-mounted groups such as
/// cpu,cpuacct). Hybrid hosts (v1 controllers, cgroup2 with nothing useful)
/// use this driver.
public struct CgroupV1Driver: CgroupDriver {
    /// Controller name → its hierarchy's mount point.
    public let mounts: [String: String]
    public var version: CgroupVersion { .v1 }

    /// Controllers berth uses; cpu, memory and pids are required.
    static let wanted = ["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices"]
    static let required = ["cpu", "memory", "pids"]

    public init(mounts: [String: String]) throws(SystemError) {
        for controller in CgroupV1Driver.required where mounts[controller] == nil {
            throw SystemError(call: "cgroup v1", errno: ENOENT, subject: "controller \(controller) is not mounted")
        }
        self.mounts = mounts
    }

    /// Parses /proc/self/mountinfo for cgroup v1 mounts of the wanted controllers.
    public static func controllerMounts(mountinfo: String) -> [String: String] {
        // Bytes and element splits only: it runs at every start-up, and
        // String searching pulls in _StringProcessing's generic machinery.
        var result: [String: String] = [:]
        let space = UInt8(ascii: " ")
        for line in Array(mountinfo.utf8).split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: space)
            // ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [TAGS...] - TYPE SOURCE SUPEROPTIONS
            guard let dash = fields.firstIndex(where: { $0.count == 1 && $0.first == UInt8(ascii: "-") }),
                dash >= 5, fields.count >= dash + 4, fields[dash + 1].elementsEqual("cgroup".utf8)
            else { continue }
            let mountPoint = unescape(String(decoding: fields[4], as: UTF8.self))
            for option in fields[dash + 3].split(separator: UInt8(ascii: ",")) {
                let name = String(decoding: option, as: UTF8.self)
                if wanted.contains(name) && result[name] == nil { result[name] = mountPoint }
            }
        }
        return result
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ text: String) -> String {
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.first {
            if byte == UInt8(ascii: "\\"), input.count >= 4,
                let value = UInt8(String(decoding: input.dropFirst().prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                input = input.dropFirst(4)
            } else {
                bytes.append(byte)
                input = input.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Distinct hierarchy directories for `path` (co-mounted controllers once).
    func directories(_ path: CgroupPath) -> [String] {
        var seen: Set<String> = []
        var result: [String] = []
        for controller in CgroupV1Driver.wanted {
            guard let mount = mounts[controller], seen.insert(mount).inserted else { continue }
            result.append(mount + "/" + path.description)
        }
        return result
    }

    func directory(_ controller: String, _ path: CgroupPath) -> String? {
        mounts[controller].map { $0 + "/" + path.description }
    }

    public func create(_ path: CgroupPath) throws(SystemError) {
        var done: Set<String> = []
        for controller in CgroupV1Driver.wanted {
            guard let mount = mounts[controller], done.insert(mount).inserted else { continue }
            let cpuset = mounts["cpuset"] == mount
            var levels: [String] = []
            var current = mount
            for component in path.components {
                current += "/" + component
                levels.append(current)
            }
            // Usually berth's parent is there and only the container's own
            // directory is new: one mkdir per hierarchy.
            guard let leaf = levels.last else { continue }
            if let made = try CgroupV1Driver.makeLevel(leaf) {
                if made && cpuset { try CgroupV1Driver.inheritCpuset(leaf, parent: levels.dropLast().last ?? mount, mark: levels.count > 1) }
                continue
            }
            for (index, level) in levels.enumerated() {
                guard let made = try CgroupV1Driver.makeLevel(level) else { throw SystemError(call: "mkdir", errno: ENOENT, subject: level) }
                if made && cpuset {
                    let isLeaf = index == levels.count - 1
                    try CgroupV1Driver.inheritCpuset(level, parent: index > 0 ? levels[index - 1] : mount, mark: isLeaf && index > 0)
                }
            }
        }
    }

    /// mkdir of one cgroup: true when made, false when it was there, nil
    /// when its parent is missing.
    static func makeLevel(_ directory: String) throws(SystemError) -> Bool? {
        if Glibc.mkdir(directory, 0o755) == 0 { return true }
        switch errno {
        case EEXIST: return false
        case ENOENT: return nil
        default: throw SystemError(call: "mkdir", errno: errno, subject: directory)
        }
    }

    /// A new cpuset is empty and refuses tasks: it takes its parent's cpus
    /// and mems. The kernel copies them itself under a parent with
    /// `cgroup.clone_children`. `mark`: the parent is berth's own cgroup
    /// parent (a container's cgroup is being made), which then gets that
    /// flag, so later containers cost one read here. No other cgroup is
    /// touched (the hierarchy's root is the whole machine's).
    static func inheritCpuset(_ directory: String, parent: String, mark: Bool) throws(SystemError) {
        guard try CgroupFile.read(directory, "cpuset.cpus").isEmpty else { return }
        _ = try CgroupFile.write(directory, "cpuset.cpus", try CgroupFile.read(parent, "cpuset.cpus"))
        _ = try CgroupFile.write(directory, "cpuset.mems", try CgroupFile.read(parent, "cpuset.mems"))
        if mark { _ = try? CgroupFile.write(parent, "cgroup.clone_children", "1") }
    }

    public func remove(_ path: CgroupPath) throws(SystemError) {
        for directory in directories(path) { try Syscall.rmdir(directory, missingOK: true) }
    }

    public func setAside(_ path: CgroupPath, as name: String) throws(SystemError) -> Bool {
        for directory in directories(path) {
            guard let slash = directory.lastIndex(of: "/") else { continue }
            if Glibc.rename(directory, String(directory[..<slash]) + "/" + name) == 0 || errno == ENOENT { continue }
            try Syscall.rmdir(directory, missingOK: true)
        }
        return true
    }

    public func childrenInAnyHierarchy(of path: CgroupPath) -> [String] {
        var names: Set<String> = []
        for directory in directories(path) { names.formUnion(CgroupFile.children(directory)) }
        return names.sorted()
    }

    public func entry(_ path: CgroupPath) -> CgroupEntry { .moveSelf(taskFiles: directories(path).map { $0 + "/tasks" }) }

    public func children(of path: CgroupPath) -> [String] {
        directory("memory", path).map(CgroupFile.children) ?? []
    }

    public func exists(_ path: CgroupPath) -> Bool {
        directory("memory", path).map { Syscall.exists($0 + "/cgroup.procs") } ?? false
    }

    public func addProcess(_ pid: pid_t, to path: CgroupPath) throws(SystemError) {
        for directory in directories(path) { _ = try CgroupFile.write(directory, "cgroup.procs", "\(pid)") }
    }

    public func processes(in path: CgroupPath) throws(SystemError) -> [pid_t] {
        guard let memory = directory("memory", path) else { return [] }
        return try CgroupFile.pids(memory)
    }

    public func apply(_ limits: CgroupLimits, to path: CgroupPath) throws -> [CgroupWrite] {
        var writes: [CgroupWrite] = []
        if let cpu = directory("cpu", path) {
            // Written only where they differ: a new cgroup has the defaults
            // (shares 1024, period 100000, no quota), and a write of the
            // bandwidth files walks every task group of the host.
            writes.append(try CgroupFile.writeIfDifferent(cpu, "cpu.shares", "\(KernelUnits.shares(weight: limits.cpuWeight ?? 100))"))
            writes.append(try CgroupFile.writeIfDifferent(cpu, "cpu.cfs_period_us", "\(limits.cpuPeriodMicros)"))
            writes.append(try CgroupFile.writeIfDifferent(cpu, "cpu.cfs_quota_us", limits.cpuQuotaMicros.map(String.init) ?? "-1"))
        }
        if let cpus = limits.cpus {
            guard let cpuset = directory("cpuset", path) else {
                throw CgroupUnsupported(feature: "cpu set", reason: "the cpuset controller is not mounted")
            }
            writes.append(try CgroupFile.writeIfDifferent(cpuset, "cpuset.cpus", cpus))
        } else if let cpuset = directory("cpuset", path), let inherited = inheritedCPUs(path) {
            // No set wanted: every CPU of the parent (a set written once would
            // otherwise stay). A new cpuset has them already (create).
            writes.append(try CgroupFile.writeIfDifferent(cpuset, "cpuset.cpus", inherited))
        }
        if let memory = directory("memory", path) {
            writes += try applyMemory(limits, memory)
        }
        if let pids = directory("pids", path) {
            writes.append(try CgroupFile.write(pids, "pids.max", limits.pidsMax.map(String.init) ?? "max"))
        }
        if let rules = limits.devices {
            guard let devices = directory("devices", path) else {
                throw CgroupUnsupported(feature: "device allow-list", reason: "the devices controller is not mounted")
            }
            // Default deny, then the allow-list: one rule per write.
            writes.append(try CgroupFile.writeOnly(devices, "devices.deny", "a"))
            for rule in rules { writes.append(try CgroupFile.writeOnly(devices, "devices.allow", rule.description)) }
        }
        if let blkio = directory("blkio", path) {
            writes += try applyIO(limits, blkio)
        } else if limits.ioWeight != nil || !limits.ioLimits.isEmpty {
            throw CgroupUnsupported(feature: "io limits", reason: "the blkio controller is not mounted")
        }
        return writes
    }

    /// memory.limit_in_bytes must stay ≤ memory.memsw.limit_in_bytes at every
    /// step: raise memsw first when the new limit is above it.
    private func applyMemory(_ limits: CgroupLimits, _ dir: String) throws -> [CgroupWrite] {
        var writes: [CgroupWrite] = []
        let hasSwapAccounting = Syscall.exists(dir + "/memory.memsw.limit_in_bytes")
        if limits.swapMax != nil && !hasSwapAccounting {
            throw CgroupUnsupported(feature: "memory swap limit", reason: "no memory.memsw.limit_in_bytes (swapaccount off)")
        }
        let limit = limits.memoryMax.map(String.init) ?? "-1"
        var memsw: String?
        if hasSwapAccounting {
            if let max = limits.memoryMax, let swap = limits.swapMax {
                let (total, overflow) = max.addingReportingOverflow(swap)
                memsw = overflow ? "-1" : String(total)
            } else {
                memsw = "-1"
            }
        }
        let currentMemsw = CgroupFile.readNumber(dir, "memory.memsw.limit_in_bytes") ?? UInt64.max
        let raising = (limits.memoryMax ?? UInt64.max) > currentMemsw
        if let memsw, raising { writes.append(try CgroupFile.write(dir, "memory.memsw.limit_in_bytes", memsw)) }
        writes.append(try CgroupFile.write(dir, "memory.limit_in_bytes", limit))
        if let memsw, !raising { writes.append(try CgroupFile.write(dir, "memory.memsw.limit_in_bytes", memsw)) }
        // v1 has no memory.high; the soft limit is the closest reclaim target.
        writes.append(try CgroupFile.write(dir, "memory.soft_limit_in_bytes", limits.memoryHigh.map(String.init) ?? "-1"))
        return writes
    }

    private func applyIO(_ limits: CgroupLimits, _ dir: String) throws -> [CgroupWrite] {
        var writes: [CgroupWrite] = []
        let weightFile = ["blkio.weight", "blkio.bfq.weight"].first { Syscall.exists(dir + "/" + $0) }
        if let weightFile {
            writes.append(try CgroupFile.write(dir, weightFile, "\(KernelUnits.blkioWeight(limits.ioWeight ?? 100))"))
        } else if limits.ioWeight != nil {
            throw CgroupUnsupported(feature: "io weight", reason: "no blkio.weight (the io scheduler has no weights)")
        }
        // Devices limited before and no longer: their rules go (0 removes one).
        func read(_ file: String) -> String { (try? CgroupFile.read(dir, "blkio.throttle." + file)) ?? "" }
        let wanted = Set(limits.ioLimits.map { "\($0.major):\($0.minor)" })
        let stale = CgroupValues.v1ThrottleLines(
            readBps: read("read_bps_device"), writeBps: read("write_bps_device"), readIOPS: read("read_iops_device"),
            writeIOPS: read("write_iops_device")
        ).filter { !wanted.contains("\($0.major):\($0.minor)") }
        for limit in stale.map({ CgroupLimits.IOLimit(major: $0.major, minor: $0.minor) }) + limits.ioLimits {
            let device = "\(limit.major):\(limit.minor)"
            let pairs: [(String, UInt64?)] = [
                ("blkio.throttle.read_bps_device", limit.readBytesPerSecond),
                ("blkio.throttle.write_bps_device", limit.writeBytesPerSecond),
                ("blkio.throttle.read_iops_device", limit.readIOPS),
                ("blkio.throttle.write_iops_device", limit.writeIOPS),
            ]
            for (file, value) in pairs {
                // 0 removes a v1 throttle rule.
                writes.append(try CgroupFile.write(dir, file, "\(device) \(value ?? 0)"))
            }
        }
        return writes
    }

    public func observe(_ path: CgroupPath, usage: Bool, parents: CgroupParents?) throws(SystemError) -> CgroupObservation {
        var observation = CgroupObservation()
        var limits = CgroupLimits()
        // Held open where several files are read (cpu and cpuacct share one
        // directory where they are mounted together).
        var opened: [String: CgroupDirectory] = [:]
        func open(_ controller: String, held: Bool = true) -> CgroupDirectory? {
            guard let path = directory(controller, path) else { return nil }
            if let known = opened[path] { return known }
            let directory = CgroupDirectory(path, held: held, parents: parents)
            opened[path] = directory
            return directory
        }
        if let cpu = open("cpu") {
            limits.cpuWeight = cpu.number("cpu.shares").map { KernelUnits.weight(shares: Int($0)) }
            limits.cpuQuotaMicros = cpu.number("cpu.cfs_quota_us")  // "-1" reads as nil
            // The period matters only under a quota (the default otherwise).
            if limits.cpuQuotaMicros != nil { limits.cpuPeriodMicros = cpu.number("cpu.cfs_period_us") ?? 100_000 }
        }
        if let cpuset = open("cpuset", held: false) {
            limits.cpus = cpuset.read("cpuset.cpus").flatMap { $0.isEmpty ? nil : $0 }
        }
        if let memory = open("memory") {
            // The kernel reports "unlimited" as a huge page-aligned number.
            let unlimited: UInt64 = 1 << 62
            func limit(_ file: String) -> UInt64? { memory.number(file).flatMap { $0 >= unlimited ? nil : $0 } }
            limits.memoryMax = limit("memory.limit_in_bytes")
            limits.memoryHigh = limit("memory.soft_limit_in_bytes")
            limits.swapMax = KernelUnits.swap(memsw: limit("memory.memsw.limit_in_bytes"), memory: limits.memoryMax)
            if usage {
                observation.memoryCurrent = memory.number("memory.usage_in_bytes")
                observation.memoryPeak = memory.number("memory.max_usage_in_bytes")
                observation.memoryFailures = memory.number("memory.failcnt")
                observation.oomKills = CgroupValues.keyed(memory.read("memory.oom_control") ?? "")["oom_kill"]
                observation.memoryStat = CgroupValues.keyed(memory.read("memory.stat") ?? "")
                if let memsw = memory.number("memory.memsw.usage_in_bytes"), let used = observation.memoryCurrent {
                    observation.swapCurrent = memsw > used ? memsw - used : 0
                }
                observation.swapFailures = memory.number("memory.memsw.failcnt")
                observation.kernelMemory = memory.number("memory.kmem.usage_in_bytes")
                observation.kernelMemoryPeak = memory.number("memory.kmem.max_usage_in_bytes")
                observation.kernelMemoryFailures = memory.number("memory.kmem.failcnt")
                observation.kernelMemoryLimit = limit("memory.kmem.limit_in_bytes")
            }
        }
        if let pids = open("pids", held: usage) {
            limits.pidsMax = pids.read("pids.max").flatMap { CgroupValues.parseMax($0) ?? nil }.map { Int($0) }
            if usage {
                observation.pidsCurrent = pids.number("pids.current").map { Int($0) }
                observation.pidsFailures = CgroupValues.keyed(pids.read("pids.events") ?? "")["max"]
            }
        }
        if usage, let cpuacct = open("cpuacct") {
            observation.cpuUsageNanos = cpuacct.number("cpuacct.usage")
        }
        if let blkio = open("blkio") {
            // CFQ's weight, else BFQ's; neither (no io scheduler with weights): none.
            // Which of the two files the host has is asked once, beside it.
            let weight = weightFiles(besides: path).lazy.compactMap { blkio.number($0) }.first
            limits.ioWeight = weight.map { KernelUnits.ioWeight(blkioWeight: Int($0)) }
            func read(_ file: String) -> String { blkio.read("blkio.throttle." + file) ?? "" }
            limits.ioLimits = CgroupValues.v1ThrottleLines(
                readBps: read("read_bps_device"), writeBps: read("write_bps_device"), readIOPS: read("read_iops_device"),
                writeIOPS: read("write_iops_device"))
        }
        if let freezer = open("freezer", held: false) {
            observation.frozen = freezer.read("freezer.state") == "FROZEN"
        }
        observation.limits = limits
        return observation
    }

    /// The blkio weight files a cgroup has (CFQ's, BFQ's), as its parent
    /// has them: a cgroup below the hierarchy's root has the files of the
    /// io schedulers the kernel runs, so every container under one parent
    /// has the same. Asked of the parent at most once a second (a pass),
    /// not tried twice per container (two failed opens each on a host
    /// without them: berth-bench scale, no-op plan and drift). Under the
    /// root (which lacks BFQ's file) both are tried, as before.
    func weightFiles(besides path: CgroupPath) -> [String] {
        let files = ["blkio.weight", "blkio.bfq.weight"]
        guard let mount = mounts["blkio"] else { return files }
        let parent = path.parentDirectory(under: mount)
        guard parent != mount, parent.hasPrefix(mount + "/") else { return files }
        let now = ContinuousClock.now
        if let seen = CgroupV1Driver.weightFilesSeen.withLock({ $0[parent] }), now - seen.at < .seconds(1) { return seen.files }
        let present = files.filter { Syscall.exists(parent + "/" + $0) }
        CgroupV1Driver.weightFilesSeen.withLock { $0[parent] = (present, now) }
        return present
    }

    private static let weightFilesSeen = Mutex<[String: (files: [String], at: ContinuousClock.Instant)]>([:])

    public func isFrozen(_ path: CgroupPath) -> Bool {
        guard let freezer = directory("freezer", path) else { return false }
        return (try? CgroupFile.read(freezer, "freezer.state")) == "FROZEN"
    }

    public func oomKills(_ path: CgroupPath) -> UInt64? {
        guard let memory = directory("memory", path), let text = try? CgroupFile.read(memory, "memory.oom_control") else { return nil }
        return CgroupValues.keyed(text)["oom_kill"]
    }

    public func inheritedCPUs(_ path: CgroupPath) -> String? {
        guard let base = mounts["cpuset"] else { return nil }
        let parent = path.parentDirectory(under: base)
        return (try? CgroupFile.read(parent, "cpuset.cpus")).flatMap { $0.isEmpty ? nil : $0 }
    }

    public func setFrozen(_ frozen: Bool, _ path: CgroupPath) throws(SystemError) {
        guard let freezer = directory("freezer", path) else {
            throw SystemError(call: "freeze", errno: ENOENT, subject: "the freezer controller is not mounted")
        }
        _ = try CgroupFile.write(freezer, "freezer.state", frozen ? "FROZEN" : "THAWED")
        // FREEZING settles within milliseconds; wait a bounded time for it.
        for _ in 0..<200 where frozen {
            if (try? CgroupFile.read(freezer, "freezer.state")) == "FROZEN" { return }
            usleep(5000)
        }
    }

    /// Freeze, kill every member, thaw: no process can fork past the kill.
    public func killAll(_ path: CgroupPath) throws(SystemError) {
        let canFreeze = directory("freezer", path).map { Syscall.exists($0) } ?? false
        if canFreeze { try? setFrozen(true, path) }
        for pid in try processes(in: path) { try? Syscall.kill(pid, SIGKILL) }
        if canFreeze { try? setFrozen(false, path) }
    }
}
