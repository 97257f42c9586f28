import Kernel
import Logging
import Model
import Netlink

#if canImport(Glibc)
    import Glibc
#endif

/// Bridges on the host side and veth pairs into containers, over rtnetlink.
/// A container's side is created straight in its network namespace (no move,
/// which costs an RCU grace period) and goes away with that namespace.
public struct NetworkAttacher {
    let logger: Logger
    /// Where created bridges are recorded (ownership: only those are deleted).
    var state: StateStore?

    public init(logger: Logger, state: StateStore? = nil) {
        self.logger = logger
        self.state = state
    }

    /// The bridge exists, is up and holds the gateway address. Idempotent.
    public func ensureBridge(_ network: NetworkObject, netlink: RouteNetlink) throws {
        let name = network.bridgeName
        var index = try netlink.links().first(where: { $0.name == name })?.index
        if index == nil {
            try netlink.createBridge(name, mtu: network.spec.mtu.map { UInt32($0) })
            try state?.recordNetwork(network.metadata.name, bridge: name)
            logger.info("bridge created", metadata: ["network": "\(network.metadata.name)", "bridge": "\(name)"])
            index = try netlink.index(of: name)
        }
        let gateway = CIDR(address: network.spec.effectiveGateway, prefixLength: network.spec.subnet.prefixLength)
        if try !netlink.addresses().contains(where: { $0.index == index && $0.cidr == gateway }) {
            try netlink.addAddress(gateway, to: name)
        }
        try netlink.setLink(name, up: true)
    }

    /// Deletes a bridge berth created (its addresses go with it). Idempotent.
    public func deleteBridge(network: String, bridge: String, netlink: RouteNetlink) throws {
        if try netlink.links().contains(where: { $0.name == bridge }) { try netlink.deleteLink(bridge) }
        state?.forgetNetwork(network)
        logger.info("bridge deleted", metadata: ["network": "\(network)", "bridge": "\(bridge)"])
    }

    /// The host-side name of a container's veth: a hash of container and
    /// network (never the container's name itself; at most 15 bytes).
    public static func hostInterfaceName(container: String, network: String) -> String {
        "vb" + FNV1a.hex32("\(container)/\(network)")
    }

    /// Attaches the container whose init is `pid` (waiting, before exec) to
    /// its networks: veth into the bridge, addresses, lo up, default route.
    public func attach(pid: pid_t, container: ContainerObject, networks: [String: NetworkObject]) throws {
        let attachments = container.spec.networks ?? []
        guard !attachments.isEmpty else {
            try inside(pid) { netlink in try netlink.setLink("lo", up: true) }
            return
        }
        let host = try RouteNetlink()
        let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespaceFD) }
        var plans: [(interface: String, addresses: [CIDR], gateway: IPAddress?)] = []
        for (index, attachment) in attachments.enumerated() {
            guard let network = networks[attachment.network] else {
                throw SystemError(call: "attach", errno: ENOENT, subject: "network \(attachment.network)")
            }
            try ensureBridge(network, netlink: host)
            let hostName = NetworkAttacher.hostInterfaceName(container: container.metadata.name, network: network.metadata.name)
            let interface = attachment.interface ?? "eth\(index)"
            if try host.links().contains(where: { $0.name == hostName }) { try host.deleteLink(hostName) }
            try host.createVeth(hostName, peer: interface, peerNamespaceFD: namespaceFD)
            try host.setLink(hostName, up: true, master: network.bridgeName)
            if network.spec.isolated == true { try host.setPortIsolated(hostName, true) }
            let addresses = attachment.addresses.map { cidr in
                cidr.prefixLength == cidr.address.bitWidth && cidr.address.isIPv4
                    ? CIDR(address: cidr.address, prefixLength: network.spec.subnet.prefixLength) : cidr
            }
            let isDefault = attachment.defaultRoute ?? (index == 0)
            plans.append((interface, addresses, isDefault ? network.spec.effectiveGateway : nil))
        }
        try inside(pid) { netlink in
            try netlink.setLink("lo", up: true)
            for plan in plans {
                for address in plan.addresses { try netlink.addAddress(address, to: plan.interface) }
                try netlink.setLink(plan.interface, up: true)
            }
            for plan in plans { if let gateway = plan.gateway { try netlink.addDefaultRoute(via: gateway) } }
        }
        logger.info("networks attached", metadata: ["container": "\(container.metadata.name)", "networks": "\(attachments.map(\.network))"])
    }

    /// Runs `body` with an rtnetlink client inside the network namespace of `pid`.
    func inside(_ pid: pid_t, _ body: (RouteNetlink) throws -> Void) throws {
        let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespaceFD) }
        try body(RouteNetlink(transport: try NetlinkSocket(networkNamespaceFD: namespaceFD)))
    }
}
