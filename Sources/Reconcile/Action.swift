import Model

/// The object an action or a drift is about, typed (rendered
/// "Container/web1", "Network/front", "Ruleset/front",
/// "Sysctl/net.ipv4.conf.br-edge.forwarding" at the edge).
public enum ObjectRef: Hashable, Sendable, Comparable, CustomStringConvertible {
    case container(String)
    case network(String)
    /// A network's nftables table: port forwards, masquerade, isolation.
    case ruleset(network: String)
    /// A bridge's IPv4 forwarding sysctl.
    case forwarding(bridge: String)
    /// What one source of manifests applied (berth's own record).
    case inventory(source: String)

    public var description: String {
        switch self {
        case .container(let name): return "Container/\(name)"
        case .network(let name): return "Network/\(name)"
        case .ruleset(let network): return "Ruleset/\(network)"
        case .forwarding(let bridge): return "Sysctl/net.ipv4.conf.\(bridge).forwarding"
        case .inventory(let source): return "Inventory[\(source)]"
        }
    }

    public var name: String {
        switch self {
        case .container(let name), .network(let name), .ruleset(let name): return name
        case .forwarding(let bridge): return bridge
        case .inventory(let source): return source
        }
    }

    public static func < (lhs: ObjectRef, rhs: ObjectRef) -> Bool { lhs.description < rhs.description }
}

/// A value as the manifest wants it or the kernel holds it, typed; rendered
/// in the manifest's units.
public enum FieldValue: Hashable, Sendable, CustomStringConvertible {
    /// The object or setting does not exist.
    case absent
    /// No limit ("max", -1).
    case unlimited
    case bytes(UInt64)
    case cpu(CPUQuantity)
    case cpus(CPUSet)
    case number(Int)
    /// A kernel switch (a sysctl): 1 or 0, as /proc/sys shows it.
    case flag(Bool)
    /// A manifest's boolean: true or false, as the manifest writes it.
    case boolean(Bool)
    case runState(ObservedRunState)
    case text(String)

    public var description: String {
        switch self {
        case .absent: return "absent"
        case .unlimited: return "unlimited"
        case .bytes(let bytes): return ByteSize(bytes: bytes).description
        case .cpu(let cpu): return cpu.description
        case .cpus(let cpus): return cpus.description
        case .number(let number): return "\(number)"
        case .flag(let flag): return flag ? "1" : "0"
        case .boolean(let value): return value ? "true" : "false"
        case .runState(let state): return state.description
        case .text(let text): return text
        }
    }

    public static func limit(_ bytes: UInt64?) -> FieldValue { bytes.map { .bytes($0) } ?? .unlimited }
}

/// Why a field differs: the manifest changed since berth applied it, or the
/// kernel changed behind berth's back (only the latter is drift).
public enum ChangeOrigin: String, Hashable, Sendable, Codable {
    case manifest
    case drift
}

/// One field to change: desired and observed values, and why they differ.
public struct FieldChange: Hashable, Sendable, CustomStringConvertible {
    /// The manifest path (`spec.resources.memory.max`).
    public var field: String
    public var desired: FieldValue
    public var observed: FieldValue
    public var origin: ChangeOrigin

    public init(_ field: String, desired: FieldValue, observed: FieldValue, origin: ChangeOrigin) {
        self.field = field
        self.desired = desired
        self.observed = observed
        self.origin = origin
    }

    public var description: String { "\(field): \(observed) → \(desired)" }
}

/// What a plan step does, with what it needs to do it: apply carries out
/// the payload and never consults the manifests again.
public enum Operation: Hashable, Sendable {
    case createNetwork(NetworkObject)
    /// Makes an existing bridge match its network, live: up, its MTU, its
    /// addresses (the gateways added, any other removed), the isolation
    /// flag of its ports.
    case repairBridge(NetworkObject)
    /// Makes the network's bridge under the name the manifest now gives;
    /// the bridge made under the old name `from` stays until the
    /// containers moved (`deleteOldBridge`).
    case moveBridge(NetworkObject, from: String)
    case deleteNetwork(bridge: String)
    /// Deletes a network's bridge under a name the manifest no longer
    /// gives, once `movedContainers` (the network's containers, moved to
    /// the new bridge live) did not fail to move.
    case deleteOldBridge(bridge: String, movedContainers: [String])

