import FoundationEssentials
import Kernel
import Model

/// A container's beancounters from what the kernel reports of it: one pure
/// function from a sample (the cgroup's counters, its processes, sockets,
/// pseudo-terminals, firewall rules and disk) and the peaks berth recorded
/// before, to OpenVZ's rows in OpenVZ's units. The reading is in
/// `ContainerRuntime.beancounters(_:)`.
public enum Beancounters {
    /// What one observation of a running container saw.
    public struct Sample: Sendable {
        public var version: CgroupVersion
        public var cgroup: CgroupObservation
        public var pageSize: UInt64
        /// Open descriptors of every process in its cgroup.
        public var openFiles: UInt64?
        /// Sums of /proc/PID/status over its processes, in bytes.
        public var lockedBytes: UInt64?
        public var privateWritableBytes: UInt64?
        public var sockets: (tcp: UInt64, other: UInt64)?
        /// spec.resources.numtcpsock as its nftables table holds it, with how
        /// many connections it refused.
        public var connectionLimit: (limit: Int, refused: UInt64)?
        public var pseudoTerminals: UInt64?
        /// The max= of its devpts instance (spec.resources.numpty).
        public var pseudoTerminalLimit: Int?
        public var firewallRules: UInt64?
        /// RLIMIT_NOFILE of its init, when spec.resources.numfile sets it.
        public var openFilesLimit: Int?
        public var disk: Disk?

        public init(version: CgroupVersion, cgroup: CgroupObservation, pageSize: UInt64) {
            self.version = version
            self.cgroup = cgroup
            self.pageSize = pageSize
        }
    }

    /// The container's disk quota (spec.resources.disk) as its backend
    /// holds it, with its use.
    public struct Disk: Sendable {
        public enum Source: Sendable, Equatable {
            /// statfs of the mounted image; `spaceQuota`, `inodeQuota`: the
            /// space (inode) limit and use are the project quota inside it.
            case image(spaceQuota: Bool, inodeQuota: Bool)
            /// The project's quota on the state dir's filesystem.
            case projectQuota
        }
        public var source: Source
        public var usedBytes: UInt64
        public var usedInodes: UInt64
        /// Limits in bytes and inodes; nil: none.
        public var sizeLimit: UInt64?
        public var inodeLimit: UInt64?
        /// Writes its quota refused, as the agent counted them from quota
        /// warnings; nil: no agent counts them now.
        public var refusals: DiskRefusals?
        public init(source: Source, usedBytes: UInt64, usedInodes: UInt64, sizeLimit: UInt64?, inodeLimit: UInt64?) {
            self.source = source
            self.usedBytes = usedBytes
            self.usedInodes = usedInodes
            self.sizeLimit = sizeLimit
            self.inodeLimit = inodeLimit
        }
    }

    /// Figures berth keeps per resource between observations of one init
    /// (reset when the init changes): the peaks of counters the kernel keeps
    /// no peak of, and the failcnts the agent has reported.
    public struct RecordedPeaks: Codable, Equatable, Sendable {
        /// The init's pid and start time the peaks belong to.
        public var initIdentity: [UInt64]
        public var peaks: [String: UInt64]
        public init(initIdentity: [UInt64], peaks: [String: UInt64] = [:]) {
            self.initIdentity = initIdentity
            self.peaks = peaks
        }
    }

