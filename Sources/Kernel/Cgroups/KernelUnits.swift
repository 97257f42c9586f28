#if canImport(Glibc)
    import Glibc
#endif

/// The one home of every conversion between a manifest's units and the
/// kernel's. Each conversion has its inverse next to it, and a round-trip
/// test (ModelTests/KernelUnitsTests): the planner compares values after a
/// trip through the kernel's units, so a value the kernel cannot hold
/// exactly never shows as drift for ever.
public enum KernelUnits {
    // MARK: CPU limit: millicores ↔ CFS quota and period

    /// The CFS period berth uses for limits of 10m and more (the kernel's default).
    public static let defaultPeriodMicros: UInt64 = 100_000
    /// The kernel refuses a quota below 1 ms (cpu.cfs_quota_us, cpu.max).
    public static let minimumQuotaMicros: UInt64 = 1000
    /// The kernel refuses a period above 1 s.
    public static let maximumPeriodMicros: UInt64 = 1_000_000

    /// cpu.max / cfs_quota_us and cfs_period_us for a limit in millicores.
    /// Below 10m the quota would fall under the kernel's 1 ms minimum, so the
    /// period grows instead (5m → 1000/200000); 1m is the least (1000/1000000).
    /// nil: no limit (zero, or so large that the quota overflows).
    public static func cpuMax(millicores: UInt64) -> (quota: UInt64, period: UInt64)? {
        guard millicores > 0 else { return nil }
        let (quota, overflow) = millicores.multipliedReportingOverflow(by: defaultPeriodMicros)
        if overflow { return nil }
        let scaled = quota / 1000
        if scaled >= minimumQuotaMicros { return (scaled, defaultPeriodMicros) }
        return (minimumQuotaMicros, min(maximumPeriodMicros, minimumQuotaMicros * 1000 / millicores))
    }

    /// The inverse of `cpuMax`: the limit a quota and period stand for,
    /// rounded to the nearest millicore.
    public static func millicores(quota: UInt64, period: UInt64) -> UInt64 {
        guard period > 0 else { return 0 }
        let (scaled, overflow) = quota.multipliedReportingOverflow(by: 1000)
        if overflow { return quota / period * 1000 }
        return (scaled + period / 2) / period
    }

    // MARK: CPU weight ↔ v1 cpu.shares

    /// cpu.shares for a weight (1-10000), as systemd converts: weight × 1024 / 100, at least 2.
    public static func shares(weight: Int) -> Int { max(2, weight * 1024 / 100) }

    /// The weight a cpu.shares value stands for (rounded): exact for every
    /// weight `shares(weight:)` produced.
    public static func weight(shares: Int) -> Int { max(1, min(10_000, (shares * 100 + 512) / 1024)) }

    // MARK: IO weight ↔ v1 blkio.weight

    /// blkio.weight (10-1000) for an io weight (1-10000). Lossy: the planner
    /// compares `ioWeight(blkioWeight:)` of this, never the manifest value.
    public static func blkioWeight(_ weight: Int) -> Int { max(10, min(1000, weight / 10)) }

    public static func ioWeight(blkioWeight: Int) -> Int { blkioWeight * 10 }

    // MARK: Memory: bytes ↔ pages

    /// The kernel keeps memory limits in pages, rounded down.
    public static func pageRounded(_ bytes: UInt64, pageSize: UInt64) -> UInt64 {
        guard pageSize > 0 else { return bytes }
        return bytes / pageSize * pageSize
    }

    /// This system's page size (sysconf(_SC_PAGESIZE); 4096 if it cannot tell).
    public static let systemPageSize: UInt64 = {
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? UInt64(size) : 4096
    }()

    /// Whole pages in `bytes` (rounded down); its inverse is `bytes(pages:pageSize:)`.
    public static func pages(_ bytes: UInt64, pageSize: UInt64) -> UInt64 { pageSize > 0 ? bytes / pageSize : bytes }

    public static func bytes(pages: UInt64, pageSize: UInt64) -> UInt64 {
        let (bytes, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        return overflow ? UInt64.max : bytes
    }

    // MARK: Swap: v2 swap.max ↔ v1 memsw (memory + swap)

    /// v1 memory.memsw.limit_in_bytes for a memory limit and swap on top (nil: unlimited).
    public static func memsw(memory: UInt64?, swap: UInt64?) -> UInt64? {
        guard let memory, let swap else { return nil }
        let (total, overflow) = memory.addingReportingOverflow(swap)
        return overflow ? nil : total
    }

    /// The swap a v1 memsw limit allows on top of the memory limit.
    public static func swap(memsw: UInt64?, memory: UInt64?) -> UInt64? {
        guard let memsw, let memory, memsw >= memory else { return nil }
        return memsw - memory
    }

    // MARK: File names, v2 ↔ v1

    /// The cgroup file that holds a manifest field, per hierarchy (docs and
    /// plan output name it).
    public static let files: [String: (v2: String, v1: String)] = [
        "spec.resources.cpu.weight": ("cpu.weight", "cpu.shares"),
        "spec.resources.cpu.limit": ("cpu.max", "cpu.cfs_quota_us"),
        "spec.resources.cpu.cpus": ("cpuset.cpus", "cpuset.cpus"),
        "spec.resources.memory.max": ("memory.max", "memory.limit_in_bytes"),
        "spec.resources.memory.high": ("memory.high", "memory.soft_limit_in_bytes"),
        "spec.resources.memory.swap": ("memory.swap.max", "memory.memsw.limit_in_bytes"),
        "spec.resources.pids.max": ("pids.max", "pids.max"),
        "spec.resources.io.weight": ("io.weight", "blkio.weight"),
        "spec.resources.io.limits": ("io.max", "blkio.throttle.*"),
        "spec.state": ("cgroup.freeze", "freezer.state"),
    ]
}