    case createContainer(ContainerObject, networks: [NetworkObject])
    case adoptContainer(ContainerObject, pid: Int32, networks: [NetworkObject])
    case startContainer(ContainerObject, networks: [NetworkObject])
    case stopContainer(timeout: Interval)
    case freezeContainer
    case thawContainer
    /// Writes every cgroup limit (declaratively) and records the resources.
    case updateResources(ResourcesSpec)
    /// Attaches, detaches and readdresses the container's networks.
    case updateNetworks(ContainerObject, networks: [NetworkObject])
    case updateFirewall(ContainerConfig.Firewall?)
    /// Fields only berth's record holds (restart policy, stop timeout, ...):
    /// the record takes the spec.
    case updateRecord(ContainerConfig, labels: [String: String] = [:])
    /// Fields that apply at the next start: carried out only with --restart.
    case restartContainer(ContainerObject, networks: [NetworkObject])
    /// Another root filesystem: carried out only with --replace.
    case replaceContainer(ContainerObject, networks: [NetworkObject])
    case deleteContainer

    /// A network's nftables table, with the networks it may reach (their
    /// bridges) and the containers its port forwards name (their addresses).
    case applyRuleset(NetworkObject, reached: [NetworkObject], containers: [ContainerObject])
    /// Deletes the one NAT table older berth versions kept for the whole
    /// instance (`ip berth_PARENT`), once each network has its own.
    case deleteLegacyNAT(table: String)
    case enableForwarding(bridge: String)

    /// An object of this source's inventory that no manifest names any
    /// more, left alone (without --prune): shown, never carried out.
    case leaveOrphan
    /// A container `berth checkpoint` dumped, whose manifest wants it
    /// running: left alone until `berth restore` (shown, never carried out).
    case leaveCheckpointed
    /// Writes a source's inventory. `deleting`: objects this plan deletes,
    /// kept in it when their delete does not succeed.
    case recordInventory(Inventory, deleting: [ObjectRef])
}

/// Why an action is planned: what is true of the host.
public enum Reason: Hashable, Sendable, CustomStringConvertible {
    case doesNotExist
    case runningWithoutRecord(pid: Int32)
    case notRunning
    case exited(code: Int32?, policy: RestartPolicy)
    case stateStopped
    case stateFrozen
    case frozenButRunningWanted
    case liveChange
    case networkChangedLive
    case ipv6NeedsRestart
    case firewallReplacedLive
    case recordOnly
    case appliedAtRestart
    case anotherRootfs
    /// A disk quota added or removed: the private layer moves into or out of a disk image.
    case privateLayerMoves
    case bridgeRepaired
    case bridgeRenamed(from: String)
    case containersMoved(to: String)
    case rulesetDiffers
    case legacyNATTable
    case forwardingNeeded(network: String)
    case noManifest
    case noManifestWithoutRecord(pid: Int32)
    /// In this source's inventory, named by none of its manifests.
    case noManifestOfSource(String, prune: Bool)
    /// What the source applied changed (objects named, pruned or taken over).
    case inventoryChanged
    /// Its processes are in the checkpoint image `directory`.
    case checkpointed(directory: String)

    public var description: String {
        switch self {
        case .doesNotExist: return "does not exist"
        case .runningWithoutRecord(let pid):
            return "running (init pid \(pid)) under berth's cgroup parent without a record: adopted, not restarted"
        case .notRunning: return "stopped, state running"
        case .exited(let code, let policy):
            let how = code.map { "exited with code \($0)" } ?? "exited"
            return "\(how), restartPolicy \(policy.rawValue)"
        case .stateStopped: return "running, state stopped"
        case .stateFrozen: return "running, state frozen"
        case .frozenButRunningWanted: return "frozen, state running"
        case .liveChange: return "the kernel can change it live"
        case .networkChangedLive: return "the container's network is changed live"
        case .ipv6NeedsRestart: return "IPv6 is off in its namespace until it restarts (it started without an IPv6 address)"
        case .firewallReplacedLive: return "rules are replaced live in the container's namespace"
        case .recordOnly: return "berth's record of it changes; nothing in the kernel does"
        case .appliedAtRestart: return "applied at the next restart (or now with --restart)"
        case .anotherRootfs: return "another root filesystem: only with --replace"
        case .privateLayerMoves: return "the private layer moves into or out of a disk image: only with --replace (it is made again)"
        case .bridgeRepaired: return "the bridge is changed live"
        case .bridgeRenamed(let old):
            return "the bridge is made under its new name; the containers move to it live from \(old), which then goes"
        case .containersMoved(let bridge): return "the network's containers moved to \(bridge) live"
        case .legacyNATTable:
            return "the instance-wide NAT table of older berth versions: every network of this instance has its own table now"
        case .rulesetDiffers:
            return "the network's nftables table (port forwards, masquerade, isolation from other networks) is replaced live"
        case .forwardingNeeded(let network):
            return "NAT or port forwards of network \(network) need forwarding on its bridge (set per bridge, never globally)"
        case .noManifest: return "no manifest names it (--prune)"
        case .noManifestWithoutRecord(let pid):
            return "running (init pid \(pid)) under berth's cgroup parent without a record; no manifest names it (--prune)"
        case .noManifestOfSource(let source, let prune):
            return "source \(source) applied it and none of its manifests names it any more" + (prune ? "" : "; --prune deletes it")
        case .inventoryChanged: return "berth's record of what this source applied; nothing in the kernel changes"
        case .checkpointed(let directory):
            return "its processes are in a checkpoint image: not started afresh; berth restore --from \(directory) brings it back, "
                + "berth stop forgets the checkpoint"
        }
    }
}

