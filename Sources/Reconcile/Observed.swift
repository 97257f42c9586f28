import Model

/// What the host has, as far as planning needs it: read from the state dir
/// and the kernel by a `HostRuntime`, then handed to the pure planner.
public struct ObservedHost: Sendable, Equatable {
    public var containers: [ObservedContainer]
    /// Names of the networks whose bridge exists.
    public var networks: Set<String>
    /// Networks whose bridge berth created (name → bridge): prune candidates.
    public var recordedNetworks: [String: String] = [:]
    /// The spec berth last applied to each network's bridge, by network
    /// name (absent: no record, or one written before specs were kept): a
    /// bridge field that differs from it changed in the manifest; one that
    /// matches it changed behind berth's back.
    public var networkSpecs: [String: NetworkConfig] = [:]
    /// Bridges berth made for a desired network under a name the manifest
    /// no longer gives (`spec.bridge` changed), that still exist: deleted
    /// once the containers moved to the new bridge.
    public var oldBridges: [String: [String]] = [:]
    /// Where each desired network's nftables table differs from what the
    /// manifests want, by network name (absent or empty: it matches); each
    /// change says whether the manifest changed it or the kernel's table
    /// changed behind berth's back.
    public var rulesets: [String: [FieldChange]] = [:]
    /// The instance-wide NAT table older berth versions kept (`ip
    /// berth_PARENT`), when it exists.
    public var legacyNATTable: String?
    /// While it exists: the recorded networks whose own table exists.
    public var networksWithTables: Set<String> = []
    /// Existing bridges of desired networks, by network name.
    public var bridges: [String: BridgeObservation] = [:]
    /// Containers running under berth's cgroup parent without a record (a
    /// lost state dir): name → init pid.
    public var unrecorded: [String: Int32] = [:]
    /// IPv4 forwarding of the bridges of desired networks that need it, by
    /// network name (absent: the bridge does not exist yet).
    public var forwarding: [String: Bool] = [:]
    /// Whether a mounted disk image can grow while its container runs
    /// (else a bigger disk quota waits for a restart).
    public var diskGrowsLive = true
    /// Whether the host's LXCFS is mounted and answers: where a container
    /// leaves `proc.virtualize` unset, its /proc should then be LXCFS's.
    public var lxcfsLive = false
    /// What each source applied, by source.
    public var inventories: [String: Inventory] = [:]

    /// The source whose inventory holds each object (an object in none:
    /// berth never applied it from manifests, or it predates inventories).
    public var owners: [ObjectRef: String] {
        var owners: [ObjectRef: String] = [:]
        for (source, inventory) in inventories.sorted(by: { $0.key > $1.key }) {
            for name in inventory.containers { owners[.container(name)] = source }
            for name in inventory.networks { owners[.network(name)] = source }
        }
        return owners
    }

    public init(containers: [ObservedContainer] = [], networks: Set<String> = []) {
        self.containers = containers
        self.networks = networks
    }
}

/// A network's bridge as the kernel has it.
public struct BridgeObservation: Sendable, Equatable {
    public var up: Bool
    /// Its MTU (nil: not read).
    public var mtu: Int?
    /// Its device group (nil: not read).
    public var group: UInt32?
    /// Its addresses, IPv4 and IPv6, without the IPv6 link-local ones the
    /// kernel makes (nil: not read).
    public var addresses: [CIDR]?
    /// Its ports that are berth's veths: name → isolated (IFLA_BRPORT_ISOLATED).
    public var ports: [String: Bool]
    /// With driver macvlan: whether the lower end of the veth pair is
    /// there, up, with the network's MTU (nil: driver bridge, or not read).
    public var lower: Bool?
    /// The driver its device was made by: a bridge, or a veth (macvlan)
    /// (nil: not read, or another kind of link).
    public var driver: NetworkDriver?

    public init(
        up: Bool, mtu: Int? = nil, group: UInt32? = nil, addresses: [CIDR]? = nil, ports: [String: Bool] = [:], lower: Bool? = nil,
        driver: NetworkDriver? = nil
    ) {
        self.driver = driver
        self.up = up
        self.mtu = mtu
        self.group = group
        self.addresses = addresses
        self.ports = ports
        self.lower = lower
    }
}

