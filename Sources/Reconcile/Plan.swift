import Model

/// What the host has, as far as planning needs it: read from the state dir
/// and the kernel by the runtime, then handed to the pure planner.
public struct ObservedHost: Sendable, Equatable {
    public var containers: [ObservedContainer]
    /// Names of the networks whose bridge exists.
    public var networks: Set<String>
    /// Networks whose bridge berth created (name → bridge): prune candidates.
    public var recordedNetworks: [String: String] = [:]
    /// Whether the host's NAT/port-forward table is what the manifests want.
    public var natCurrent: Bool = true
    /// Existing bridges of desired networks, by network name.
    public var bridges: [String: BridgeObservation] = [:]
    /// Containers running under berth's cgroup parent without a record (a
    /// lost state dir): name → init pid.
    public var unrecorded: [String: Int32] = [:]
    /// IPv4 forwarding of the bridges of desired networks that need it, by
    /// network name (absent: the bridge does not exist yet).
    public var forwarding: [String: Bool] = [:]

    public init(containers: [ObservedContainer] = [], networks: Set<String> = []) {
        self.containers = containers
        self.networks = networks
    }
}

/// A network's bridge as the kernel has it.
public struct BridgeObservation: Sendable, Equatable {
    public var up: Bool
    /// Whether the gateway address (with the subnet's prefix) is on it.
    public var hasGateway: Bool
    public init(up: Bool, hasGateway: Bool) {
        self.up = up
        self.hasGateway = hasGateway
    }
}

public struct ObservedContainer: Sendable, Equatable {
    public var name: String
    public var running: Bool
    public var frozen: Bool
    /// The spec it was last started or updated with.
    public var recordedSpec: ContainerSpec?
    /// Resources as the kernel holds them (nil where unreadable).
    public var resources: ObservedResources?
    /// Its network namespace as the kernel has it (nil where not observed:
    /// network changes are then planned for the next restart).
    public var network: NetworkObservation?
    /// Whether its firewall table is as berth applied it (nil: not observed).
    public var firewallCurrent: Bool?

    public init(
        name: String, running: Bool, frozen: Bool = false, recordedSpec: ContainerSpec?, resources: ObservedResources?,
        network: NetworkObservation? = nil, firewallCurrent: Bool? = nil
    ) {
        self.name = name
        self.running = running
        self.frozen = frozen
        self.recordedSpec = recordedSpec
        self.resources = resources
        self.network = network
        self.firewallCurrent = firewallCurrent
    }
}

/// Kernel values, normalised to the manifest's units (pages rounded away by
/// comparing page-rounded desired values; v1 shares converted to weights).
public struct ObservedResources: Sendable, Equatable {
    public var cpuWeight: Int?
    public var cpuLimitMillicores: UInt64?
    public var memoryMax: UInt64?
    public var pidsMax: Int?

    public init(cpuWeight: Int? = nil, cpuLimitMillicores: UInt64? = nil, memoryMax: UInt64? = nil, pidsMax: Int? = nil) {
        self.cpuWeight = cpuWeight
        self.cpuLimitMillicores = cpuLimitMillicores
        self.memoryMax = memoryMax
        self.pidsMax = pidsMax
    }
}

/// One step of a plan, with its reason.
public struct Action: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        case create, updateLive = "update-live", pendingRestart = "pending-restart", replace, delete, start, stop, adopt
    }
    public var kind: Kind
    public var object: String
    public var field: String?
    public var old: String?
    public var new: String?
    public var reason: String

    public init(_ kind: Kind, _ object: String, field: String? = nil, old: String? = nil, new: String? = nil, reason: String) {
        self.kind = kind
        self.object = object
        self.field = field
        self.old = old
        self.new = new
        self.reason = reason
    }

    public var description: String {
        var text = "\(kind.rawValue) \(object)"
        if let field { text += " \(field): \(old ?? "-") → \(new ?? "-")" }
        return text + " (\(reason))"
    }
}

/// A difference between desired and observed, for `berth drift`.
public struct Drift: Sendable, Equatable, Codable {
    public var object: String
    public var field: String
    public var desired: String
    public var observed: String
    public var policy: DriftPolicy
}

public struct PlanOptions: Sendable {
    public var prune = false
    public init(prune: Bool = false) { self.prune = prune }
}

