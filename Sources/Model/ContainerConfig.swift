/// A container as the planner, the runtime and the records see it: its
/// manifest with profiles merged and every default applied, once, when the
/// manifests are resolved (as Kubernetes' SetDefaults_PodSpec). No field
/// here means "unset": where an optional remains, nil is itself the value
/// (no limit, no user namespace, no firewall table, no host address).
///
/// `ContainerSpec` stays the manifest's (and a Profile's) type, every field
/// optional so that profiles merge. A record stores its config in that
/// form (`ContainerSpec(config)`, every default written out), so records
/// written before this type existed read back the same.
public struct ContainerConfig: Hashable, Sendable {
    public var state: DesiredRunState
    /// Where the init's output goes.
    public var logDriver: LogDriver
    public var hostname: String
    public var rootfs: RootfsSource
    /// Keep the private layer when the container is deleted.
    public var persistent: Bool
    public var command: [String]
    public var workingDir: String
    public var env: [String: String]
    public var networks: [Attachment]
    /// Nil limits inside are "no limit" (and weights the kernel's 100).
    public var resources: ResourcesSpec
    public var devices: [Device]
    public var capabilities: CapabilityChanges
    public var security: Security
    public var mounts: [Mount]
    /// LXCFS's files over its /proc: nil is a value here (wherever LXCFS
    /// is live when it starts), as the manifest's `proc.virtualize` unset.
    public var procVirtualize: Bool?
    /// Nil: the container shares the host's user ids.
    public var userNamespace: IDMapping?
    public var restartPolicy: RestartPolicy
    public var stopTimeout: Interval
    /// Nil: no firewall table in its network namespace.
    public var firewall: Firewall?
    public var drift: DriftPolicy
    /// The profiles merged into it, in order (for status; they change no kernel value).
    public var profiles: [String]
    /// The hosts it is placed on (nil: every host); the record keeps it.
    public var placement: Placement?

    public struct Attachment: Hashable, Sendable {
        public var network: String
        /// As written: without a prefix, the network's prefix applies.
        public var addresses: [CIDR]
        /// eth0, eth1, ... by attachment order unless the manifest names it.
        public var interface: String
        /// The first attachment unless the manifest says otherwise.
        public var defaultRoute: Bool

        public init(network: String, addresses: [CIDR], interface: String, defaultRoute: Bool) {
            self.network = network
            self.addresses = addresses
            self.interface = interface
            self.defaultRoute = defaultRoute
        }
    }

    public struct Device: Hashable, Sendable {
        public var path: String
        /// Any of r, w, m ("rw" unless written).
        public var access: String
        public init(path: String, access: String) {
            self.path = path
            self.access = access
        }
    }

    public struct CapabilityChanges: Hashable, Sendable {
        public var add: [String]
        public var drop: [String]
        public init(add: [String] = [], drop: [String] = []) {
            self.add = add
            self.drop = drop
        }
    }

    public struct Security: Hashable, Sendable {
        public var privileged: Bool
        public var noNewPrivileges: Bool
        public var seccomp: SeccompProfile
        public var nestedUserNamespaces: Bool
        public init(privileged: Bool, noNewPrivileges: Bool, seccomp: SeccompProfile, nestedUserNamespaces: Bool) {
            self.privileged = privileged
            self.noNewPrivileges = noNewPrivileges
            self.seccomp = seccomp
            self.nestedUserNamespaces = nestedUserNamespaces
        }

        /// Whether the seccomp filter goes on (privileged and unconfined run without one).
        public var filtered: Bool { !privileged && seccomp != .unconfined }
    }

    public struct Mount: Hashable, Sendable {
        public var type: MountSpec.Kind
        /// The host path of a bind mount (nil for tmpfs).
        public var source: String?
        public var destination: String
        public var readOnly: Bool
        /// A tmpfs's size (nil: the kernel's default, half the memory).
        public var size: ByteSize?
        public init(type: MountSpec.Kind, source: String?, destination: String, readOnly: Bool, size: ByteSize?) {
            self.type = type
            self.source = source
            self.destination = destination
            self.readOnly = readOnly
            self.size = size
        }
    }

