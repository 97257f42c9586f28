import Kernel
import Model
import Reconcile
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// Kernel limits in the manifest's units (through KernelUnits, their one
/// home), and a manifest's resources as the kernel would hold them: the
/// planner compares the two, so a value the kernel rounds never shows as
/// drift, and every field the manifest can set is read back.
enum ResourceObservation {
    static let pageSize = KernelUnits.systemPageSize

    /// What the kernel holds, from a cgroup's limits.
    static func values(_ limits: CgroupLimits, inheritedCPUs: String?) -> ResourceValues {
        var values = ResourceValues(
            cpuWeight: limits.cpuWeight ?? Defaults.cpuWeight,
            cpuLimit: limits.cpuQuotaMicros.map { CPUQuantity(millicores: KernelUnits.millicores(quota: $0, period: limits.cpuPeriodMicros)) },
            cpus: cpuSet(limits.cpus, inherited: inheritedCPUs), memoryMax: limits.memoryMax, memoryHigh: limits.memoryHigh,
            swap: limits.swapMax, pidsMax: limits.pidsMax, ioWeight: limits.ioWeight)
        for limit in limits.ioLimits { values.ioLimits["\(limit.major):\(limit.minor)"] = ioValues(limit) }
        return values
    }

    /// The manifest's resources after a trip through the kernel's units on
    /// this host. `observed` tells what the host can hold at all (no io
    /// weights, no swap accounting): a field left out is then not expected
    /// either; a field the manifest sets still is, and its apply says why it fails.
    static func expected(_ resources: ResourcesSpec?, version: CgroupVersion, observed: ResourceValues, inheritedCPUs: String?)
        -> ResourceValues
    {
        var values = ResourceValues(spec: nil)
        values.cpuWeight = resources?.cpu?.weight ?? Defaults.cpuWeight
        if let limit = resources?.cpu?.limit, let max = KernelUnits.cpuMax(millicores: limit.millicores) {
            values.cpuLimit = CPUQuantity(millicores: KernelUnits.millicores(quota: max.quota, period: max.period))
        }
        values.cpus = cpuSet(resources?.cpu?.cpus?.description, inherited: inheritedCPUs)
        func pages(_ size: ByteSize?) -> UInt64? { size.map { KernelUnits.pageRounded($0.bytes, pageSize: pageSize) } }
        values.memoryMax = pages(resources?.memory?.max)
        values.memoryHigh = pages(resources?.memory?.high)
        // v1 keeps swap as memory + swap: without a memory limit there is none.
        values.swap = version == .v1 && values.memoryMax == nil ? nil : pages(resources?.memory?.swap)
        values.pidsMax = resources?.pids?.max
        values.numtcpsock = resources?.numtcpsock
        values.numpty = resources?.numpty
        values.numfile = resources?.numfile
        values.diskSize = resources?.disk?.size?.bytes
        values.diskInodes = resources?.disk?.inodes
        values.diskUserQuota = resources?.disk.map { $0.userQuota ?? false }
        // No io weight in the manifest: the kernel's default, where the host has io weights at all.
        if let weight = resources?.io?.weight ?? (observed.ioWeight != nil ? Defaults.ioWeight : nil) {
            values.ioWeight = version == .v1 ? KernelUnits.ioWeight(blkioWeight: KernelUnits.blkioWeight(weight)) : weight
        }
        for limit in resources?.io?.limits ?? [] {
            var io = IOLimitValues(limit)
            if io.isEmpty { continue }
            // v1 removes a rule written as 0.
            if version == .v1 {
                func set(_ value: UInt64?) -> UInt64? { value == 0 ? nil : value }
                io = IOLimitValues(
                    readBytesPerSecond: set(io.readBytesPerSecond), writeBytesPerSecond: set(io.writeBytesPerSecond),
                    readIOPS: set(io.readIOPS), writeIOPS: set(io.writeIOPS))
            }
            // A device that cannot be found keeps its path: it never matches,
            // so the update is planned and fails saying why.
            let key = (try? CgroupLimits.deviceNumbers(limit.device)).map { "\($0.major):\($0.minor)" } ?? limit.device
            values.ioLimits[key] = io
        }
        return values
    }

    static func ioValues(_ limit: CgroupLimits.IOLimit) -> IOLimitValues {
        IOLimitValues(
            readBytesPerSecond: limit.readBytesPerSecond, writeBytesPerSecond: limit.writeBytesPerSecond, readIOPS: limit.readIOPS,
            writeIOPS: limit.writeIOPS)
    }

    /// A CPU list as a set; nil when it is every CPU the parent has.
    static func cpuSet(_ text: String?, inherited: String?) -> CPUSet? {
        // The parent's own list, as most cgroups read: no parse (a CPU-list
        // parse per container was 3% of a no-op plan at 1000 containers).
        guard let text, text != inherited, let set = try? CPUSet(parsing: text) else { return nil }
        if let inherited, let all = try? CPUSet(parsing: inherited), all == set { return nil }
        return set
    }
}
