/// The desired state of one container, as a manifest (or a profile) writes it.
///
/// Every field is optional so that a Profile is the same type: profiles merge
/// in order and the container's own values win (see `merged(over:)`).
public struct ContainerSpec: Hashable, Sendable, Codable {
    public var placement: Placement?
    public var profiles: [String]?
    public var state: DesiredRunState?
    public var hostname: String?
    public var rootfs: RootfsSpec?
    public var `init`: InitSpec?
    public var env: [String: String]?
    public var networks: [NetworkAttachment]?
    public var resources: ResourcesSpec?
    public var devices: [DeviceSpec]?
    public var capabilities: CapabilitiesSpec?
    public var security: SecuritySpec?
    public var proc: ProcSpec?
    public var mounts: [MountSpec]?
    public var userNamespace: UserNamespaceSpec?
    public var restartPolicy: RestartPolicy?
    public var stopTimeout: Interval?
    public var firewall: FirewallSpec?
    public var policy: ObjectPolicy?
    public var logs: LogsSpec?

    public init() {}
}

/// Where the init's stdout and stderr go.
public struct LogsSpec: Hashable, Sendable, Codable {
    public var driver: LogDriver?
    public init(driver: LogDriver? = nil) { self.driver = driver }
}

public enum LogDriver: String, Hashable, Sendable, Codable, CaseIterable {
    /// STATE/containers/NAME/console.log, appended by the kernel for the init
    /// (no process of berth's in between), rotated by the agent.
    case file
    /// One journald entry per line (CONTAINER_NAME=NAME, PRIORITY 6 for
    /// stdout, 3 for stderr), handed over by a small relay process per
    /// container that reads the init's output from two FIFOs.
    case journal
}

public enum DesiredRunState: String, Hashable, Sendable, Codable, CaseIterable {
    case running, stopped, frozen
}

public enum RestartPolicy: String, Hashable, Sendable, Codable, CaseIterable {
    case never
    case onFailure = "on-failure"
    case always
}

/// What the agent does when the kernel differs from the manifest.
public enum DriftPolicy: String, Hashable, Sendable, Codable, CaseIterable {
    /// Report and correct.
    case enforce
    /// Report only.
    case warn
    /// Neither report nor correct.
    case ignore
}

public struct ObjectPolicy: Hashable, Sendable, Codable {
    public var drift: DriftPolicy?
    public init(drift: DriftPolicy? = nil) { self.drift = drift }
}

/// Where the container's root filesystem comes from. The container gets a
/// private writable overlay on top of the shared, read-only template.
public struct RootfsSpec: Hashable, Sendable, Codable {
    public var source: RootfsSource?
    /// Keep the private layer when the container is deleted.
    public var persistent: Bool?
    public init(source: RootfsSource? = nil, persistent: Bool? = nil) {
        self.source = source
        self.persistent = persistent
    }
}

public enum RootfsSource: Hashable, Sendable, Codable {
    /// A built-in template by name (`busybox`).
    case template(String)
    /// A host directory used as the lower layer.
    case directory(String)
    /// A .tar, .tar.gz or .tar.xz unpacked once into the template cache.
    case tarball(String)
}

public struct InitSpec: Hashable, Sendable, Codable {
    public var command: [String]?
    public var workingDir: String?
    public init(command: [String]? = nil, workingDir: String? = nil) {
        self.command = command
        self.workingDir = workingDir
    }
}

public struct NetworkAttachment: Hashable, Sendable, Codable {
    public var network: String
    /// Addresses with or without a prefix length; without one, the network's prefix applies.
    public var addresses: [CIDR]
    /// The interface name inside the container (default eth0, eth1, ...).
    public var interface: String?
    /// Whether the default route goes through this network's gateway
    /// (default: the first attachment).
    public var defaultRoute: Bool?

    public init(network: String, addresses: [CIDR] = [], interface: String? = nil, defaultRoute: Bool? = nil) {
        self.network = network
        self.addresses = addresses
        self.interface = interface
        self.defaultRoute = defaultRoute
    }
}