/// One step of a plan: its object, what to do (with the values it needs),
/// the fields it changes and why.
public struct Action: Hashable, Sendable, CustomStringConvertible {
    /// How the step is shown: the verbs of `berth plan`.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case create
        case updateLive = "update-live"
        case pendingRestart = "pending-restart"
        case replace, delete, start, stop, adopt, freeze, thaw
        /// In this source's inventory, named by no manifest; left alone without --prune.
        case orphan
        /// berth's own record (an inventory) changes.
        case record
        /// Dumped by `berth checkpoint`; left alone until `berth restore`.
        case checkpointed

        /// What a carried-out step of this kind did, as a total and an
        /// event say it ("created", "updated live").
        public var done: String {
            switch self {
            case .create: return "created"
            case .updateLive: return "updated live"
            case .pendingRestart: return "restarted"
            case .replace: return "replaced"
            case .delete: return "deleted"
            case .start: return "started"
            case .stop: return "stopped"
            case .adopt: return "adopted"
            case .freeze: return "frozen"
            case .thaw: return "thawed"
            case .orphan: return "orphan"
            case .record: return "inventory recorded"
            case .checkpointed: return "checkpointed"
            }
        }
    }

    public var object: ObjectRef
    public var operation: Operation
    public var changes: [FieldChange]
    public var reason: Reason

    public init(_ object: ObjectRef, _ operation: Operation, changes: [FieldChange] = [], reason: Reason) {
        self.object = object
        self.operation = operation
        self.changes = changes
        self.reason = reason
    }

    public var kind: Kind {
        switch operation {
        case .createNetwork, .createContainer: return .create
        case .repairBridge, .moveBridge, .updateResources, .updateNetworks, .updateFirewall, .updateRecord, .applyRuleset, .enableForwarding:
            return .updateLive
        case .deleteNetwork, .deleteOldBridge, .deleteContainer, .deleteLegacyNAT: return .delete
        case .adoptContainer: return .adopt
        case .startContainer: return .start
        case .stopContainer: return .stop
        case .freezeContainer: return .freeze
        case .thawContainer: return .thaw
        case .restartContainer: return .pendingRestart
        case .replaceContainer: return .replace
        case .leaveOrphan: return .orphan
        case .leaveCheckpointed: return .checkpointed
        case .recordInventory: return .record
        }
    }

    /// Drift when every change it makes is a change behind berth's back.
    public var origin: ChangeOrigin? {
        guard !changes.isEmpty else { return nil }
        return changes.allSatisfy { $0.origin == .drift } ? .drift : .manifest
    }

    /// One line: "update-live Container/web1 spec.resources.memory.max: 128Mi → 256Mi (the kernel can change it live)";
    /// with several changes they are joined with "; ".
    public var description: String {
        var text = "\(kind.rawValue) \(object)"
        if !changes.isEmpty { text += " " + changes.map(\.description).joined(separator: "; ") }
        return text + " (\(reason))"
    }
}

/// A difference between desired and observed, for `berth drift`.
public struct Drift: Hashable, Sendable {
    public var object: ObjectRef
    public var field: String
    public var desired: FieldValue
    public var observed: FieldValue
    public var policy: DriftPolicy
    /// Whether the kernel changed behind berth's back (drift proper) or the
    /// manifest changed since berth applied it (not applied yet).
    public var origin: ChangeOrigin
    /// What applying it takes.
    public var kind: Action.Kind

    public init(
        object: ObjectRef, field: String, desired: FieldValue, observed: FieldValue, policy: DriftPolicy, origin: ChangeOrigin = .drift,
        kind: Action.Kind = .updateLive
    ) {
        self.object = object
        self.field = field
        self.desired = desired
        self.observed = observed
        self.policy = policy
        self.origin = origin
        self.kind = kind
    }
}