/// A container's processes as the kernel has them.
public enum ObservedRunState: Hashable, Sendable, CustomStringConvertible {
    case running
    /// Running, every process frozen (freezer cgroup).
    case frozen
    /// Stopped by berth (`berth stop`, `state: stopped`), or never started.
    case stopped
    /// The init ended by itself; its exit code where berth saw it (nil: it
    /// was not berth's child when it ended).
    case exited(code: Int32?)
    /// Dumped by `berth checkpoint`: its processes are in an image
    /// directory until `berth restore` (never started afresh by a plan).
    case checkpointed(CheckpointMark)

    public var isAlive: Bool { self == .running || self == .frozen }

    public var description: String {
        switch self {
        case .running: return "running"
        case .frozen: return "frozen"
        case .stopped: return "stopped"
        case .exited(let code): return code.map { "exited (code \($0))" } ?? "exited"
        case .checkpointed(let mark): return mark.description
        }
    }
}

public struct ObservedContainer: Sendable, Equatable {
    public var name: String
    public var state: ObservedRunState
    /// The spec it was last started or updated with.
    public var recordedSpec: ContainerConfig?
    /// The metadata.labels it was last started or updated with.
    public var recordedLabels: [String: String] = [:]
    /// Resources as the kernel holds them, with the manifest's values as the
    /// kernel would hold them (nil where unreadable).
    public var resources: ObservedResources?
    /// Its network namespace as the kernel has it (nil where not observed:
    /// network changes are then planned for the next restart).
    public var network: NetworkObservation?
    /// Whether its firewall table is as berth applied it (nil: not observed).
    public var firewallCurrent: Bool?
    /// Whether LXCFS's files are over its /proc (its init's mountinfo; nil: not observed).
    public var procVirtualized: Bool?

    public init(
        name: String, state: ObservedRunState, recordedSpec: ContainerConfig?, resources: ObservedResources? = nil,
        network: NetworkObservation? = nil, firewallCurrent: Bool? = nil
    ) {
        self.name = name
        self.state = state
        self.recordedSpec = recordedSpec
        self.resources = resources
        self.network = network
        self.firewallCurrent = firewallCurrent
    }

    public var running: Bool { state.isAlive }
}

/// Resource values in the manifest's units, after a trip through the
/// kernel's (KernelUnits): what the kernel holds, or would hold.
public struct ResourceValues: Sendable, Equatable {
    public var cpuWeight: Int
    /// nil: no limit.
    public var cpuLimit: CPUQuantity?
    /// nil: every CPU of the parent.
    public var cpus: CPUSet?
    public var memoryMax: UInt64?
    public var memoryHigh: UInt64?
    /// nil: unlimited, or no swap accounting on this host.
    public var swap: UInt64?
    public var pidsMax: Int?
    /// nil: this host has no io weights.
    public var ioWeight: Int?
    /// Per device ("MAJ:MIN"), the limits set there.
    public var ioLimits: [String: IOLimitValues]
    /// The private layer's disk quota: its size (nil: no disk quota).
    public var diskSize: UInt64?
    /// Its inode limit (nil: none).
    public var diskInodes: UInt64?
    /// Whether user and group quotas are enforced inside its disk image
    /// (nil: not known, or no disk quota; compared only when both sides
    /// know it).
    public var diskUserQuota: Bool?
    /// The TCP connection limit in the container's namespace (nil: none).
    public var numtcpsock: Int?
    /// The max= of its devpts instance (nil: the kernel's ceiling).
    public var numpty: Int?
    /// RLIMIT_NOFILE of its init (nil: what berth's own processes have).
    public var numfile: Int?

    public init(
        cpuWeight: Int = Defaults.cpuWeight, cpuLimit: CPUQuantity? = nil, cpus: CPUSet? = nil, memoryMax: UInt64? = nil,
        memoryHigh: UInt64? = nil, swap: UInt64? = nil, pidsMax: Int? = nil, ioWeight: Int? = nil, ioLimits: [String: IOLimitValues] = [:],
        diskSize: UInt64? = nil, diskInodes: UInt64? = nil, numtcpsock: Int? = nil
    ) {
        self.cpuWeight = cpuWeight
        self.cpuLimit = cpuLimit
        self.cpus = cpus
        self.memoryMax = memoryMax
        self.memoryHigh = memoryHigh
        self.swap = swap
        self.pidsMax = pidsMax
        self.ioWeight = ioWeight
        self.ioLimits = ioLimits
        self.diskSize = diskSize
        self.diskInodes = diskInodes
        self.numtcpsock = numtcpsock
    }
}