    public struct IDMapping: Hashable, Sendable {
        public var uidMap: [IDRange]
        /// The uid map unless the manifest gives its own.
        public var gidMap: [IDRange]
        public init(uidMap: [IDRange], gidMap: [IDRange]) {
            self.uidMap = uidMap
            self.gidMap = gidMap
        }
    }

    public struct Firewall: Hashable, Sendable {
        public var defaultPolicy: FirewallSpec.Policy
        public var rules: [FirewallRule]
        public init(defaultPolicy: FirewallSpec.Policy, rules: [FirewallRule]) {
            self.defaultPolicy = defaultPolicy
            self.rules = rules
        }

        /// The manifest's firewall: accept by default, no rules unless listed.
        public init(_ spec: FirewallSpec) {
            self.init(defaultPolicy: spec.defaultPolicy ?? .accept, rules: spec.rules ?? [])
        }
    }

    /// The container's memberwise form, for code that builds one directly
    /// (`berth run`, the benchmarks, tests): defaults for everything but
    /// the root filesystem.
    public init(name: String, rootfs: RootfsSource) {
        self = ContainerSpec().resolved(name: name, defaultRootfs: rootfs)
    }

    fileprivate init(
        state: DesiredRunState, logDriver: LogDriver, hostname: String, rootfs: RootfsSource, persistent: Bool, command: [String], workingDir: String,
        env: [String: String], networks: [Attachment], resources: ResourcesSpec, devices: [Device],
        capabilities: CapabilityChanges, security: Security, mounts: [Mount], procVirtualize: Bool?, userNamespace: IDMapping?,
        restartPolicy: RestartPolicy, stopTimeout: Interval, firewall: Firewall?, drift: DriftPolicy, profiles: [String],
        placement: Placement?
    ) {
        self.state = state
        self.logDriver = logDriver
        self.hostname = hostname
        self.rootfs = rootfs
        self.persistent = persistent
        self.command = command
        self.workingDir = workingDir
        self.env = env
        self.networks = networks
        self.resources = resources
        self.devices = devices
        self.capabilities = capabilities
        self.security = security
        self.mounts = mounts
        self.procVirtualize = procVirtualize
        self.userNamespace = userNamespace
        self.restartPolicy = restartPolicy
        self.stopTimeout = stopTimeout
        self.firewall = firewall
        self.drift = drift
        self.profiles = profiles
        self.placement = placement
    }

    /// Attachments as the manifest lists them, with their defaults: the
    /// interface by position (eth0, eth1, ...) and the default route
    /// through the first.
    public static func attachments(_ list: [NetworkAttachment]) -> [Attachment] {
        list.enumerated().map { index, attachment in
            Attachment(
                network: attachment.network, addresses: attachment.addresses, interface: attachment.interface ?? "eth\(index)",
                defaultRoute: attachment.defaultRoute ?? (index == 0))
        }
    }

    /// Whether the container's namespace needs IPv6 (it is off otherwise).
    public var usesIPv6: Bool {
        networks.contains { $0.addresses.contains { !$0.address.isIPv4 } }
    }
}

extension ContainerSpec {
    /// The spec with every default applied: nil when it names no root
    /// filesystem (the manifest checks report that, at its line, first).
    public func resolved(name: String) -> ContainerConfig? {
        rootfs?.source.map { resolved(name: name, defaultRootfs: $0) }
    }