/// The planner: a pure function of desired and observed.
public enum Planner {
    public static func plan(desired: DesiredHost, observed: ObservedHost, options: PlanOptions = PlanOptions()) -> [Action] {
        var actions: [Action] = []
        let observedByName = Dictionary(observed.containers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        // Networks before the containers that use them.
        for network in desired.networks {
            let object = "Network/\(network.metadata.name)"
            guard observed.networks.contains(network.metadata.name) else {
                actions.append(Action(.create, object, reason: "bridge \(network.bridgeName) does not exist"))
                continue
            }
            for (field, wanted, actual) in bridgeDrift(network, observed.bridges[network.metadata.name]) {
                actions.append(Action(.updateLive, object, field: field, old: actual, new: wanted, reason: "the bridge is repaired live"))
            }
        }
        let networksByName = Dictionary(desired.networks.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        for container in desired.containers {
            let name = container.metadata.name
            let object = "Container/\(name)"
            let wantsRunning = (container.spec.state ?? .running) != .stopped
            guard let current = observedByName[name] else {
                if let pid = observed.unrecorded[name] {
                    actions.append(
                        Action(
                            .adopt, object, reason: "running (init pid \(pid)) under berth's cgroup parent without a record: adopted, not restarted"))
                } else {
                    actions.append(Action(.create, object, reason: "not on this host"))
                }
                continue
            }
            if !wantsRunning && current.running {
                actions.append(Action(.stop, object, reason: "state: stopped"))
                continue
            }
            if wantsRunning && !current.running {
                actions.append(Action(.start, object, reason: "not running"))
                continue
            }
            guard current.running else { continue }
            // With drift policy warn or ignore, what changed behind berth's
            // back (the manifest did not change since it was applied) is left
            // alone; what the manifest changed is still applied.
            let enforce = (container.spec.policy?.drift ?? .enforce) == .enforce
            let recorded = current.recordedSpec
            if enforce || recorded == nil || recorded?.resources != container.spec.resources {
                actions += resourceChanges(container, current, object: object)
            }
            if let network = current.network, enforce || recorded == nil || recorded?.networks != container.spec.networks {
                for change in networkDrift(container, network, networks: networksByName) {
                    actions.append(
                        change.live
                            ? Action(
                                .updateLive, object, field: change.field, old: change.observed, new: change.desired,
                                reason: "the container's network is changed live")
                            : Action(
                                .pendingRestart, object, field: change.field, old: change.observed, new: change.desired,
                                reason: "IPv6 is off in its namespace until it restarts (it started without an IPv6 address)"))
                }
            }
            if let recorded = current.recordedSpec {
                if container.spec.firewall != recorded.firewall {
                    actions.append(
                        Action(.updateLive, object, field: "spec.firewall", reason: "rules are replaced live in the container's namespace"))
                } else if current.firewallCurrent == false && enforce {
                    actions.append(
                        Action(
                            .updateLive, object, field: "spec.firewall", old: "missing or edited", new: "as in the manifest",
                            reason: "the table in the container's namespace is replaced live"))
                }
                actions += restartChanges(
                    desired: container.spec, recorded: recorded, object: object, networksLive: current.network != nil)
            }
        }
        if !observed.natCurrent {
            actions.append(Action(.updateLive, "Ruleset/nat", reason: "the nftables table for NAT and port forwards is missing or differs"))
        }
        for (network, bridge, current) in forwardingChanges(desired, observed) {
            actions.append(
                Action(
                    .updateLive, "Sysctl/net.ipv4.conf.\(bridge).forwarding", field: "value", old: current, new: "1",
                    reason: "NAT or port forwards of network \(network) need forwarding on its bridge (set per bridge, never globally)"))
        }
        if options.prune {
            let desiredNames = Set(desired.containers.map(\.metadata.name))
            for container in observed.containers where !desiredNames.contains(container.name) {
                actions.append(Action(.delete, "Container/\(container.name)", reason: "no manifest names it (--prune)"))
            }
            for (name, pid) in observed.unrecorded.sorted(by: { $0.key < $1.key }) where !desiredNames.contains(name) {
                actions.append(
                    Action(
                        .delete, "Container/\(name)",
                        reason: "running (init pid \(pid)) under berth's cgroup parent without a record; no manifest names it (--prune)"))
            }
            // Networks after the containers that used them.
            let desiredNetworks = Set(desired.networks.map(\.metadata.name))
            for (name, bridge) in observed.recordedNetworks.sorted(by: { $0.key < $1.key }) where !desiredNetworks.contains(name) {
                actions.append(Action(.delete, "Network/\(name)", field: nil, old: bridge, reason: "no manifest names it (--prune)"))
            }
        }
        return actions
    }

    /// Live-changeable resource fields whose kernel value differs.
    static func resourceChanges(_ container: ContainerObject, _ current: ObservedContainer, object: String) -> [Action] {
        guard let observed = current.resources else { return [] }
        return resourceDrift(container, observed).map { field, desired, actual in
            Action(.updateLive, object, field: field, old: actual, new: desired, reason: "the kernel can change it live")
        }
    }

    static func resourceDrift(_ container: ContainerObject, _ observed: ObservedResources) -> [(String, String, String)] {
        let resources = container.spec.resources
        var differences: [(String, String, String)] = []
        func text<T>(_ value: T?) -> String { value.map { "\($0)" } ?? "unlimited" }
        let weight = resources?.cpu?.weight ?? 100
        if let actual = observed.cpuWeight, actual != weight {
            differences.append(("spec.resources.cpu.weight", "\(weight)", "\(actual)"))
        }
        let limit = resources?.cpu?.limit?.millicores
        if limit != observed.cpuLimitMillicores {
            differences.append(
                (
                    "spec.resources.cpu.limit", text(limit.map { CPUQuantity(millicores: $0) }),
                    text(observed.cpuLimitMillicores.map { CPUQuantity(millicores: $0) })
                ))
        }
        // The kernel rounds memory limits down to pages.
        let memory = resources?.memory?.max.map { $0.bytes / 4096 * 4096 }
        if memory != observed.memoryMax {
            differences.append(
                ("spec.resources.memory.max", text(memory.map { ByteSize(bytes: $0) }), text(observed.memoryMax.map { ByteSize(bytes: $0) })))
        }
        let pids = resources?.pids?.max
        if pids != observed.pidsMax {
            differences.append(("spec.resources.pids.max", text(pids), text(observed.pidsMax)))
        }
        return differences
    }

    /// Bridges whose forwarding sysctl berth must turn on: (network, bridge, current value).
    static func forwardingChanges(_ desired: DesiredHost, _ observed: ObservedHost) -> [(String, String, String)] {
        desired.networks.compactMap { network in
            guard network.spec.needsForwarding, observed.forwarding[network.metadata.name] != true else { return nil }
            let current = observed.forwarding[network.metadata.name].map { $0 ? "1" : "0" } ?? "absent"
            return (network.metadata.name, network.bridgeName, current)
        }
    }

    /// A bridge that exists but is down or lost its gateway address.
    static func bridgeDrift(_ network: NetworkObject, _ bridge: BridgeObservation?) -> [(String, String, String)] {
        guard let bridge else { return [] }
        var differences: [(String, String, String)] = []
        if !bridge.up { differences.append(("bridge.state", "up", "down")) }
        if !bridge.hasGateway {
            let gateway = CIDR(address: network.spec.effectiveGateway, prefixLength: network.spec.subnet.prefixLength)
            differences.append(("spec.gateway", "\(gateway)", "absent"))
        }
        return differences
    }

    /// One difference in a container's network namespace; `live` when the
    /// runtime can repair it without a restart.
    struct NetworkChange {
        var field: String
        var desired: String
        var observed: String
        var live = true
    }

    /// Interfaces, addresses, bridge ports and the default route: what the
    /// manifests want against what the kernel has in the namespace.
    static func networkDrift(_ container: ContainerObject, _ observed: NetworkObservation, networks: [String: NetworkObject])
        -> [NetworkChange]
    {
        func list(_ addresses: [CIDR]) -> String { addresses.isEmpty ? "none" : addresses.map(\.description).sorted().joined(separator: ",") }
        let layout = container.interfaceLayout(networks: networks)
        let byName = Dictionary(observed.interfaces.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var changes: [NetworkChange] = []
        for (index, wanted) in layout.enumerated() {
            let field = "spec.networks[\(index)]"
            guard let interface = byName[wanted.interface] else {
                changes.append(NetworkChange(field: field, desired: "\(wanted.interface) on \(wanted.network)", observed: "absent"))
                continue
            }
            if interface.hostSideAttached == false {
                changes.append(NetworkChange(field: field + ".network", desired: wanted.network, observed: "not a port of its bridge"))
            }
            if !interface.up { changes.append(NetworkChange(field: field + ".interface", desired: "up", observed: "down")) }
            if Set(wanted.addresses) != Set(interface.addresses) {
                let needsIPv6 = !observed.ipv6 && wanted.addresses.contains { !$0.address.isIPv4 }
                changes.append(
                    NetworkChange(
                        field: field + ".addresses", desired: list(wanted.addresses), observed: list(interface.addresses), live: !needsIPv6))
            }
        }
        let wantedNames = Set(layout.map(\.interface))
        for interface in observed.interfaces where interface.kind == "veth" && !wantedNames.contains(interface.name) {
            changes.append(NetworkChange(field: "spec.networks", desired: "no \(interface.name)", observed: interface.name))
        }
        let gateways = layout.compactMap(\.gateway).prefix(1).map(\.description)
        let observedGateways = observed.defaultGateways.filter(\.isIPv4).map(\.description).sorted()
        if gateways != observedGateways {
            changes.append(
                NetworkChange(
                    field: "spec.networks.defaultRoute", desired: gateways.first.map { "via \($0)" } ?? "none",
                    observed: observedGateways.isEmpty ? "none" : observedGateways.map { "via \($0)" }.joined(separator: ",")))
        }
        return changes
    }

    /// Fields that only take effect when the container restarts.
    static func restartChanges(desired: ContainerSpec, recorded: ContainerSpec, object: String, networksLive: Bool = false) -> [Action] {
        var actions: [Action] = []
        if desired.rootfs?.source != recorded.rootfs?.source {
            actions.append(Action(.replace, object, field: "spec.rootfs", reason: "another root filesystem: only with --replace"))
        }
        let restartFields: [(String, Bool)] = [
            ("spec.init", desired.`init` != recorded.`init`), ("spec.env", desired.env != recorded.env),
            ("spec.hostname", desired.hostname != recorded.hostname), ("spec.mounts", desired.mounts != recorded.mounts),
            ("spec.capabilities", desired.capabilities != recorded.capabilities), ("spec.security", desired.security != recorded.security),
            ("spec.devices", desired.devices != recorded.devices),
            ("spec.networks", !networksLive && desired.networks != recorded.networks),
        ]
        for (field, changed) in restartFields where changed {
            actions.append(Action(.pendingRestart, object, field: field, reason: "applied at the next restart (or now with --restart)"))
        }
        return actions
    }

    /// Differences between desired and observed, per the objects' drift policy.
    public static func drift(desired: DesiredHost, observed: ObservedHost) -> [Drift] {
        let networksByName = Dictionary(desired.networks.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        let observedByName = Dictionary(observed.containers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var result: [Drift] = []
        for container in desired.containers {
            let policy = container.spec.policy?.drift ?? .enforce
            if policy == .ignore { continue }
            let object = "Container/\(container.metadata.name)"
            guard let current = observedByName[container.metadata.name] else {
                let found = observed.unrecorded[container.metadata.name].map { "running without a record (init pid \($0))" }
                result.append(Drift(object: object, field: "state", desired: "running", observed: found ?? "absent", policy: policy))
                continue
            }
            let wanted = container.spec.state ?? .running
            if wanted != .stopped && !current.running {
                result.append(Drift(object: object, field: "state", desired: wanted.rawValue, observed: "stopped", policy: policy))
            }
            if let resources = current.resources, current.running {
                for (field, desiredValue, actual) in resourceDrift(container, resources) {
                    result.append(Drift(object: object, field: field, desired: desiredValue, observed: actual, policy: policy))
                }
            }
            if current.running, current.firewallCurrent == false {
                result.append(
                    Drift(object: object, field: "spec.firewall", desired: "as in the manifest", observed: "missing or edited", policy: policy))
            }
            if let network = current.network, current.running {
                for change in networkDrift(container, network, networks: networksByName) {
                    result.append(Drift(object: object, field: change.field, desired: change.desired, observed: change.observed, policy: policy))
                }
            }
        }
        for (_, bridge, current) in forwardingChanges(desired, observed) where current != "absent" {
            result.append(
                Drift(object: "Sysctl/net.ipv4.conf.\(bridge).forwarding", field: "value", desired: "1", observed: current, policy: .enforce))
        }
        if !observed.natCurrent {
            result.append(
                Drift(object: "Ruleset/nat", field: "table", desired: "present and current", observed: "missing or changed", policy: .enforce))
        }
        for network in desired.networks {
            let policy = network.spec.policy?.drift ?? .enforce
            if policy == .ignore { continue }
            let object = "Network/\(network.metadata.name)"
            guard observed.networks.contains(network.metadata.name) else {
                result.append(Drift(object: object, field: "bridge", desired: network.bridgeName, observed: "absent", policy: policy))
                continue
            }
            for (field, wanted, actual) in bridgeDrift(network, observed.bridges[network.metadata.name]) {
                result.append(Drift(object: object, field: field, desired: wanted, observed: actual, policy: policy))
            }
        }
        return result
    }
}
