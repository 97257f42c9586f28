/// How a network's containers are joined on the host.
public enum NetworkDriver: String, Hashable, Sendable, Codable, CaseIterable {
    /// A Linux bridge; each container has a veth whose host end is a port.
    case bridge
    /// A macvlan in each container, in bridge mode (private when the
    /// network is isolated), over one end of a veth pair whose other end
    /// holds the gateway: no per-container device on the host, so nothing
    /// on the host grows with the containers (for thousands per network).
    case macvlan
}

extension NetworkDriver {
    /// The kind (IFLA_INFO_KIND) of the host device named `spec.bridge`:
    /// the bridge, or the gateway end of a macvlan network's veth pair.
    public var deviceKind: String { self == .bridge ? "bridge" : "veth" }

    /// The driver whose host device is of `kind` (nil: another kind).
    public init?(deviceKind kind: String?) {
        guard let driver = NetworkDriver.allCases.first(where: { $0.deviceKind == kind }) else { return nil }
        self = driver
    }

    /// The kind of a container's interface on a network of this driver.
    public var interfaceKind: String { self == .bridge ? "veth" : "macvlan" }

    /// Every kind of interface berth attaches in a container's namespace
    /// (and so may detach); a device of another kind moved in stays.
    public static let interfaceKinds: Set<String> = Set(allCases.map(\.interfaceKind))
}

/// A network that containers attach to.
public struct NetworkSpec: Hashable, Sendable, Codable {
    public var placement: Placement?
    /// Default: bridge.
    public var driver: NetworkDriver?
    /// The bridge's interface name (default derived from the network name).
    public var bridge: String?
    public var subnet: CIDR
    /// The bridge's address (default: the first host address of the subnet).
    public var gateway: IPAddress?
    public var ipv6: IPv6Subnet?
    /// Masquerade traffic from the subnet leaving through the host.
    public var nat: Bool?
    /// Block traffic between containers of this network.
    public var isolated: Bool?
    public var mtu: Int?
    public var portForwards: [PortForward]?
    /// Other networks this one may open connections to (replies come back);
    /// every other berth network is out of reach.
    public var reach: [String]?
    public var policy: ObjectPolicy?

    public init(subnet: CIDR) { self.subnet = subnet }
}

public struct IPv6Subnet: Hashable, Sendable, Codable {
    public var subnet: CIDR
    public var gateway: IPAddress?
    public init(subnet: CIDR, gateway: IPAddress? = nil) {
        self.subnet = subnet
        self.gateway = gateway
    }

    /// The gateway in effect: the configured one, or the subnet's first host.
    public var effectiveGateway: IPAddress { gateway ?? subnet.firstHost }
}

/// A host port forwarded to a container's port (DNAT on the host side).
public struct PortForward: Hashable, Sendable, Codable {
    public enum TransportProtocol: String, Hashable, Sendable, Codable, CaseIterable {
        case tcp, udp
    }
    public var `protocol`: TransportProtocol
    public var hostPort: UInt16
    /// Only traffic to this host address (default: any).
    public var hostAddress: IPAddress?
    public var container: String
    /// Default: the same as hostPort.
    public var containerPort: UInt16?

    public init(protocol: TransportProtocol, hostPort: UInt16, hostAddress: IPAddress? = nil, container: String, containerPort: UInt16? = nil) {
        self.protocol = `protocol`
        self.hostPort = hostPort
        self.hostAddress = hostAddress
        self.container = container
        self.containerPort = containerPort
    }
}

extension CIDR {
    /// The first usable host address: network + 1.
    public var firstHost: IPAddress {
        var bytes = network.bytes
        var index = bytes.count - 1
        while index >= 0 {
            if bytes[index] == 0xff {
                bytes[index] = 0
                index -= 1
            } else {
                bytes[index] += 1
                break
            }
        }
        return IPAddress(bytes: bytes) ?? address
    }
}
