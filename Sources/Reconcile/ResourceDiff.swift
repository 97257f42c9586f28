import Model

extension ResourceValues {
    /// A spec's values as written (no trip through the kernel's units): for
    /// comparing a manifest with berth's record of it. io limits are keyed by
    /// the device as written.
    public init(spec resources: ResourcesSpec?) {
        self.init(
            cpuWeight: resources?.cpu?.weight ?? Defaults.cpuWeight, cpuLimit: resources?.cpu?.limit, cpus: resources?.cpu?.cpus,
            memoryMax: resources?.memory?.max?.bytes, memoryHigh: resources?.memory?.high?.bytes, swap: resources?.memory?.swap?.bytes,
            pidsMax: resources?.pids?.max, ioWeight: resources?.io?.weight, diskSize: resources?.disk?.size?.bytes,
            diskInodes: resources?.disk?.inodes, numtcpsock: resources?.numtcpsock)
        numpty = resources?.numpty
        numfile = resources?.numfile
        diskUserQuota = resources?.disk.map { $0.userQuota ?? false }
        for limit in resources?.io?.limits ?? [] {
            ioLimits[limit.device] = IOLimitValues(limit)
        }
    }
}

extension IOLimitValues {
    /// An io limit's values as the manifest writes them.
    public init(_ limit: IODeviceLimit) {
        self.init(
            readBytesPerSecond: limit.readBytesPerSecond?.bytes, writeBytesPerSecond: limit.writeBytesPerSecond?.bytes,
            readIOPS: limit.readIOPS, writeIOPS: limit.writeIOPS)
    }
}

/// Field-by-field differences of two sets of resource values.
public enum ResourceDiff {
    /// (field, desired, observed) for every field that differs. An io weight
    /// the host cannot hold (nil observed) is left to the apply, which says so.
    public static func differences(desired: ResourceValues, observed: ResourceValues) -> [(String, FieldValue, FieldValue)] {
        var result: [(String, FieldValue, FieldValue)] = []
        if desired.cpuWeight != observed.cpuWeight {
            result.append(("spec.resources.cpu.weight", .number(desired.cpuWeight), .number(observed.cpuWeight)))
        }
        if desired.cpuLimit != observed.cpuLimit {
            result.append(
                ("spec.resources.cpu.limit", desired.cpuLimit.map { .cpu($0) } ?? .unlimited, observed.cpuLimit.map { .cpu($0) } ?? .unlimited))
        }
        if desired.cpus != observed.cpus {
            result.append(
                ("spec.resources.cpu.cpus", desired.cpus.map { .cpus($0) } ?? .text("all"), observed.cpus.map { .cpus($0) } ?? .text("all")))
        }
        if desired.memoryMax != observed.memoryMax {
            result.append(("spec.resources.memory.max", .limit(desired.memoryMax), .limit(observed.memoryMax)))
        }
        if desired.memoryHigh != observed.memoryHigh {
            result.append(("spec.resources.memory.high", .limit(desired.memoryHigh), .limit(observed.memoryHigh)))
        }
        if desired.swap != observed.swap {
            result.append(("spec.resources.memory.swap", .limit(desired.swap), .limit(observed.swap)))
        }
        if desired.pidsMax != observed.pidsMax {
            result.append(
                ("spec.resources.pids.max", desired.pidsMax.map { .number($0) } ?? .unlimited, observed.pidsMax.map { .number($0) } ?? .unlimited))
        }
        if let wanted = desired.ioWeight, wanted != observed.ioWeight {
            result.append(("spec.resources.io.weight", .number(wanted), observed.ioWeight.map { .number($0) } ?? .absent))
        }
        if desired.diskSize != observed.diskSize {
            result.append(
                ("spec.resources.disk.size", desired.diskSize.map { .bytes($0) } ?? .absent, observed.diskSize.map { .bytes($0) } ?? .absent))
        }
        if desired.diskInodes != observed.diskInodes {
            result.append(
                (
                    "spec.resources.disk.inodes", desired.diskInodes.map { .number(Int(clamping: $0)) } ?? .unlimited,
                    observed.diskInodes.map { .number(Int(clamping: $0)) } ?? .unlimited
                ))
        }
        if let wanted = desired.diskUserQuota, let held = observed.diskUserQuota, wanted != held {
            result.append(("spec.resources.disk.userQuota", .boolean(wanted), .boolean(held)))
        }
        for (field, wanted, held) in [
            ("spec.resources.numtcpsock", desired.numtcpsock, observed.numtcpsock), ("spec.resources.numpty", desired.numpty, observed.numpty),
            ("spec.resources.numfile", desired.numfile, observed.numfile),
        ] where wanted != held {
            result.append((field, wanted.map { .number($0) } ?? .unlimited, held.map { .number($0) } ?? .unlimited))
        }
        for device in Set(desired.ioLimits.keys).union(observed.ioLimits.keys).sorted() {
            let wanted = desired.ioLimits[device].flatMap { $0.isEmpty ? nil : $0 }
            let actual = observed.ioLimits[device].flatMap { $0.isEmpty ? nil : $0 }
            if wanted != actual {
                result.append(
                    (
                        "spec.resources.io.limits[\(device)]", wanted.map { .text($0.description) } ?? .absent,
                        actual.map { .text($0.description) } ?? .absent
                    ))
            }
        }
        return result
    }
}
