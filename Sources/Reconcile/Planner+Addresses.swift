import Model

/// An address a manifest gives a container on a network while another
/// running container, which no manifest of this plan names, holds it
/// there: two hosts with one address on a bridge break both.
public struct AddressConflict: Hashable, Sendable, CustomStringConvertible {
    /// The container the manifests name, and where in its spec.
    public var container: String
    public var field: String
    public var network: String
    public var address: IPAddress
    /// The running container that holds the address.
    public var holder: String

    public init(container: String, field: String, network: String, address: IPAddress, holder: String) {
        self.container = container
        self.field = field
        self.network = network
        self.address = address
        self.holder = holder
    }

    public var description: String {
        "address \(address) on network \(network) is held by running container \(holder), which no manifest names"
    }
}

extension Planner {
    /// The addresses the plan would give twice: held by a running container
    /// no manifest names (an orphan kept without --prune, a container
    /// renamed in its manifest, one of another source) that the plan does
    /// not delete. Containers the plan deletes are no conflict: `ordered`
    /// deletes them before anything is created.
    public static func addressConflicts(desired: DesiredHost, observed: ObservedHost, actions: [Action]) -> [AddressConflict] {
        let named = Set(desired.containers.map(\.metadata.name))
        let deleted = Set(actions.filter { $0.operation == .deleteContainer }.map(\.object))
        let held = heldAddresses(observed) { !named.contains($0) && !deleted.contains(.container($0)) }
        guard !held.isEmpty else { return [] }
        var conflicts: [AddressConflict] = []
        for container in desired.containers where container.spec.state != .stopped {
            for (index, attachment) in container.spec.networks.enumerated() {
                for (position, address) in attachment.addresses.enumerated() {
                    guard let holder = held[Key(network: attachment.network, address: address.address)] else { continue }
                    conflicts.append(
                        AddressConflict(
                            container: container.metadata.name, field: "spec.networks[\(index)].addresses[\(position)]",
                            network: attachment.network, address: address.address, holder: holder))
                }
            }
        }
        return conflicts
    }

    /// The plan with the deletes of containers that hold an address another
    /// container of the plan wants moved first: a container renamed in its
    /// manifest, applied with --prune, never shares its address with its
    /// new self on the bridge, not even for the moment between the two.
    static func ordered(_ actions: [Action], desired: DesiredHost, observed: ObservedHost) -> [Action] {
        let deleted = Set(actions.filter { $0.operation == .deleteContainer }.map(\.object.name))
        guard !deleted.isEmpty else { return actions }
        let held = heldAddresses(observed) { deleted.contains($0) }
        let wanted = Set(
            desired.containers.flatMap { container in
                container.spec.networks.flatMap { attachment in attachment.addresses.map { Key(network: attachment.network, address: $0.address) } }
            })
        let first = Set(held.filter { wanted.contains($0.key) }.values)
        guard !first.isEmpty else { return actions }
        func early(_ action: Action) -> Bool { action.operation == .deleteContainer && first.contains(action.object.name) }
        return actions.filter(early) + actions.filter { !early($0) }
    }

    struct Key: Hashable {
        var network: String
        var address: IPAddress
    }

    /// The addresses running containers hold by their records, of those
    /// `include` takes.
    static func heldAddresses(_ observed: ObservedHost, _ include: (String) -> Bool) -> [Key: String] {
        var held: [Key: String] = [:]
        for container in observed.containers where container.running && include(container.name) {
            for attachment in container.recordedSpec?.networks ?? [] {
                for address in attachment.addresses { held[Key(network: attachment.network, address: address.address)] = container.name }
            }
        }
        return held
    }
}
