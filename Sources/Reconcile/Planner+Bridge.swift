import Model

extension Planner {
    /// What one desired network needs: its bridge made, made under a new
    /// name (its containers then move, and the old bridge goes), or changed
    /// live where the kernel differs from the manifest.
    static func networkActions(_ network: NetworkObject, observed: ObservedHost, enforceAll: Bool) -> [Action] {
        let name = network.metadata.name
        let ref = ObjectRef.network(name)
        guard observed.networks.contains(name) else {
            if let old = observed.oldBridges[name]?.first {
                let origin = bridgeOrigin(network, observed)
                return [
                    Action(
                        ref, .moveBridge(network, from: old),
                        changes: [FieldChange("spec.bridge", desired: .text(network.spec.bridge), observed: .text(old), origin: origin)],
                        reason: .bridgeRenamed(from: old))
                ]
            }
            return [
                Action(
                    ref, .createNetwork(network),
                    changes: [FieldChange("bridge", desired: .text(network.spec.bridge), observed: .absent, origin: .manifest)],
                    reason: .doesNotExist)
            ]
        }
        // With drift policy warn or ignore, what changed behind berth's back
        // is left alone; what the manifest changed is applied.
        let enforce = enforceAll || network.spec.drift == .enforce
        let changes = bridgeChanges(network, observed.bridges[name], recorded: observed.networkSpecs[name]).filter {
            enforce || $0.origin == .manifest
        }
        guard !changes.isEmpty else { return [] }
        return [Action(ref, .repairBridge(network), changes: changes, reason: .bridgeRepaired)]
    }

    /// Where an existing bridge differs from its network: up, MTU, the
    /// addresses (exactly the IPv4 gateway, and the IPv6 one when the
    /// network has IPv6), the isolation flag of berth's ports. A field is a
    /// manifest change when berth's record of what it applied holds another
    /// value, drift otherwise (also when there is no such record).
    static func bridgeChanges(_ network: NetworkObject, _ bridge: BridgeObservation?, recorded: NetworkConfig?) -> [FieldChange] {
        guard let bridge else { return [] }
        let spec = network.spec
        func origin(_ changed: Bool) -> ChangeOrigin { recorded != nil && changed ? .manifest : .drift }
        func list(_ addresses: [CIDR]) -> FieldValue {
            addresses.isEmpty ? .absent : .text(addresses.map(\.description).sorted().joined(separator: ","))
        }
        var changes: [FieldChange] = []
        if let driver = bridge.driver, driver != spec.driver {
            // The device is deleted and made again; its containers' interfaces follow.
            return [
                FieldChange(
                    "spec.driver", desired: .text(spec.driver.rawValue), observed: .text(driver.rawValue),
                    origin: origin(recorded?.driver != spec.driver))
            ]
        }
        if !bridge.up { changes.append(FieldChange("bridge.state", desired: .text("up"), observed: .text("down"), origin: .drift)) }
        if bridge.lower == false {
            // The containers' macvlans sit on it.
            changes.append(
                FieldChange(
                    "bridge.lower", desired: .text("\(spec.macvlanLower) up, MTU \(spec.mtu)"), observed: .text("down, another MTU or absent"),
                    origin: .drift))
        }
        if let mtu = bridge.mtu, mtu != spec.mtu {
            changes.append(
                FieldChange(
                    "spec.mtu", desired: .number(spec.mtu), observed: .number(mtu),
                    origin: origin(recorded?.mtu != spec.mtu)))
        }
        if let group = bridge.group, group != NetworkConfig.bridgeGroup {
            // Other networks' forward filters know berth's bridges by it.
            changes.append(
                FieldChange("bridge.group", desired: .number(Int(NetworkConfig.bridgeGroup)), observed: .number(Int(group)), origin: .drift))
        }
        if let addresses = bridge.addresses {
            let ipv4 = addresses.filter(\.address.isIPv4)
            if Set(ipv4) != [spec.gatewayAddress] {
                let subnetChanged = recorded.map { $0.subnet != spec.subnet } == true || prefixDiffers(ipv4, spec.gatewayAddress)
                changes.append(
                    FieldChange(
                        subnetChanged ? "spec.subnet" : "spec.gateway", desired: list([spec.gatewayAddress]), observed: list(ipv4),
                        origin: origin(recorded?.gatewayAddress != spec.gatewayAddress)))
            }
            let ipv6 = addresses.filter { !$0.address.isIPv4 && !$0.isIPv6LinkLocal }
            let wanted = spec.ipv6GatewayAddress.map { [$0] } ?? []
            if Set(ipv6) != Set(wanted) {
                // The whole `ipv6` block added or removed counts as its subnet.
                let subnetChanged =
                    recorded?.ipv6?.subnet != spec.ipv6?.subnet && recorded != nil
                    || spec.ipv6GatewayAddress.map { prefixDiffers(ipv6, $0) } ?? false
                changes.append(
                    FieldChange(
                        subnetChanged ? "spec.ipv6.subnet" : "spec.ipv6.gateway", desired: list(wanted), observed: list(ipv6),
                        origin: origin(recorded?.ipv6GatewayAddress != spec.ipv6GatewayAddress)))
            }
        }
        let isolated = spec.isolated
        let differing = bridge.ports.filter { $0.value != isolated }.keys.sorted()
        if !differing.isEmpty {
            let observed: FieldValue =
                differing.count == bridge.ports.count
                ? .boolean(!isolated) : .text("\(FieldValue.boolean(!isolated)) on \(differing.joined(separator: ","))")
            changes.append(
                FieldChange("spec.isolated", desired: .boolean(isolated), observed: observed, origin: origin(recorded?.isolated != isolated)))
        }
        return changes
    }

    /// A bridge under another name is a manifest change unless berth's
    /// record already has the manifest's name (then it was renamed behind
    /// berth's back).
    static func bridgeOrigin(_ network: NetworkObject, _ observed: ObservedHost) -> ChangeOrigin {
        observed.recordedNetworks[network.metadata.name] == network.spec.bridge ? .drift : .manifest
    }

    /// Whether the gateway is there, but with another prefix (the subnet
    /// changed behind berth's back).
    static func prefixDiffers(_ addresses: [CIDR], _ gateway: CIDR) -> Bool {
        addresses.contains { $0.address == gateway.address && $0.prefixLength != gateway.prefixLength }
    }

    /// Bridges berth made for a desired network under a name its manifest
    /// no longer gives: deleted after the network's containers moved to the
    /// new one (planned after every container's actions).
    static func oldBridgeActions(_ desired: DesiredHost, _ observed: ObservedHost) -> [Action] {
        desired.networks.flatMap { network -> [Action] in
            let name = network.metadata.name
            let moved = desired.containers.filter { $0.spec.networks.contains { $0.network == name } }.map(\.metadata.name)
            return (observed.oldBridges[name] ?? []).map { old in
                Action(
                    .network(name), .deleteOldBridge(bridge: old, movedContainers: moved),
                    changes: [
                        FieldChange("spec.bridge", desired: .text(network.spec.bridge), observed: .text(old), origin: bridgeOrigin(network, observed))
                    ], reason: .containersMoved(to: network.spec.bridge))
            }
        }
    }
}
