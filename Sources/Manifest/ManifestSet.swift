import Model

/// All documents of a run, checked against each other and resolved for one host.
public struct ManifestSet: Sendable {
    public var documents: [ManifestDocument]

    public init(documents: [ManifestDocument]) { self.documents = documents }

    /// Checks names across every document, then selects and resolves the
    /// objects placed on `host`, merging profiles and checking references,
    /// addresses, subnets, bridges and port forwards.
    public func resolve(for host: HostFacts) -> (desired: DesiredHost, errors: [ManifestError]) {
        var errors: [ManifestError] = []
        func fail(_ document: ManifestDocument, _ path: FieldPath, _ message: String, hint: String? = nil) {
            errors.append(ManifestError(location: document.location(of: path), fieldPath: path.description, message: message, hint: hint))
        }
        let namePath = FieldPath.root / "metadata" / "name"

        // Unique names per kind, across all hosts' documents.
        var firstByName: [ObjectKind: [String: ManifestDocument]] = [:]
        for document in documents {
            if let first = firstByName[document.kind]?[document.metadata.name] {
                fail(
                    document, namePath, "\(document.kind.rawValue) '\(document.metadata.name)' is declared twice",
                    hint: "first declared at \(first.location)")
            } else {
                firstByName[document.kind, default: [:]][document.metadata.name] = document
            }
        }

        // Names offered as "did you mean" hints: listed once, in order, not once per error.
        lazy var profileNames = firstByName[.profile].map { $0.keys.sorted() } ?? []
        var profiles: [String: ContainerSpec] = [:]
        for document in documents {
            if case .profile(let spec) = document.object, profiles[document.metadata.name] == nil {
                profiles[document.metadata.name] = spec
            }
        }
        var allNetworks: [String: ManifestDocument] = [:]
        var networks: [(ManifestDocument, NetworkObject)] = []
        var containers: [(ManifestDocument, ManifestObject<ContainerSpec>)] = []
        var selectedNames: Set<String> = []
        // Containers whose profiles did not all resolve: fields they would
        // have supplied are not reported missing a second time.
        var incomplete: Set<String> = []
        for document in documents {
            switch document.object {
            case .profile:
                continue
            case .network(let spec):
                allNetworks[document.metadata.name] = allNetworks[document.metadata.name] ?? document
                if spec.placement?.matches(host) ?? true, selectedNames.insert("network/" + document.metadata.name).inserted {
                    networks.append(
                        (
                            document,
                            NetworkObject(metadata: document.metadata, spec: spec.resolved(name: document.metadata.name), source: document.location)
                        ))
                }
            case .container(let spec):
                guard spec.placement?.matches(host) ?? true,
                    selectedNames.insert("container/" + document.metadata.name).inserted
                else { continue }
                // Merge profiles in order (the host's default first); the
                // container's own values win.
                var merged = ContainerSpec()
                var profilesMissing = false
                let applied = ManifestSet.appliedProfiles(spec.profiles, hostDefault: profiles[Defaults.profileName] != nil)
                for (index, name) in applied {
                    if let profile = profiles[name] {
                        merged = profile.merged(over: merged)
                    } else if let index {
                        profilesMissing = true
                        fail(
                            document, .root / "spec" / "profiles" / index, "unknown profile '\(name)'",
                            hint: Suggest.closest(to: name, in: profileNames).map { "did you mean '\($0)'?" })
                    }
                }
                merged = spec.merged(over: merged)
                // The record and the plan name every profile that was merged.
                if !applied.isEmpty { merged.profiles = applied.map(\.name) }
                if profilesMissing { incomplete.insert(document.metadata.name) }
                containers.append((document, ManifestObject(metadata: document.metadata, spec: merged, source: document.location)))
            }
        }

        let networkByName = Dictionary(networks.map { ($0.1.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        checkNetworks(networks, fail: fail)

        // Per container: required fields after merging, limits, attachments.
        var taken: [String: [IPAddress: (ManifestDocument, FieldPath)]] = [:]
        lazy var networkNames = allNetworks.keys.sorted()
        // The networks each network may reach: placed on this host, itself excluded.
        for (document, network) in networks {
            var listed: Set<String> = []
            for (index, other) in network.spec.reach.enumerated() {
                let path = FieldPath.root / "spec" / "reach" / index
                if other == network.metadata.name {
                    fail(document, path, "a network always reaches its own containers; list other networks only")
                } else if !listed.insert(other).inserted {
                    fail(document, path, "network '\(other)' is listed twice")
                } else if networkByName[other] == nil {
                    if allNetworks[other] != nil {
                        fail(document, path, "network '\(other)' is not placed on host '\(host.name)'")
                    } else {
                        fail(
                            document, path, "unknown network '\(other)'",
                            hint: Suggest.closest(to: other, in: networkNames).map { "did you mean '\($0)'?" })
                    }
                }
            }
        }
        for (document, container) in containers {
            let spec = container.spec
            let specPath = FieldPath.root / "spec"
            if spec.rootfs?.source == nil, !incomplete.contains(container.metadata.name) {
                fail(document, specPath / "rootfs", "required field is missing", hint: "set it here or in one of the container's profiles")
            }
            if let memory = spec.resources?.memory, let high = memory.high, let max = memory.max, high > max {
                fail(document, specPath / "resources" / "memory" / "high", "memory.high (\(high)) is above memory.max (\(max))")
            }
            if let security = spec.security, security.nestedUserNamespaces == false,
                security.seccomp == .unconfined || security.privileged == true
            {
                fail(
                    document, specPath / "security" / "nestedUserNamespaces",
                    "false needs berth's seccomp filter, which \(security.privileged == true ? "privileged: true" : "seccomp: unconfined") turns off",
                    hint: "leave nestedUserNamespaces out")
            }
            if let gid = spec.userNamespace?.gidMap ?? spec.userNamespace?.uidMap, gid.isEmpty {
                fail(document, specPath / "userNamespace", "an id map needs at least one range")
            }
            var interfaces: [String: Int] = [:]
            var attached: [String: Int] = [:]
            var defaultRoutes = 0
            for (index, attachment) in (spec.networks ?? []).enumerated() {
                let path = specPath / "networks" / index
                let interface = attachment.interface ?? "eth\(index)"
                if let other = interfaces[interface] {
                    fail(document, path / "interface", "interface '\(interface)' is already used by networks[\(other)]")
                } else {
                    interfaces[interface] = index
                }
                if attachment.defaultRoute == true { defaultRoutes += 1 }
                if let other = attached[attachment.network] {
                    fail(document, path / "network", "network '\(attachment.network)' is already attached as networks[\(other)]")
                    continue
                }
                attached[attachment.network] = index
                guard let (_, network) = networkByName[attachment.network] else {
                    if allNetworks[attachment.network] != nil {
                        fail(document, path / "network", "network '\(attachment.network)' is not placed on host '\(host.name)'")
                    } else {
                        fail(
                            document, path / "network", "unknown network '\(attachment.network)'",
                            hint: Suggest.closest(to: attachment.network, in: networkNames).map { "did you mean '\($0)'?" })
                    }
                    continue
                }
                for (addressIndex, cidr) in attachment.addresses.enumerated() {
                    let addressPath = path / "addresses" / addressIndex
                    let address = cidr.address
                    let subnet: CIDR
                    let gateway: IPAddress
                    if address.isIPv4 {
                        subnet = network.spec.subnet
                        gateway = network.spec.gateway
                    } else if let ipv6 = network.spec.ipv6 {
                        subnet = ipv6.subnet
                        gateway = ipv6.gateway ?? ipv6.subnet.firstHost
                    } else {
                        fail(document, addressPath, "network '\(network.metadata.name)' has no IPv6 subnet for \(address)")
                        continue
                    }
                    if cidr.prefixLength != address.bitWidth && cidr.prefixLength != subnet.prefixLength {
                        fail(
                            document, addressPath, "prefix /\(cidr.prefixLength) differs from the network's \(subnet)",
                            hint: "write the address alone or with /\(subnet.prefixLength)")
                    }
                    if !subnet.contains(address) {
                        fail(document, addressPath, "address \(address) is not inside network '\(network.metadata.name)' (\(subnet))")
                    } else if address == subnet.network {
                        fail(document, addressPath, "address \(address) is the network address of \(subnet)")
                    } else if address == subnet.broadcast {
                        fail(document, addressPath, "address \(address) is the broadcast address of \(subnet)")
                    } else if address == gateway {
                        fail(document, addressPath, "address \(address) is the gateway of network '\(network.metadata.name)'")
                    } else if let (other, otherPath) = taken[network.metadata.name]?[address] {
                        fail(
                            document, addressPath, "address \(address) is already taken by \(other.metadata.name)",
                            hint: "see \(other.location(of: otherPath))")
                    } else {
                        taken[network.metadata.name, default: [:]][address] = (document, addressPath)
                    }
                }
            }
            if defaultRoutes > 1 {
                fail(document, specPath / "networks", "more than one attachment has defaultRoute: true")
            }
        }

        // Port forwards: the container exists here and is attached to the network.
        // Forwards by "protocol/port@address", and the first by "protocol/port"
        // for a forward on every address, which clashes with any of them.
        var forwarded: [String: (ManifestDocument, FieldPath)] = [:]
        var forwardedOnPort: [String: (ManifestDocument, FieldPath)] = [:]
        let containerByName = Dictionary(containers.map { ($0.1.metadata.name, $0.1) }, uniquingKeysWith: { first, _ in first })
        lazy var containerNames = containerByName.keys.sorted()
        // A container's attachments by network, built for the containers that forwards name.
        var attachmentsOf: [String: [String: NetworkAttachment]] = [:]
        for (document, network) in networks {
            for (index, forward) in network.spec.portForwards.enumerated() {
                let path = FieldPath.root / "spec" / "portForwards" / index
                if let container = containerByName[forward.container] {
                    if attachmentsOf[forward.container] == nil {
                        attachmentsOf[forward.container] = Dictionary(
                            (container.spec.networks ?? []).map { ($0.network, $0) }, uniquingKeysWith: { first, _ in first })
                    }
                    let attachment = attachmentsOf[forward.container]?[network.metadata.name]
                    if attachment == nil {
                        fail(document, path / "container", "container '\(forward.container)' is not attached to network '\(network.metadata.name)'")
                    } else if attachment?.addresses.contains(where: { $0.address.isIPv4 }) != true {
                        fail(
                            document, path / "container", "container '\(forward.container)' has no IPv4 address on network '\(network.metadata.name)'"
                        )
                    }
                } else {
                    fail(
                        document, path / "container", "unknown container '\(forward.container)' on host '\(host.name)'",
                        hint: Suggest.closest(to: forward.container, in: containerNames).map { "did you mean '\($0)'?" })
                }
                let key = "\(forward.protocol.rawValue)/\(forward.hostPort)"
                let keys = forward.hostAddress.map { ["\(key)@\($0)", "\(key)@*"] } ?? [key + "@*"]
                let clash =
                    keys.compactMap { forwarded[$0] }.first
                    ?? (forward.hostAddress == nil ? forwardedOnPort[key] : nil)
                if let (other, otherPath) = clash {
                    fail(
                        document, path / "hostPort", "host port \(key) is already forwarded",
                        hint: "see \(other.location(of: otherPath))")
                } else {
                    forwarded[forward.hostAddress.map { "\(key)@\($0)" } ?? key + "@*"] = (document, path / "hostPort")
                    if forwardedOnPort[key] == nil { forwardedOnPort[key] = (document, path / "hostPort") }
                }
            }
        }

        // Defaults, once: what later layers see has no unset field. A
        // container without a rootfs has its error above and is left out.
        let resolved = containers.compactMap { _, container in
            container.spec.resolved(name: container.metadata.name).map {
                ContainerObject(metadata: container.metadata, spec: $0, source: container.source)
            }
        }
        let desired = DesiredHost(host: host, networks: networks.map(\.1), containers: resolved)
        return (desired, errors.sorted())
    }

    /// The profiles merged into a container, in order, each with its index in
    /// the container's own `spec.profiles` (nil for the host's default).
    /// The Profile named `default`, when the manifests define one, comes
    /// first for every container (OpenVZ's default container config), unless
    /// the container lists it itself (it is then merged where it is listed)
    /// or opts out with an explicitly empty `profiles: []`.
    public static func appliedProfiles(_ listed: [String]?, hostDefault: Bool) -> [(index: Int?, name: String)] {
        let own = (listed ?? []).enumerated().map { (index: Optional($0.offset), name: $0.element) }
        guard hostDefault, listed != [], !own.contains(where: { $0.name == Defaults.profileName }) else { return own }
        return [(nil, Defaults.profileName)] + own
    }

    /// Subnet overlaps and bridge clashes, each network reported at most once.
    /// Near-linear: a dictionary for bridges, a sort-and-sweep for subnets.
    private func checkNetworks(
        _ networks: [(ManifestDocument, NetworkObject)], fail: (ManifestDocument, FieldPath, String, String?) -> Void
    ) {
        var bridges: [String: String] = [:]
        for (document, network) in networks {
            if let other = bridges[network.spec.bridge] {
                fail(document, .root / "spec" / "bridge", "bridge '\(network.spec.bridge)' is also used by network '\(other)'", nil)
            } else {
                bridges[network.spec.bridge] = network.metadata.name
            }
        }
        for ipv4 in [true, false] {
            let subnetPath: FieldPath = ipv4 ? .root / "spec" / "subnet" : .root / "spec" / "ipv6" / "subnet"
            var ranges: [(start: [UInt8], end: [UInt8], subnet: CIDR, index: Int)] = []
            for (index, entry) in networks.enumerated() {
                guard let subnet = ipv4 ? entry.1.spec.subnet : entry.1.spec.ipv6?.subnet else { continue }
                ranges.append((subnet.network.bytes, subnet.lastAddressBytes, subnet, index))
            }
            ranges.sort { $0.start.lexicographicallyPrecedes($1.start) || ($0.start == $1.start && $0.index < $1.index) }
            var widest: (end: [UInt8], subnet: CIDR, index: Int)?
            for range in ranges {
                guard let current = widest, !current.end.lexicographicallyPrecedes(range.start) else {
                    widest = (range.end, range.subnet, range.index)
                    continue
                }
                let (first, second) = current.index < range.index ? (current.index, range.index) : (range.index, current.index)
                let (document, network) = networks[second]
                let (otherDocument, other) = networks[first]
                fail(
                    document, subnetPath,
                    "subnet \(Self.subnet(of: network, ipv4: ipv4)) overlaps network '\(other.metadata.name)' (\(Self.subnet(of: other, ipv4: ipv4)))",
                    "see \(otherDocument.location(of: subnetPath))")
                if current.end.lexicographicallyPrecedes(range.end) { widest = (range.end, range.subnet, range.index) }
            }
        }
    }

    private static func subnet(of network: NetworkObject, ipv4: Bool) -> String {
        ipv4 ? network.spec.subnet.description : network.spec.ipv6?.subnet.description ?? "-"
    }
}