    /// The spec with every default applied, on `defaultRootfs` when it
    /// names no root filesystem of its own (`berth run`'s template, tests).
    public func resolved(name: String, defaultRootfs: RootfsSource) -> ContainerConfig {
        let source = rootfs?.source ?? defaultRootfs
        let security = self.security ?? SecuritySpec()
        return ContainerConfig(
            state: state ?? Defaults.state,
            logDriver: logs?.driver ?? Defaults.logDriver,
            hostname: hostname ?? name,
            rootfs: source,
            persistent: rootfs?.persistent ?? false,
            command: `init`?.command ?? Defaults.initCommand,
            workingDir: `init`?.workingDir ?? Defaults.workingDir,
            env: env ?? [:],
            networks: ContainerConfig.attachments(networks ?? []),
            resources: resources ?? ResourcesSpec(),
            devices: (devices ?? []).map { ContainerConfig.Device(path: $0.path, access: $0.access ?? Defaults.deviceAccess) },
            capabilities: ContainerConfig.CapabilityChanges(add: capabilities?.add ?? [], drop: capabilities?.drop ?? []),
            security: ContainerConfig.Security(
                privileged: security.privileged ?? false, noNewPrivileges: security.noNewPrivileges ?? true,
                seccomp: security.seccomp ?? .default, nestedUserNamespaces: security.nestedUserNamespaces ?? false),
            mounts: (mounts ?? []).map { mount in
                ContainerConfig.Mount(
                    type: mount.type, source: mount.source, destination: mount.destination, readOnly: mount.readOnly ?? false,
                    size: mount.size)
            },
            procVirtualize: proc?.virtualize,
            userNamespace: userNamespace.map { ContainerConfig.IDMapping(uidMap: $0.uidMap, gidMap: $0.gidMap ?? $0.uidMap) },
            restartPolicy: restartPolicy ?? Defaults.restartPolicy,
            stopTimeout: stopTimeout ?? Defaults.stopTimeout,
            firewall: firewall.map(ContainerConfig.Firewall.init),
            drift: policy?.drift ?? Defaults.drift,
            profiles: profiles ?? [], placement: placement)
    }

    /// The manifest form of a config, every default written out: what a
    /// record stores, and `resolved(name:)` of it gives the config back.
    public init(_ config: ContainerConfig) {
        self.init()
        state = config.state
        logs = LogsSpec(driver: config.logDriver)
        hostname = config.hostname
        rootfs = RootfsSpec(source: config.rootfs, persistent: config.persistent)
        `init` = InitSpec(command: config.command, workingDir: config.workingDir)
        env = config.env.isEmpty ? nil : config.env
        networks =
            config.networks.isEmpty
            ? nil
            : config.networks.map {
                NetworkAttachment(network: $0.network, addresses: $0.addresses, interface: $0.interface, defaultRoute: $0.defaultRoute)
            }
        resources = config.resources == ResourcesSpec() ? nil : config.resources
        devices = config.devices.isEmpty ? nil : config.devices.map { DeviceSpec(path: $0.path, access: $0.access) }
        capabilities =
            config.capabilities == ContainerConfig.CapabilityChanges()
            ? nil : CapabilitiesSpec(add: config.capabilities.add, drop: config.capabilities.drop)
        var security = SecuritySpec()
        security.privileged = config.security.privileged
        security.noNewPrivileges = config.security.noNewPrivileges
        security.seccomp = config.security.seccomp
        security.nestedUserNamespaces = config.security.nestedUserNamespaces
        self.security = security
        mounts =
            config.mounts.isEmpty
            ? nil
            : config.mounts.map {
                MountSpec(type: $0.type, source: $0.source, destination: $0.destination, readOnly: $0.readOnly, size: $0.size)
            }
        proc = config.procVirtualize.map { ProcSpec(virtualize: $0) }
        userNamespace = config.userNamespace.map { UserNamespaceSpec(uidMap: $0.uidMap, gidMap: $0.gidMap) }
        restartPolicy = config.restartPolicy
        stopTimeout = config.stopTimeout
        firewall = config.firewall.map { FirewallSpec(defaultPolicy: $0.defaultPolicy, rules: $0.rules) }
        policy = ObjectPolicy(drift: config.drift)
        profiles = config.profiles.isEmpty ? nil : config.profiles
        placement = config.placement
    }
}

/// Stored in the manifest form (see `ContainerSpec.init(_:)`), so a record
/// or a saved plan reads the same whichever berth wrote it.
extension ContainerConfig: Codable {
    public init(from decoder: any Decoder) throws {
        let spec = try ContainerSpec(from: decoder)
        guard let config = spec.resolved(name: spec.hostname ?? "") else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "a container config names no rootfs"))
        }
        self = config
    }

    public func encode(to encoder: any Encoder) throws {
        try ContainerSpec(self).encode(to: encoder)
    }
}
