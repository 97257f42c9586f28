import Model

/// An object the manifests name that another source applied.
public struct OwnershipConflict: Hashable, Sendable, CustomStringConvertible {
    public var object: ObjectRef
    /// The source whose inventory holds it.
    public var owner: String

    public init(object: ObjectRef, owner: String) {
        self.object = object
        self.owner = owner
    }

    public var description: String { "\(object) belongs to source \(owner)" }
}

extension Planner {
    /// The objects the manifests name that belong to another source. They
    /// are left out of a plan (its own objects are still planned); plan and
    /// apply refuse them before anything is planned, the agent reports them.
    /// A network another source applied with the very spec these manifests
    /// give is shared, not a conflict (`sharedNetworks`).
    public static func conflicts(desired: DesiredHost, observed: ObservedHost, options: PlanOptions) -> [OwnershipConflict] {
        foreign(desired, observed, options).conflicts
    }

    /// Networks these manifests name as another source applied them: their
    /// containers attach to them, but the other source keeps and plans them.
    public static func sharedNetworks(desired: DesiredHost, observed: ObservedHost, options: PlanOptions) -> [String] {
        foreign(desired, observed, options).shared
    }

    static func foreign(_ desired: DesiredHost, _ observed: ObservedHost, _ options: PlanOptions)
        -> (conflicts: [OwnershipConflict], shared: [String])
    {
        guard case .source(let source) = options.scope, !options.takeOwnership else { return ([], []) }
        let owners = observed.owners
        var conflicts: [OwnershipConflict] = []
        var shared: [String] = []
        for network in desired.networks {
            let name = network.metadata.name
            guard let owner = owners[.network(name)], owner != source else { continue }
            if let applied = observed.networkSpecs[name], applied == network.spec {
                shared.append(name)
            } else {
                conflicts.append(OwnershipConflict(object: .network(name), owner: owner))
            }
        }
        for container in desired.containers {
            guard let owner = owners[.container(container.metadata.name)], owner != source else { continue }
            conflicts.append(OwnershipConflict(object: .container(container.metadata.name), owner: owner))
        }
        return (conflicts, shared)
    }

    /// A source's objects that no manifest names any more (deleted with
    /// --prune, shown as orphans without), and the inventory actions: this
    /// source's, and those of the sources it takes objects over from.
    static func inventoryActions(_ desired: DesiredHost, _ observed: ObservedHost, options: PlanOptions, foreign: Set<ObjectRef>)
        -> [Action]
    {
        guard case .source(let source) = options.scope else { return instancePruneInventories(desired, observed, options: options) }
        let old = observed.inventories[source] ?? Inventory(source: source)
        let namedContainers = Set(desired.containers.map(\.metadata.name))
        let namedNetworks = Set(desired.networks.map(\.metadata.name))
        let observedContainers = Dictionary(observed.containers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var actions: [Action] = []
        var keptContainers: [String] = []
        var keptNetworks: [String] = []
        var deleting: [ObjectRef] = []
        func orphan(_ object: ObjectRef, _ field: String, _ observedValue: FieldValue, _ operation: Operation) {
            let change = FieldChange(field, desired: .absent, observed: observedValue, origin: .manifest)
            let reason = Reason.noManifestOfSource(source, prune: options.prune)
            if options.prune {
                actions.append(Action(object, operation, changes: [change], reason: reason))
                deleting.append(object)
            } else {
                actions.append(Action(object, .leaveOrphan, changes: [change], reason: reason))
            }
        }
        for name in old.containers where !namedContainers.contains(name) {
            // Gone from the host already: it leaves the inventory.
            if let container = observedContainers[name] {
                orphan(.container(name), "spec.state", .runState(container.state), .deleteContainer)
            } else if let pid = observed.unrecorded[name] {
                orphan(.container(name), "spec.state", .text("running without a record (init pid \(pid))"), .deleteContainer)
            } else {
                continue
            }
            if !options.prune { keptContainers.append(name) }
        }
        for name in old.networks where !namedNetworks.contains(name) {
            guard let bridge = observed.recordedNetworks[name] else { continue }
            orphan(.network(name), "bridge", .text(bridge), .deleteNetwork(bridge: bridge))
            if !options.prune { keptNetworks.append(name) }
        }
        let inventory = Inventory(
            source: source,
            containers: namedContainers.filter { !foreign.contains(.container($0)) } + keptContainers,
            networks: namedNetworks.filter { !foreign.contains(.network($0)) } + keptNetworks)
        if inventory != old || !deleting.isEmpty {
            actions.append(recordInventory(inventory, old: old, deleting: deleting))
        }
        // Objects taken over leave the inventory of the source that had them.
        if options.takeOwnership {
            for (other, held) in observed.inventories.sorted(by: { $0.key < $1.key }) where other != source {
                let left = Inventory(
                    source: other, containers: held.containers.filter { !namedContainers.contains($0) },
                    networks: held.networks.filter { !namedNetworks.contains($0) })
                if left != held { actions.append(recordInventory(left, old: held, deleting: [])) }
            }
        }
        return actions
    }

    /// `apply --prune` without a source: what no manifest names goes, from
    /// whichever inventory held it.
    static func instancePruneInventories(_ desired: DesiredHost, _ observed: ObservedHost, options: PlanOptions) -> [Action] {
        guard options.prune else { return [] }
        let containers = Set(desired.containers.map(\.metadata.name))
        let networks = Set(desired.networks.map(\.metadata.name))
        return observed.inventories.sorted(by: { $0.key < $1.key }).compactMap { source, held in
            let left = Inventory(
                source: source, containers: held.containers.filter(containers.contains), networks: held.networks.filter(networks.contains))
            guard left != held else { return nil }
            let deleting =
                held.containers.filter { !containers.contains($0) }.map(ObjectRef.container)
                + held.networks.filter { !networks.contains($0) }.map(ObjectRef.network)
            return recordInventory(left, old: held, deleting: deleting)
        }
    }

    static func recordInventory(_ inventory: Inventory, old: Inventory, deleting: [ObjectRef]) -> Action {
        func list(_ names: [String]) -> FieldValue { names.isEmpty ? .absent : .text(names.joined(separator: ", ")) }
        var changes: [FieldChange] = []
        if inventory.containers != old.containers {
            changes.append(FieldChange("containers", desired: list(inventory.containers), observed: list(old.containers), origin: .manifest))
        }
        if inventory.networks != old.networks {
            changes.append(FieldChange("networks", desired: list(inventory.networks), observed: list(old.networks), origin: .manifest))
        }
        return Action(
            .inventory(source: inventory.source), .recordInventory(inventory, deleting: deleting), changes: changes, reason: .inventoryChanged)
    }
}
