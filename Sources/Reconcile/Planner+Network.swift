import Model

extension Planner {
    /// One difference in a container's network namespace; `live` when the
    /// runtime can repair it without a restart.
    struct NetworkChange {
        var field: String
        var desired: String
        var observed: String
        var live = true
        /// The network of the attachment it is about.
        var network: String?
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
            let network = networks[wanted.network]
            if interface.hostSideAttached == false {
                let observed = network?.spec.driver == .macvlan ? "not a macvlan on its lower end" : "not a port of its bridge"
                changes.append(NetworkChange(field: field + ".network", desired: wanted.network, observed: observed, network: wanted.network))
            }
            if let network, network.spec.driver == .macvlan, let isolated = interface.isolated, isolated != network.spec.isolated {
                // The network's isolation, held by each container's macvlan (its mode).
                changes.append(
                    NetworkChange(
                        field: field + ".isolated", desired: network.spec.isolated ? "private" : "bridge",
                        observed: isolated ? "private" : "bridge", network: wanted.network))
            }
            if !interface.up { changes.append(NetworkChange(field: field + ".interface", desired: "up", observed: "down")) }
            // Both ends of the veth have the network's MTU, as its bridge does.
            if let mtu = networks[wanted.network]?.spec.mtu {
                var observedMTUs: [String] = []
                if let inside = interface.mtu, inside != mtu { observedMTUs.append("\(inside)") }
                if let host = interface.hostMTU, host != mtu { observedMTUs.append("\(host) on the host end") }
                if !observedMTUs.isEmpty {
                    changes.append(
                        NetworkChange(
                            field: field + ".mtu", desired: "\(mtu)", observed: observedMTUs.joined(separator: ", "), network: wanted.network))
                }
            }
            if Set(wanted.addresses) != Set(interface.addresses) {
                let needsIPv6 = !observed.ipv6 && wanted.addresses.contains { !$0.address.isIPv4 }
                changes.append(
                    NetworkChange(
                        field: field + ".addresses", desired: list(wanted.addresses), observed: list(interface.addresses), live: !needsIPv6))
            }
        }
        let wantedNames = Set(layout.map(\.interface))
        for interface in observed.interfaces where interface.kind.map(NetworkDriver.interfaceKinds.contains) == true {
            guard !wantedNames.contains(interface.name) else { continue }
            changes.append(NetworkChange(field: "spec.networks", desired: "no \(interface.name)", observed: interface.name))
        }
        // IPv6 routes only where IPv6 is on (a namespace started without it
        // gets its IPv6 route at the restart its addresses wait for).
        for family in observed.ipv6 ? [true, false] : [true] {
            let wantedGateway = layout.lazy.compactMap { family ? $0.gateway : $0.gateway6 }.first
            let observedFamily = observed.defaultGateways.filter { $0.isIPv4 == family }
            // The same gateway (or none on either side) spells the same:
            // its text is made only to compare and show a difference.
            if observedFamily.count <= 1 && observedFamily.first == wantedGateway { continue }
            let gateways = wantedGateway.map { [$0.description] } ?? []
            let observedGateways = observedFamily.map(\.description).sorted()
            if gateways != observedGateways {
                changes.append(
                    NetworkChange(
                        field: "spec.networks.defaultRoute", desired: gateways.first.map { "via \($0)" } ?? "none",
                        observed: observedGateways.isEmpty ? "none" : observedGateways.map { "via \($0)" }.joined(separator: ",")))
            }
        }
        return changes
    }
}