public struct IOLimitValues: Sendable, Hashable, CustomStringConvertible {
    public var readBytesPerSecond: UInt64?
    public var writeBytesPerSecond: UInt64?
    public var readIOPS: UInt64?
    public var writeIOPS: UInt64?

    public init(readBytesPerSecond: UInt64? = nil, writeBytesPerSecond: UInt64? = nil, readIOPS: UInt64? = nil, writeIOPS: UInt64? = nil) {
        self.readBytesPerSecond = readBytesPerSecond
        self.writeBytesPerSecond = writeBytesPerSecond
        self.readIOPS = readIOPS
        self.writeIOPS = writeIOPS
    }

    public var isEmpty: Bool { readBytesPerSecond == nil && writeBytesPerSecond == nil && readIOPS == nil && writeIOPS == nil }

    public var description: String {
        func text(_ value: UInt64?, bytes: Bool) -> String {
            guard let value else { return "max" }
            return bytes ? ByteSize(bytes: value).description : "\(value)"
        }
        return "readBps=\(text(readBytesPerSecond, bytes: true)) writeBps=\(text(writeBytesPerSecond, bytes: true)) "
            + "readIops=\(text(readIOPS, bytes: false)) writeIops=\(text(writeIOPS, bytes: false))"
    }
}

/// A container's resources: the kernel's values, and the manifest's as the
/// kernel would hold them (pages, shares, quota and period), so that the
/// two compare exactly.
public struct ObservedResources: Sendable, Equatable {
    public var kernel: ResourceValues
    public var expected: ResourceValues
    /// What of its disk quota can change while it runs.
    public var disk: DiskQuotaChanges
    /// Whether the manifest's numfile can be given to the running init now
    /// (false: it raises the init's hard limit and berth lacks
    /// CAP_SYS_RESOURCE, so it waits for the next start).
    public var openFilesLimitLive: Bool

    public init(kernel: ResourceValues, expected: ResourceValues, disk: DiskQuotaChanges = DiskQuotaChanges(), openFilesLimitLive: Bool = true) {
        self.kernel = kernel
        self.expected = expected
        self.disk = disk
        self.openFilesLimitLive = openFilesLimitLive
    }
}

/// What of a container's disk quota its backend changes while it runs.
public struct DiskQuotaChanges: Sendable, Equatable {
    /// Its size shrinks live (a project quota), not only at a restart (a
    /// disk image, which grows live where the host allows it).
    public var shrinksLive: Bool
    /// An inode limit can be set live (else at the next start: an image
    /// made without quotas gets them there).
    public var inodeLimitLive: Bool

    /// A disk image whose space is limited only by its size (made before
    /// berth made it a project quota inside), whose block limit is set live.
    public var spaceLimitMissing: Bool

    public init(shrinksLive: Bool = false, inodeLimitLive: Bool = true, spaceLimitMissing: Bool = false) {
        self.shrinksLive = shrinksLive
        self.inodeLimitLive = inodeLimitLive
        self.spaceLimitMissing = spaceLimitMissing
    }
}

/// Which objects a plan may delete, and whose inventory it keeps.
public enum PlanScope: Hashable, Sendable {
    /// Every object berth has in this instance (`apply --prune` without
    /// manifests or source): whatever no manifest names goes with --prune.
    case instance
    /// One source of manifests: only objects of its inventory are pruned
    /// (or shown as orphans); objects of another source are refused.
    case source(String)
}

public struct PlanOptions: Sendable {
    public var prune = false
    public var scope = PlanScope.instance
    /// Objects the manifests name that another source applied move to this
    /// source's inventory (instead of being refused).
    public var takeOwnership = false
    public init(prune: Bool = false, scope: PlanScope = .instance, takeOwnership: Bool = false) {
        self.prune = prune
        self.scope = scope
        self.takeOwnership = takeOwnership
    }
}