public struct DeviceSpec: Hashable, Sendable, Codable {
    /// The device node on the host, for example /dev/net/tun.
    public var path: String
    /// Any of r (read), w (write), m (mknod); default "rw".
    public var access: String?
    public init(path: String, access: String? = nil) {
        self.path = path
        self.access = access
    }
}

public struct CapabilitiesSpec: Hashable, Sendable, Codable {
    /// Canonical names, CAP_NET_ADMIN style; "ALL" allowed in drop.
    public var add: [String]?
    public var drop: [String]?
    public init(add: [String]? = nil, drop: [String]? = nil) {
        self.add = add
        self.drop = drop
    }
}

public struct SecuritySpec: Hashable, Sendable, Codable {
    /// Opt-in: all capabilities, no seccomp filter, host devices. Shown as such in plans.
    public var privileged: Bool?
    /// no_new_privs (default true).
    public var noNewPrivileges: Bool?
    public var seccomp: SeccompProfile?
    /// The container may create user namespaces of its own (default false:
    /// the seccomp filter refuses them, as they hand a full capability set
    /// to whatever runs inside). Without the filter (privileged,
    /// unconfined) nothing refuses them.
    public var nestedUserNamespaces: Bool?
    public init() {}
}

/// What the container's /proc shows.
public struct ProcSpec: Hashable, Sendable, Codable {
    /// LXCFS's meminfo, cpuinfo, stat, uptime, loadavg, diskstats and swaps
    /// (and sys/devices/system/cpu/online) bound over the container's own:
    /// `free` shows its memory limit, `nproc` its CPUs, `uptime` its own.
    /// nil: wherever LXCFS runs (its mountpoint is live) when the container
    /// starts; false: the host's files, as the kernel gives them.
    public var virtualize: Bool?
    public init(virtualize: Bool? = nil) { self.virtualize = virtualize }
}

public enum SeccompProfile: String, Hashable, Sendable, Codable, CaseIterable {
    case `default`
    case unconfined
}

public struct MountSpec: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case bind, tmpfs
    }
    public var type: Kind
    public var source: String?
    public var destination: String
    public var readOnly: Bool?
    /// tmpfs size.
    public var size: ByteSize?

    public init(type: Kind = .bind, source: String? = nil, destination: String, readOnly: Bool? = nil, size: ByteSize? = nil) {
        self.type = type
        self.source = source
        self.destination = destination
        self.readOnly = readOnly
        self.size = size
    }
}

public struct IDRange: Hashable, Sendable, Codable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32
    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }
}

public struct UserNamespaceSpec: Hashable, Sendable, Codable {
    public var uidMap: [IDRange]
    /// Defaults to `uidMap`.
    public var gidMap: [IDRange]?
    public init(uidMap: [IDRange], gidMap: [IDRange]? = nil) {
        self.uidMap = uidMap
        self.gidMap = gidMap
    }
}

/// Inbound rules applied inside the container's own network namespace.
public struct FirewallSpec: Hashable, Sendable, Codable {
    public enum Policy: String, Hashable, Sendable, Codable, CaseIterable {
        case accept, drop
    }
    public var defaultPolicy: Policy?
    public var rules: [FirewallRule]?
    public init(defaultPolicy: Policy? = nil, rules: [FirewallRule]? = nil) {
        self.defaultPolicy = defaultPolicy
        self.rules = rules
    }
}

public struct FirewallRule: Hashable, Sendable, Codable {
    public enum Action: String, Hashable, Sendable, Codable, CaseIterable {
        case allow, deny
    }
    public enum TransportProtocol: String, Hashable, Sendable, Codable, CaseIterable {
        case tcp, udp, icmp, any
    }
    public var action: Action
    public var `protocol`: TransportProtocol
    public var port: UInt16?
    public var from: CIDR?

    public init(action: Action, protocol: TransportProtocol, port: UInt16? = nil, from: CIDR? = nil) {
        self.action = action
        self.protocol = `protocol`
        self.port = port
        self.from = from
    }
}
