/// Resource controls, all changeable while the container runs.
public struct ResourcesSpec: Hashable, Sendable, Codable {
    public var cpu: CPUSpec?
    public var memory: MemorySpec?
    public var pids: PidsSpec?
    public var io: IOSpec?
    public var disk: DiskSpec?
    /// The most TCP connections at once (OpenVZ's numtcpsock barrier): the
    /// kernel has no counter that enforces it, so berth enforces it with an
    /// nftables connection limit (ct count) in the container's network namespace.
    public var numtcpsock: Int?
    /// The most pseudo-terminals at once (OpenVZ's numpty): the `max=` of
    /// the container's own devpts instance, set when it starts and changed
    /// live by reconfiguring that mount.
    public var numpty: Int?
    /// The most open files of its init (OpenVZ's numfile, as far as the
    /// kernel enforces one): RLIMIT_NOFILE, soft and hard, set by the shim
    /// before exec and changed live with prlimit(2).
    public var numfile: Int?
    public init() {}
}

public struct CPUSpec: Hashable, Sendable, Codable {
    /// Relative weight, 1-10000 (cgroup v2 cpu.weight; OpenVZ cpuunits). Default 100.
    public var weight: Int?
    /// Hard limit in cores (OpenVZ cpulimit).
    public var limit: CPUQuantity?
    /// The CPUs the container may run on.
    public var cpus: CPUSet?
    public init(weight: Int? = nil, limit: CPUQuantity? = nil, cpus: CPUSet? = nil) {
        self.weight = weight
        self.limit = limit
        self.cpus = cpus
    }
}

public struct MemorySpec: Hashable, Sendable, Codable {
    /// Hard limit (memory.max): the OOM killer acts past it.
    public var max: ByteSize?
    /// Throttling threshold (memory.high).
    public var high: ByteSize?
    /// Swap allowed on top of memory.
    public var swap: ByteSize?
    public init(max: ByteSize? = nil, high: ByteSize? = nil, swap: ByteSize? = nil) {
        self.max = max
        self.high = high
        self.swap = swap
    }
}

public struct PidsSpec: Hashable, Sendable, Codable {
    public var max: Int?
    public init(max: Int? = nil) { self.max = max }
}

public struct IOSpec: Hashable, Sendable, Codable {
    /// Relative weight, 1-10000. Default 100.
    public var weight: Int?
    public var limits: [IODeviceLimit]?
    public init(weight: Int? = nil, limits: [IODeviceLimit]? = nil) {
        self.weight = weight
        self.limits = limits
    }
}

public struct IODeviceLimit: Hashable, Sendable, Codable {
    /// A block device path (/dev/vda) or MAJOR:MINOR.
    public var device: String
    public var readBytesPerSecond: ByteSize?
    public var writeBytesPerSecond: ByteSize?
    public var readIOPS: UInt64?
    public var writeIOPS: UInt64?
    public init(device: String) { self.device = device }
}

public struct DiskSpec: Hashable, Sendable, Codable {
    /// Space quota on the container's private layer.
    public var size: ByteSize?
    /// Inode quota.
    public var inodes: UInt64?
    /// Per-user and per-group quotas inside its disk image (the second
    /// level), set from the host with `berth quota` (nil: false).
    public var userQuota: Bool?
    public init(size: ByteSize? = nil, inodes: UInt64? = nil, userQuota: Bool? = nil) {
        self.size = size
        self.inodes = inodes
        self.userQuota = userQuota
    }
}
