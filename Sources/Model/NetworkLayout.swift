/// One interface a container should have inside its network namespace:
/// derived from its attachments and the networks they name. The runtime
/// makes it so; the planner compares it against what the kernel has.
public struct InterfaceLayout: Hashable, Sendable {
    /// The name inside the container (eth0, eth1, ... by default).
    public var interface: String
    public var network: String
    /// Addresses as they go on the interface: an address written without a
    /// prefix takes the network's (its IPv6 subnet's for an IPv6 one inside it).
    public var addresses: [CIDR]
    /// The gateway of the default route when this attachment carries it.
    public var gateway: IPAddress?
    /// The gateway of the IPv6 default route: the network's IPv6 gateway,
    /// when this attachment carries the default route and has an IPv6
    /// address.
    public var gateway6: IPAddress?
}

extension ContainerObject {
    /// The interfaces this container should have, in attachment order.
    /// Attachments naming a network that is not in `networks` are left out.
    public func interfaceLayout(networks: [String: NetworkObject]) -> [InterfaceLayout] {
        var layout: [InterfaceLayout] = []
        for (index, attachment) in (spec.networks ?? []).enumerated() {
            guard let network = networks[attachment.network] else { continue }
            let addresses = attachment.addresses.map { cidr -> CIDR in
                guard cidr.prefixLength == cidr.address.bitWidth else { return cidr }
                if cidr.address.isIPv4 { return CIDR(address: cidr.address, prefixLength: network.spec.subnet.prefixLength) }
                // Without its subnet's prefix an IPv6 address has no route to
                // the network's gateway (the default route is refused).
                guard let subnet = network.spec.ipv6?.subnet, subnet.contains(cidr.address) else { return cidr }
                return CIDR(address: cidr.address, prefixLength: subnet.prefixLength)
            }
            let isDefault = attachment.defaultRoute ?? (index == 0)
            let hasIPv6 = addresses.contains { !$0.address.isIPv4 }
            layout.append(
                InterfaceLayout(
                    interface: attachment.interface ?? "eth\(index)", network: attachment.network, addresses: addresses,
                    gateway: isDefault ? network.spec.gateway : nil,
                    gateway6: isDefault && hasIPv6 ? network.spec.ipv6?.gateway : nil))
        }
        return layout
    }
}

extension ContainerSpec {
    /// Whether the container's namespace needs IPv6 (it is off otherwise).
    public var usesIPv6: Bool {
        (networks ?? []).contains { $0.addresses.contains { !$0.address.isIPv4 } }
    }
}

/// What the kernel has in a running container's network namespace, and
/// whether the host side of each of its veths sits on the right bridge.
public struct NetworkObservation: Hashable, Sendable {
    public struct Interface: Hashable, Sendable {
        public var name: String
        public var kind: String?
        public var up: Bool
        /// Addresses without IPv6 link-local ones (the kernel makes those).
        public var addresses: [CIDR]
        /// The host end exists, is up and is a port of the network's bridge;
        /// with driver macvlan, the interface is a macvlan on the network's
        /// lower end (nil when not checked: no attachment wants this interface).
        public var hostSideAttached: Bool?
        /// A macvlan's isolation: mode private (nil: not a macvlan).
        public var isolated: Bool?
        /// Its MTU (nil: not read).
        public var mtu: Int?
        /// The MTU of its host end (nil: not read, or no host end).
        public var hostMTU: Int?

        public init(
            name: String, kind: String?, up: Bool, addresses: [CIDR], hostSideAttached: Bool? = nil, mtu: Int? = nil, hostMTU: Int? = nil
        ) {
            self.name = name
            self.kind = kind
            self.up = up
            self.addresses = addresses
            self.hostSideAttached = hostSideAttached
            self.mtu = mtu
            self.hostMTU = hostMTU
        }
    }

    /// Every interface but lo.
    public var interfaces: [Interface]
    /// Gateways of the main table's default routes.
    public var defaultGateways: [IPAddress]
    /// Whether IPv6 is on in the namespace (it is set once, at start).
    public var ipv6: Bool

    public init(interfaces: [Interface], defaultGateways: [IPAddress], ipv6: Bool) {
        self.interfaces = interfaces
        self.defaultGateways = defaultGateways
        self.ipv6 = ipv6
    }
}

extension CIDR {
    /// fe80::/10: made by the kernel for every IPv6 interface, never by berth.
    public var isIPv6LinkLocal: Bool {
        let bytes = address.bytes
        return bytes.count == 16 && bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80
    }
}