    /// The rows a sample gives, with berth's recorded peaks; returns the
    /// peaks to record next.
    public static func rows(_ sample: Sample, recorded: [String: UInt64]) -> (rows: [Beancounter], peaks: [String: UInt64]) {
        var rows: [Beancounter] = []
        var peaks = recorded
        let cgroup = sample.cgroup
        let v2 = sample.version == .v2
        let unlimited = Beancounter.unlimited
        func pages(_ bytes: UInt64?) -> UInt64? { bytes.map { KernelUnits.pages($0, pageSize: sample.pageSize) } }
        func pageLimit(_ bytes: UInt64?) -> UInt64 { pages(bytes) ?? unlimited }
        func row(
            _ resource: Beancounter.Resource, held: UInt64?, kernelPeak: UInt64? = nil, barrier: UInt64 = unlimited,
            limit: UInt64 = unlimited, failcnt: UInt64 = 0, sources: Beancounter.Sources
        ) {
            guard let held else { return }
            let key = resource.rawValue
            if let kernelPeak {
                rows.append(
                    Beancounter(
                        resource: resource, held: held, maxheld: kernelPeak, barrier: barrier, limit: limit, failcnt: failcnt,
                        peak: .kernel, sources: sources))
                peaks[key] = nil
            } else {
                let peak = max(recorded[key] ?? 0, held)
                peaks[key] = peak
                var sources = sources
                sources.maxheld = "largest held berth saw between observations"
                rows.append(
                    Beancounter(
                        resource: resource, held: held, maxheld: peak, barrier: barrier, limit: limit, failcnt: failcnt, peak: .berth,
                        sources: sources))
            }
        }
        let stat = cgroup.memoryStat
        let none = "none: no limit"

        // kmemsize (bytes): v1 has a kernel memory counter; v2 counts kernel
        // memory in memory.current and says how much in memory.stat.
        if v2 {
            let kernel = stat["kernel"] ?? (stat["kernel_stack"].map { $0 + (stat["slab"] ?? 0) + (stat["sock"] ?? 0) })
            row(
                .kmemsize, held: kernel,
                sources: .init(
                    held: stat["kernel"] != nil ? "memory.stat kernel" : "memory.stat kernel_stack+slab+sock", maxheld: "", limit: none,
                    failcnt: "none: v2 has no kernel memory limit"))
        } else {
            row(
                .kmemsize, held: cgroup.kernelMemory, kernelPeak: cgroup.kernelMemoryPeak, barrier: cgroup.kernelMemoryLimit ?? unlimited,
                limit: cgroup.kernelMemoryLimit ?? unlimited, failcnt: cgroup.kernelMemoryFailures ?? 0,
                sources: .init(
                    held: "memory.kmem.usage_in_bytes", maxheld: "memory.kmem.max_usage_in_bytes", limit: "memory.kmem.limit_in_bytes",
                    failcnt: "memory.kmem.failcnt"))
        }
        row(
            .lockedpages, held: pages(sample.lockedBytes),
            sources: .init(held: "sum of VmLck in /proc/PID/status", maxheld: "", limit: none, failcnt: "none: RLIMIT_MEMLOCK is per process"))
        row(
            .privvmpages, held: pages(sample.privateWritableBytes),
            sources: .init(
                held: "sum of VmData+VmStk in /proc/PID/status (private writable mappings)", maxheld: "", limit: none,
                failcnt: "none: no kernel limit"))
        row(
            .shmpages, held: pages(stat["shmem"]),
            sources: .init(held: "memory.stat shmem", maxheld: "", limit: "none: counted in physpages", failcnt: "none"))
        let pidsLimit = cgroup.limits.pidsMax.map(UInt64.init) ?? unlimited
        row(
            .numproc, held: cgroup.pidsCurrent.map(UInt64.init), kernelPeak: cgroup.pidsPeak.map(UInt64.init), barrier: pidsLimit,
            limit: pidsLimit, failcnt: cgroup.pidsFailures ?? 0,
            sources: .init(held: "pids.current", maxheld: "pids.peak", limit: "pids.max", failcnt: "pids.events max"))
        // physpages: on v1 with swap accounting a charge is refused by
        // memsw first when memory and swap share the limit (swap 0), so both
        // count; kernels since 6.13 no longer count memsw refusals at all
        // (memory.memsw.failcnt stays 0), so each OOM kill, which follows a
        // refused charge, counts at least once.
        let memoryFailures =
            v2
            ? (cgroup.memoryFailures ?? 0)
            : max((cgroup.memoryFailures ?? 0) + (cgroup.swapFailures ?? 0), cgroup.oomKills ?? 0)
        row(
            .physpages, held: pages(cgroup.memoryCurrent), kernelPeak: pages(cgroup.memoryPeak),
            barrier: pageLimit(cgroup.limits.memoryHigh ?? cgroup.limits.memoryMax), limit: pageLimit(cgroup.limits.memoryMax),
            failcnt: memoryFailures,
            sources: v2
                ? .init(
                    held: "memory.current", maxheld: "memory.peak", limit: "memory.high (barrier), memory.max (limit)",
                    failcnt: "memory.events max")
                : .init(
                    held: "memory.usage_in_bytes", maxheld: "memory.max_usage_in_bytes",
                    limit: "memory.soft_limit_in_bytes (barrier), memory.limit_in_bytes (limit)",
                    failcnt:
                        "memory.failcnt + memory.memsw.failcnt, at least memory.oom_control oom_kill (kernels since 6.13 leave memory.memsw.failcnt 0)"
                ))
        let swapLimit = pageLimit(cgroup.limits.swapMax)
        row(
            .swappages, held: pages(cgroup.swapCurrent), kernelPeak: pages(cgroup.swapPeak), barrier: swapLimit, limit: swapLimit,
            failcnt: cgroup.swapFailures ?? 0,
            sources: v2
                ? .init(held: "memory.swap.current", maxheld: "memory.swap.peak", limit: "memory.swap.max", failcnt: "memory.swap.events max")
                : .init(
                    held: "memory.memsw.usage_in_bytes - memory.usage_in_bytes", maxheld: "",
                    limit: "memory.memsw.limit_in_bytes - memory.limit_in_bytes", failcnt: "memory.memsw.failcnt"))
        // oomguarpages: what the OOM killer weighs (memory and swap); its
        // failcnt, as OpenVZ's, counts the container's OOM kills.
        let guarded = cgroup.memoryCurrent.map { $0 + (cgroup.swapCurrent ?? 0) }
        row(
            .oomguarpages, held: pages(guarded), failcnt: cgroup.oomKills ?? 0,
            sources: .init(
                held: v2 ? "memory.current + memory.swap.current" : "memory.memsw.usage_in_bytes", maxheld: "", limit: none,
                failcnt: v2 ? "memory.events oom_kill" : "memory.oom_control oom_kill"))
        let tcpLimit = sample.connectionLimit.map { UInt64($0.limit) } ?? unlimited
        row(
            .numtcpsock, held: sample.sockets?.tcp, barrier: tcpLimit, limit: tcpLimit, failcnt: sample.connectionLimit?.refused ?? 0,
            sources: .init(
                held: "sock_diag in its network namespace: TCP sockets (IPv4, IPv6; not TIME_WAIT)", maxheld: "",
                limit: sample.connectionLimit == nil
                    ? none : "nftables table inet berth_ubc in its network namespace: ct count over the limit (connections)",
                failcnt: sample.connectionLimit == nil ? "none" : "packets of that table's reject rules (connections refused)"))
        let ptyLimit = sample.pseudoTerminalLimit.map { UInt64($0) } ?? unlimited
        row(
            .numpty, held: sample.pseudoTerminals, barrier: ptyLimit, limit: ptyLimit,
            sources: .init(
                held: "entries of its devpts instance (/dev/pts) but ptmx", maxheld: "",
                limit: sample.pseudoTerminalLimit == nil ? none : "max= of its devpts instance (/proc/PID/mountinfo)",
                failcnt: sample.pseudoTerminalLimit == nil ? "none" : "not counted: devpts refuses with ENOSPC and keeps no count"))
        row(
            .numothersock, held: sample.sockets?.other,
            sources: .init(held: "sock_diag in its network namespace: UDP and unix sockets", maxheld: "", limit: none, failcnt: "none"))
        let fileLimit = sample.openFilesLimit.map { UInt64(max(0, $0)) } ?? unlimited
        row(
            .numfile, held: sample.openFiles, barrier: fileLimit, limit: fileLimit,
            sources: .init(
                held: "open descriptors of its processes (/proc/PID/fd)", maxheld: "",
                limit: sample.openFilesLimit == nil ? none : "RLIMIT_NOFILE of its init (prlimit; /proc/PID/limits Max open files)",
                failcnt: sample.openFilesLimit == nil ? "none" : "not counted: a process past RLIMIT_NOFILE gets EMFILE and no count is kept"))
        row(
            .numiptent, held: sample.firewallRules,
            sources: .init(held: "rules in its nftables table inet berth", maxheld: "", limit: none, failcnt: "none"))
        if let disk = sample.disk {
            let space = disk.sizeLimit.map { $0 / 1024 } ?? unlimited
            let inodes = disk.inodeLimit ?? unlimited
            let (spaceSource, inodeSource): (String, String)
            let (spaceWarns, inodesWarn): (Bool, Bool)
            switch disk.source {
            case .image(let spaceQuota, let inodeQuota):
                let quota = "the project quota inside its disk image (quotactl)"
                let statfs = "statfs of its mounted disk image"
                spaceSource = spaceQuota ? quota : statfs
                inodeSource = inodeQuota ? quota : statfs
                (spaceWarns, inodesWarn) = (spaceQuota, inodeQuota)
            case .projectQuota:
                spaceSource = "its project quota on the state dir's filesystem (quotactl)"
                inodeSource = spaceSource
                (spaceWarns, inodesWarn) = (true, true)
            }
            // A quota refusal is counted from the kernel's warnings while an
            // agent listens; a full image refuses with ENOSPC and no count.
            func refusals(_ warns: Bool, _ count: (DiskRefusals) -> UInt64) -> (UInt64, String) {
                guard warns else { return (0, Beancounters.imageNotCounted) }
                guard let counted = disk.refusals else { return (0, DiskRefusals.notCounted) }
                return (count(counted), DiskRefusals.source)
            }
            let spaceFailures = refusals(spaceWarns) { $0.space }
            let inodeFailures = refusals(inodesWarn) { $0.inodes }
            row(
                .diskspace, held: disk.usedBytes / 1024, barrier: space, limit: space, failcnt: spaceFailures.0,
                sources: .init(
                    held: spaceSource + ": used 1K blocks", maxheld: "",
                    limit: disk.sizeLimit == nil ? none : spaceSource + ": " + (spaceWarns ? "block limit" : "capacity"),
                    failcnt: spaceFailures.1))
            row(
                .diskinodes, held: disk.usedInodes, barrier: inodes, limit: inodes, failcnt: inodeFailures.0,
                sources: .init(
                    held: inodeSource + ": used inodes", maxheld: "",
                    limit: disk.inodeLimit == nil ? none : inodeSource + ": " + (inodesWarn ? "inode limit" : "inodes"),
                    failcnt: inodeFailures.1))
        }
        return (rows, peaks)
    }

    /// The failcnt source of an image whose limit is its own size.
    public static let imageNotCounted =
        "not counted: a full disk image refuses with ENOSPC and leaves no kernel counter (its limit is the image's size "
        + "where the kernel has no ext4 quotas, or in an image made before berth limited it with a quota: it gets one at its next start)"

    /// Sums of /proc/PID/status figures ("VmLck:   12 kB"), in bytes.
    public static func statusBytes(_ status: String, _ keys: [String]) -> UInt64 {
        var total: UInt64 = 0
        for line in status.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"), keys.contains(String(line[..<colon])) else { continue }
            let fields = line[line.index(after: colon)...].split { $0 == " " || $0 == "\t" }
            guard let value = fields.first.flatMap({ UInt64($0) }) else { continue }
            let (bytes, overflow) = value.multipliedReportingOverflow(by: fields.dropFirst().first == "kB" ? 1024 : 1)
            total = overflow ? UInt64.max : total.addingReportingOverflow(bytes).overflow ? UInt64.max : total + bytes
        }
        return total
    }
}
