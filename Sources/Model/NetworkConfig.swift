/// A network as the planner and the runtime see it: the manifest's
/// `NetworkSpec` with every default applied once, when manifests are
/// resolved (`NetworkSpec.resolved(name:)`), so no later layer asks "unset?"
/// and a record written by an older berth, whose spec left fields out,
/// compares equal to the manifest that made it.
///
/// It is stored and encoded in the manifest's form with every field
/// spelled out (`NetworkSpec(config)`).
public struct NetworkConfig: Hashable, Sendable {
    public var placement: Placement?
    public var driver: NetworkDriver
    /// The bridge's interface name (the manifest's, or derived from the
    /// network's name: `NetworkSpec.defaultBridgeName(for:)`).
    public var bridge: String
    public var subnet: CIDR
    /// The bridge's IPv4 address (the manifest's, or the subnet's first host).
    public var gateway: IPAddress
    public var ipv6: IPv6Config?
    /// Masquerade traffic from the subnet leaving through the host.
    public var nat: Bool
    /// Block traffic between containers of this network.
    public var isolated: Bool
    public var mtu: Int
    /// Each with its container port filled in (the host port when unset).
    public var portForwards: [PortForward]
    /// Other networks this one may open connections to (replies come back).
    public var reach: [String]
    public var drift: DriftPolicy

    public struct IPv6Config: Hashable, Sendable {
        public var subnet: CIDR
        /// The bridge's IPv6 address (the manifest's, or the subnet's first host).
        public var gateway: IPAddress
        public init(subnet: CIDR, gateway: IPAddress) {
            self.subnet = subnet
            self.gateway = gateway
        }
    }

    /// A network with every default: bridge `br-NAME`, gateway the first host.
    public init(name: String, subnet: CIDR) {
        self.driver = .bridge
        self.bridge = NetworkSpec.defaultBridgeName(for: name)
        self.subnet = subnet
        self.gateway = subnet.firstHost
        self.nat = false
        self.isolated = false
        self.mtu = Defaults.bridgeMTU
        self.portForwards = []
        self.reach = []
        self.drift = Defaults.drift
    }

    /// The device group (IFLA_GROUP) of every bridge berth makes: how each
    /// network's forward filter tells berth's bridges from the host's other
    /// interfaces without naming other networks. 0xbe47, shown by `ip -d
    /// link` as group 48711.
    public static let bridgeGroup: UInt32 = 0xbe47

    /// With driver macvlan: the veth end the containers' macvlans sit on,
    /// whose peer, named `bridge`, holds the gateway addresses (a hash of
    /// the bridge's name, at most 15 bytes; never a name
    /// `NetworkAttacher.hostInterfaceName` gives).
    public var macvlanLower: String { "bm" + FNV1a.hex32("macvlan/" + bridge) }

    /// Whether IPv4 forwarding must be on for this network's bridge (NAT or
    /// port forwards); berth turns it on per bridge, never globally.
    public var needsForwarding: Bool { nat || !portForwards.isEmpty }

    /// The bridge's IPv4 address: the gateway with the subnet's prefix.
    public var gatewayAddress: CIDR { CIDR(address: gateway, prefixLength: subnet.prefixLength) }

    /// The bridge's IPv6 address when the network has IPv6.
    public var ipv6GatewayAddress: CIDR? { ipv6.map { CIDR(address: $0.gateway, prefixLength: $0.subnet.prefixLength) } }

    /// Every address the bridge holds (IPv6 link-local ones aside).
    public var bridgeAddresses: [CIDR] { [gatewayAddress] + (ipv6GatewayAddress.map { [$0] } ?? []) }
}

extension NetworkSpec {
    /// `br-NAME` when that fits IFNAMSIZ, else `br-` and a stable hash of
    /// the name.
    public static func defaultBridgeName(for name: String) -> String {
        let readable = "br-" + name
        if readable.utf8.count <= 15 { return readable }
        return "br-" + FNV1a.hex32(name)
    }

    /// This spec with its defaults applied: what the network named `name`
    /// is when the manifest leaves fields out.
    public func resolved(name: String) -> NetworkConfig {
        var config = NetworkConfig(name: name, subnet: subnet)
        config.placement = placement
        config.driver = driver ?? .bridge
        if let bridge { config.bridge = bridge }
        if let gateway { config.gateway = gateway }
        config.ipv6 = ipv6.map { NetworkConfig.IPv6Config(subnet: $0.subnet, gateway: $0.effectiveGateway) }
        config.nat = nat ?? false
        config.isolated = isolated ?? false
        config.mtu = mtu ?? Defaults.bridgeMTU
        config.portForwards = (portForwards ?? []).map { forward in
            var forward = forward
            forward.containerPort = forward.containerPort ?? forward.hostPort
            return forward
        }
        config.reach = reach ?? []
        config.drift = policy?.drift ?? Defaults.drift
        return config
    }

    /// The manifest form of a resolved network, every field spelled out.
    public init(_ config: NetworkConfig) {
        self.init(subnet: config.subnet)
        placement = config.placement
        driver = config.driver
        bridge = config.bridge
        gateway = config.gateway
        ipv6 = config.ipv6.map { IPv6Subnet(subnet: $0.subnet, gateway: $0.gateway) }
        nat = config.nat
        isolated = config.isolated
        mtu = config.mtu
        portForwards = config.portForwards
        reach = config.reach
        policy = ObjectPolicy(drift: config.drift)
    }
}

extension NetworkConfig: Codable {
    /// Reads the manifest form. A stored spec always names its bridge
    /// (`NetworkSpec(config)` writes it); one that does not is refused here,
    /// and `NetworkRecord` fills it from the record's bridge first.
    public init(from decoder: any Decoder) throws {
        let spec = try NetworkSpec(from: decoder)
        guard let bridge = spec.bridge else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "a network config names no bridge"))
        }
        self = spec.resolved(name: bridge)
    }

    public func encode(to encoder: any Encoder) throws {
        try NetworkSpec(self).encode(to: encoder)
    }
}

extension PortForward {
    /// The container's port: the manifest's, or the host port.
    public var effectiveContainerPort: UInt16 { containerPort ?? hostPort }
}
