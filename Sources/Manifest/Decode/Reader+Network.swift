import Model

extension Reader {
    static let networkFields = [
        "placement", "driver", "bridge", "subnet", "gateway", "ipv6", "nat", "isolated", "mtu", "portForwards", "reach", "policy",
    ]

    mutating func networkSpec(_ node: Node, _ path: FieldPath) -> NetworkSpec? {
        let errorsBefore = errorMark
        guard let f = mapping(node, path, fields: Reader.networkFields) else { return nil }
        let subnet = f.required("subnet", &self).flatMap { readSubnet($0, path / "subnet", v4: true) }
        let placement = f.read("placement", &self) { $0.placement($1, $2) }
        let driver = f.read("driver", &self) { $0.enumeration($1, $2, NetworkDriver.self) }
        let bridge = f.read("bridge", &self) { $0.checked($1, $2, Names.checkInterfaceName) }
        let gateway = f.read("gateway", &self) { $0.parsed($1, $2, IPAddress.init(parsing:)) }
        let ipv6 = f.read("ipv6", &self) { reader, node, path -> IPv6Subnet? in
            guard let f = reader.mapping(node, path, fields: ["subnet", "gateway"]) else { return nil }
            let subnet = f.required("subnet", &reader).flatMap { reader.readSubnet($0, path / "subnet", v4: false) }
            let gateway = f.read("gateway", &reader) { $0.parsed($1, $2, IPAddress.init(parsing:)) }
            guard let subnet else { return nil }
            if let gateway, let gatewayNode = f["gateway"], !subnet.contains(gateway) {
                reader.error(gatewayNode, path / "gateway", "gateway \(gateway) is not inside subnet \(subnet)")
            }
            return IPv6Subnet(subnet: subnet, gateway: gateway)
        }
        let nat = f.read("nat", &self) { $0.bool($1, $2) }
        let isolated = f.read("isolated", &self) { $0.bool($1, $2) }
        let mtu = f.read("mtu", &self) { $0.integer($1, $2, in: 68...65535).map(Int.init) }
        let portForwards = f.read("portForwards", &self) { reader, node, path in
            reader.list(node, path) { $0.portForward($1, $2) }
        }
        let reach = f.read("reach", &self) { reader, node, path in
            reader.list(node, path) { $0.checked($1, $2, Names.checkDNSLabel) }
        }
        let policy = f.read("policy", &self) { $0.objectPolicy($1, $2) }
        guard let subnet else { return nil }
        if let gateway, let gatewayNode = f["gateway"] {
            checkHostAddress(gateway, in: subnet, node: gatewayNode, path: path / "gateway", what: "gateway")
        }
        var spec = NetworkSpec(subnet: subnet)
        spec.placement = placement
        spec.driver = driver
        spec.bridge = bridge
        spec.gateway = gateway
        spec.ipv6 = ipv6
        spec.nat = nat
        spec.isolated = isolated
        spec.mtu = mtu
        spec.portForwards = portForwards
        spec.reach = reach
        spec.policy = policy
        return errorMark == errorsBefore ? spec : nil
    }

    /// A subnet: a CIDR of the right family whose host bits are clear.
    mutating func readSubnet(_ node: Node, _ path: FieldPath, v4: Bool) -> CIDR? {
        guard let cidr = parsed(node, path, { (text: String) throws(ValueError) in try CIDR(parsing: text) }) else { return nil }
        if cidr.address.isIPv4 != v4 {
            error(node, path, "expected an \(v4 ? "IPv4" : "IPv6") subnet, got \(cidr)")
            return nil
        }
        if !cidr.isNetworkAddress {
            error(node, path, "\(cidr) has host bits set", hint: "the network address is \(cidr.network)/\(cidr.prefixLength)")
            return nil
        }
        if v4 && cidr.prefixLength > 30 {
            error(node, path, "an IPv4 subnet needs a prefix of /30 or shorter to hold a gateway and a container")
            return nil
        }
        if let problem = ReservedRanges.problem(cidr) {
            error(
                node, path, problem,
                hint: v4 ? "choose a private range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16" : "choose a unique local range: fd00::/8")
            return nil
        }
        return cidr
    }

    /// An address usable by a host in `subnet`: inside it, and neither the
    /// network nor the broadcast address.
    mutating func checkHostAddress(_ address: IPAddress, in subnet: CIDR, node: Node, path: FieldPath, what: String) {
        if !subnet.contains(address) {
            error(node, path, "\(what) \(address) is not inside subnet \(subnet)")
        } else if address == subnet.network {
            error(node, path, "\(what) \(address) is the subnet's network address")
        } else if address == subnet.broadcast {
            error(node, path, "\(what) \(address) is the subnet's broadcast address")
        }
    }

    mutating func portForward(_ node: Node, _ path: FieldPath) -> PortForward? {
        guard let f = mapping(node, path, fields: ["protocol", "hostPort", "hostAddress", "container", "containerPort"]) else {
            return nil
        }
        let proto = f.read("protocol", &self) { $0.enumeration($1, $2, PortForward.TransportProtocol.self) } ?? .tcp
        let hostPort = f.required("hostPort", &self).flatMap { port($0, path / "hostPort") }
        let hostAddress = f.read("hostAddress", &self) { $0.parsed($1, $2, IPAddress.init(parsing:)) }
        let container = f.required("container", &self).flatMap { checked($0, path / "container", Names.checkDNSLabel) }
        let containerPort = f.read("containerPort", &self) { $0.port($1, $2) }
        guard let hostPort, let container else { return nil }
        return PortForward(protocol: proto, hostPort: hostPort, hostAddress: hostAddress, container: container, containerPort: containerPort)
    }
}
