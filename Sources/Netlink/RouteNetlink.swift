import Kernel
import Model

/// The transport under the rtnetlink client: the kernel's socket, or a fake
/// in tests.
public protocol NetlinkTransport: AnyObject {
    func send(_ bytes: [UInt8]) throws
    func receive() throws -> [UInt8]
}

extension NetlinkSocket: NetlinkTransport {
    public func send(_ bytes: [UInt8]) throws { try sendDatagram(bytes) }
    public func receive() throws -> [UInt8] { try receiveDatagram() }
}

/// A kernel answer that said no, with the operation that asked.
public struct NetlinkError: Error, Equatable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32
    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }
    public var description: String { "\(operation): \(SystemError(call: "netlink", errno: errno).description.dropFirst("netlink: ".count))" }
}

/// A link as a dump reports it.
public struct Link: Equatable, Sendable {
    public var index: Int32
    public var name: String
    public var flags: UInt32
    public var mtu: UInt32?
    public var master: Int32?
    public var kind: String?
    /// The hardware address (IFLA_ADDRESS).
    public var mac: [UInt8]?
    /// The interface alias (IFLA_IFALIAS): berth marks the bridges it owns.
    public var alias: String?
    /// The device group (IFLA_GROUP; 0 is the default group).
    public var group: UInt32?
    /// The link it is bound to (IFLA_LINK: a veth's peer, a macvlan's
    /// lower device; an index in the namespace IFLA_LINK_NETNSID names
    /// when the two are in different namespaces).
    public var parent: Int32?
    /// A macvlan's mode (IFLA_MACVLAN_MODE: Netlink.MACVLAN_MODE_*).
    public var macvlanMode: UInt32?
    /// Its counters (IFLA_STATS64; nil: the kernel sent none).
    public var statistics: LinkStatistics?
    /// A bridge port (IFLA_INFO_SLAVE_KIND "bridge"): whether it is
    /// isolated (IFLA_BRPORT_ISOLATED in IFLA_INFO_SLAVE_DATA; nil: the
    /// kernel did not say). Nil for any other link.
    public var bridgePort: BridgePortFlags?
    public var isUp: Bool { flags & Netlink.IFF_UP != 0 }
}

/// What a link dump says of a bridge port (Link.bridgePort).
public struct BridgePortFlags: Equatable, Sendable {
    public var isolated: Bool?
    public init(isolated: Bool? = nil) { self.isolated = isolated }

    /// From a port's IFLA_BRPORT_* attributes: IFLA_PROTINFO of an
    /// AF_BRIDGE dump, or IFLA_INFO_SLAVE_DATA of a link dump (the kernel
    /// fills both from br_port_fill_attrs); nil `nest`: none said.
    init(portAttributes nest: Attribute?) {
        let flag = nest.flatMap { Attribute.decode($0.value[...])?.first { $0.type == Netlink.IFLA_BRPORT_ISOLATED } }
        isolated = flag?.value.first.map { $0 != 0 }
    }
}

extension BridgePort {
    /// The bridge ports of a link dump: the same as the AF_BRIDGE dump
    /// (`RouteNetlink.bridgePorts`) says, without a second dump (the kernel
    /// fills a port's attributes into both from br_port_fill_attrs).
    public static func ports(of links: [Link], master: Int32? = nil) -> [BridgePort] {
        links.compactMap { link in
            guard let flags = link.bridgePort, let owner = link.master, owner != link.index, master == nil || owner == master else { return nil }
            return BridgePort(index: link.index, name: link.name, master: owner, isolated: flags.isolated, mtu: link.mtu)
        }
    }
}

/// The first counters of struct rtnl_link_stats64, as the kernel counts them.
public struct LinkStatistics: Equatable, Sendable {
    public var receivePackets: UInt64
    public var transmitPackets: UInt64
    public var receiveBytes: UInt64
    public var transmitBytes: UInt64
    public var receiveErrors: UInt64
    public var transmitErrors: UInt64
    public var receiveDropped: UInt64
    public var transmitDropped: UInt64

    /// From IFLA_STATS64's payload (nil: shorter than these eight counters).
    public init?(stats64 value: [UInt8]) {
        var counters: [UInt64] = []
        for index in 0..<8 {
            guard let counter = value.readLittleEndian(UInt64.self, at: index * 8) else { return nil }
            counters.append(counter)
        }
        receivePackets = counters[0]
        transmitPackets = counters[1]
        receiveBytes = counters[2]
        transmitBytes = counters[3]
        receiveErrors = counters[4]
        transmitErrors = counters[5]
        receiveDropped = counters[6]
        transmitDropped = counters[7]
    }
}

/// A port of a bridge as an AF_BRIDGE dump reports it, or as a link dump
/// does (BridgePort.ports(of:)).
public struct BridgePort: Equatable, Sendable {
    public var index: Int32
    public var name: String
    /// The bridge it is a port of (IFLA_MASTER).
    public var master: Int32?
    /// IFLA_BRPORT_ISOLATED (nil: the kernel did not say).
    public var isolated: Bool?
    /// Its MTU (IFLA_MTU; nil: the kernel did not say).
    public var mtu: UInt32?
}

/// A route as a dump reports it.
public struct Route: Equatable, Sendable {
    public var family: UInt8
    public var destinationLength: UInt8
    public var table: UInt32
    public var gateway: IPAddress?
    public var outputIndex: Int32?
    /// RTA_DST (nil for a default route).
    public var destination: IPAddress?
}

/// A small rtnetlink client: links (bridge, veth), addresses, routes. Every
/// request carries a sequence number and asks for an ACK; a kernel error
/// comes back as a NetlinkError naming the operation.
public final class RouteNetlink {
    let transport: NetlinkTransport
    private var sequence: UInt32 = 1

    public init(transport: NetlinkTransport) { self.transport = transport }

    /// A client in the network namespace of process `pid` (entered through
    /// a pidfd, else its /proc/PID/ns/net: NetlinkSocket(networkNamespaceOf:)):
    /// a container's, seen from the host.
    public static func inNamespace(ofProcess pid: Int32) throws -> RouteNetlink {
        RouteNetlink(transport: try NetlinkSocket(networkNamespaceOf: pid))
    }

    public convenience init() throws { self.init(transport: try NetlinkSocket()) }

    // MARK: Requests

    /// RTM_NEWLINK for a bridge; `mac` is its address from the start (the
    /// kernel then keeps it, instead of taking the lowest of its ports'
    /// addresses, which it recomputes as each port joins or leaves), and
    /// `multicastSnooping` false turns IGMP/MLD snooping off
    /// (IFLA_BR_MCAST_SNOOPING).
    public static func newBridge(_ name: String, mtu: UInt32? = nil, mac: [UInt8]? = nil, multicastSnooping: Bool? = nil)
        -> (UInt16, UInt16, [UInt8])
    {
        var attributes: [Attribute] = [.string(Netlink.IFLA_IFNAME, name)]
        if let mtu { attributes.append(.u32(Netlink.IFLA_MTU, mtu)) }
        if let mac { attributes.append(Attribute(Netlink.IFLA_ADDRESS, mac)) }
        var info: [Attribute] = [.string(Netlink.IFLA_INFO_KIND, "bridge")]
        if let multicastSnooping { info.append(.nested(Netlink.IFLA_INFO_DATA, [.u8(Netlink.IFLA_BR_MCAST_SNOOPING, multicastSnooping ? 1 : 0)])) }
        attributes.append(.nested(Netlink.IFLA_LINKINFO, info))
        return (
            Netlink.RTM_NEWLINK, Netlink.NLM_F_CREATE | Netlink.NLM_F_EXCL,
            InterfaceInfo().encoded() + Attribute.encode(attributes)
        )
    }

    /// RTM_NEWLINK for a veth pair; the peer is created directly in the
    /// network namespace `peerNamespaceFD` when given (no later move, which
    /// costs an RCU grace period). `mtu` goes on both ends in the same
    /// request (IFLA_MTU on the link and in the peer's own attributes).
    /// `master`: the host end is made a port of that bridge in the same
    /// request (the kernel sets IFLA_MASTER on a link it creates).
    public static func newVeth(
        _ name: String, peer: String, peerNamespaceFD: Int32? = nil, mtu: UInt32? = nil, master: Int32? = nil, peerMAC: [UInt8]? = nil
    ) -> (UInt16, UInt16, [UInt8]) {
        var peerAttributes: [Attribute] = [.string(Netlink.IFLA_IFNAME, peer)]
        if let mtu { peerAttributes.append(.u32(Netlink.IFLA_MTU, mtu)) }
        if let peerMAC { peerAttributes.append(Attribute(Netlink.IFLA_ADDRESS, peerMAC)) }
        if let peerNamespaceFD { peerAttributes.append(.u32(Netlink.IFLA_NET_NS_FD, UInt32(bitPattern: peerNamespaceFD))) }
        let peerInfo = Attribute(Netlink.VETH_INFO_PEER, InterfaceInfo().encoded() + Attribute.encode(peerAttributes))
        var attributes: [Attribute] = [.string(Netlink.IFLA_IFNAME, name)]
        if let mtu { attributes.append(.u32(Netlink.IFLA_MTU, mtu)) }
        if let master { attributes.append(.u32(Netlink.IFLA_MASTER, UInt32(bitPattern: master))) }
        attributes.append(
            .nested(
                Netlink.IFLA_LINKINFO,
                [.string(Netlink.IFLA_INFO_KIND, "veth"), .nested(Netlink.IFLA_INFO_DATA, [peerInfo])]))
        return (
            Netlink.RTM_NEWLINK, Netlink.NLM_F_CREATE | Netlink.NLM_F_EXCL,
            InterfaceInfo().encoded() + Attribute.encode(attributes)
        )
    }

    /// RTM_NEWLINK for a macvlan on the link `lower` (an index in the
    /// requesting socket's namespace), made straight in the network
    /// namespace `namespaceFD` when given, in `mode` (Netlink.MACVLAN_MODE_*).
    public static func newMacvlan(_ name: String, lower: Int32, namespaceFD: Int32? = nil, mtu: UInt32? = nil, mode: UInt32)
        -> (UInt16, UInt16, [UInt8])
    {
        var attributes: [Attribute] = [.string(Netlink.IFLA_IFNAME, name), .u32(Netlink.IFLA_LINK, UInt32(bitPattern: lower))]
        if let mtu { attributes.append(.u32(Netlink.IFLA_MTU, mtu)) }
        if let namespaceFD { attributes.append(.u32(Netlink.IFLA_NET_NS_FD, UInt32(bitPattern: namespaceFD))) }
        attributes.append(
            .nested(
                Netlink.IFLA_LINKINFO,
                [.string(Netlink.IFLA_INFO_KIND, "macvlan"), .nested(Netlink.IFLA_INFO_DATA, [.u32(Netlink.IFLA_MACVLAN_MODE, mode)])]))
        return (
            Netlink.RTM_NEWLINK, Netlink.NLM_F_CREATE | Netlink.NLM_F_EXCL,
            InterfaceInfo().encoded() + Attribute.encode(attributes)
        )
    }

    /// RTM_NEWLINK on an existing macvlan named `name`: its mode.
    public static func setMacvlanMode(named name: String, _ mode: UInt32) -> (UInt16, UInt16, [UInt8]) {
        let attributes: [Attribute] = [
            .string(Netlink.IFLA_IFNAME, name),
            .nested(
                Netlink.IFLA_LINKINFO,
                [.string(Netlink.IFLA_INFO_KIND, "macvlan"), .nested(Netlink.IFLA_INFO_DATA, [.u32(Netlink.IFLA_MACVLAN_MODE, mode)])]),
        ]
        return (Netlink.RTM_NEWLINK, 0, InterfaceInfo().encoded() + Attribute.encode(attributes))
    }

    /// RTM_NEWLINK on an existing link: up/down, bridge master, MTU, MAC,
    /// a new name, or a move into the network namespace `namespaceFD`.
    public static func setLink(
        index: Int32, up: Bool? = nil, master: Int32? = nil, mtu: UInt32? = nil, mac: [UInt8]? = nil, rename: String? = nil,
        namespaceFD: Int32? = nil, alias: String? = nil, group: UInt32? = nil
    ) -> (UInt16, UInt16, [UInt8]) {
        var info = InterfaceInfo(index: index)
        if let up {
            info.flags = up ? Netlink.IFF_UP : 0
            info.change = Netlink.IFF_UP
        }
        var attributes: [Attribute] = []
        if let rename { attributes.append(.string(Netlink.IFLA_IFNAME, rename)) }
        if let master { attributes.append(.u32(Netlink.IFLA_MASTER, UInt32(bitPattern: master))) }
        if let mtu { attributes.append(.u32(Netlink.IFLA_MTU, mtu)) }
        if let mac { attributes.append(Attribute(Netlink.IFLA_ADDRESS, mac)) }
        if let namespaceFD { attributes.append(.u32(Netlink.IFLA_NET_NS_FD, UInt32(bitPattern: namespaceFD))) }
        if let alias { attributes.append(.string(Netlink.IFLA_IFALIAS, alias)) }
        if let group { attributes.append(.u32(Netlink.IFLA_GROUP, group)) }
        return (Netlink.RTM_NEWLINK, 0, info.encoded() + Attribute.encode(attributes))
    }

    /// RTM_NEWLINK on an existing link named `name` (the kernel finds it by
    /// name: no get for its index first): up/down, bridge master and device
    /// group (with the name, IFLA_GROUP changes this link only).
    public static func setLink(named name: String, up: Bool? = nil, master: Int32? = nil, group: UInt32? = nil) -> (
        UInt16, UInt16, [UInt8]
    ) {
        var info = InterfaceInfo()
        if let up {
            info.flags = up ? Netlink.IFF_UP : 0
            info.change = Netlink.IFF_UP
        }
        var attributes: [Attribute] = [.string(Netlink.IFLA_IFNAME, name)]
        if let master { attributes.append(.u32(Netlink.IFLA_MASTER, UInt32(bitPattern: master))) }
        if let group { attributes.append(.u32(Netlink.IFLA_GROUP, group)) }
        return (Netlink.RTM_NEWLINK, 0, info.encoded() + Attribute.encode(attributes))
    }

    /// RTM_SETLINK (AF_BRIDGE) of a bridge port's isolation flag: isolated
    /// ports reach the bridge but not each other.
    public static func setPortIsolated(index: Int32, _ isolated: Bool) -> (UInt16, UInt16, [UInt8]) {
        var info = InterfaceInfo(index: index)
        info.family = Netlink.AF_BRIDGE
        let attributes: [Attribute] = [.nested(Netlink.IFLA_PROTINFO, [.u8(Netlink.IFLA_BRPORT_ISOLATED, isolated ? 1 : 0)])]
        return (Netlink.RTM_SETLINK, 0, info.encoded() + Attribute.encode(attributes))
    }

    /// RTM_NEWLINK that stops IPv6 address generation on a link (no
    /// link-local address, so no DAD, MLD or router solicitations on it):
    /// for bridge ports, which need no address. Sent while the link is down.
    public static func disableIPv6Addresses(index: Int32) -> (UInt16, UInt16, [UInt8]) {
        let inet6: [Attribute] = [.u8(Netlink.IFLA_INET6_ADDR_GEN_MODE, Netlink.IN6_ADDR_GEN_MODE_NONE)]
        let attributes: [Attribute] = [.nested(Netlink.IFLA_AF_SPEC, [.nested(UInt16(Netlink.AF_INET6), inet6)])]
        return (Netlink.RTM_NEWLINK, 0, InterfaceInfo(index: index).encoded() + Attribute.encode(attributes))
    }

    /// RTM_NEWLINK by name that turns `arp_notify` on for a link
    /// (`net.ipv4.conf.NAME.arp_notify = 1`, through IFLA_AF_SPEC): when it
    /// comes up, or its address changes, it sends a gratuitous ARP for each
    /// of its IPv4 addresses, so neighbours that knew an address with
    /// another MAC (a container started again, with a new macvlan) update
    /// their entry at once instead of sending to the old MAC until theirs
    /// goes stale. Sent before the link is up. (A veth's container end has
    /// the same MAC at every start, and its host end is still down when it
    /// comes up: its announcement would go nowhere.)
    public static func announceAddresses(named name: String) -> (UInt16, UInt16, [UInt8]) {
        let conf: [Attribute] = [.u32(Netlink.IPV4_DEVCONF_ARP_NOTIFY, 1)]
        let attributes: [Attribute] = [
            .string(Netlink.IFLA_IFNAME, name),
            .nested(Netlink.IFLA_AF_SPEC, [.nested(UInt16(Netlink.AF_INET), [.nested(Netlink.IFLA_INET_CONF, conf)])]),
        ]
        return (Netlink.RTM_NEWLINK, 0, InterfaceInfo().encoded() + Attribute.encode(attributes))
    }

    /// RTM_GETLINK dump in the AF_BRIDGE family: one answer per bridge port
    /// (and per bridge), ports carrying their flags in IFLA_PROTINFO. With
    /// strict checking the header must be all zero but for the family.
    public static func getBridgePorts() -> (UInt16, UInt16, [UInt8]) {
        var info = InterfaceInfo()
        info.family = Netlink.AF_BRIDGE
        return (Netlink.RTM_GETLINK, Netlink.NLM_F_DUMP, info.encoded())
    }

    public static func deleteLink(index: Int32) -> (UInt16, UInt16, [UInt8]) {
        (Netlink.RTM_DELLINK, 0, InterfaceInfo(index: index).encoded())
    }

    /// RTM_DELLINK of every link of the device group `group` in the
    /// socket's namespace, in one request: the kernel unregisters them in
    /// one batch (one RCU barrier, not one per link). Never group 0, the
    /// default group of every link.
    public static func deleteLinks(group: UInt32) -> (UInt16, UInt16, [UInt8])? {
        guard group != 0 else { return nil }
        return (Netlink.RTM_DELLINK, 0, InterfaceInfo().encoded() + Attribute.encode([.u32(Netlink.IFLA_GROUP, group)]))
    }

    /// RTM_NEWADDR: the address with its prefix (and the IPv4 broadcast).
    public static func newAddress(index: Int32, _ cidr: CIDR) -> (UInt16, UInt16, [UInt8]) {
        let family = cidr.address.isIPv4 ? Netlink.AF_INET : Netlink.AF_INET6
        var attributes: [Attribute] = [Attribute(Netlink.IFA_LOCAL, cidr.address.bytes), Attribute(Netlink.IFA_ADDRESS, cidr.address.bytes)]
        if let broadcast = cidr.broadcast { attributes.append(Attribute(Netlink.IFA_BROADCAST, broadcast.bytes)) }
        let header = AddressInfo(family: family, prefixLength: UInt8(cidr.prefixLength), index: UInt32(bitPattern: index))
        return (Netlink.RTM_NEWADDR, Netlink.NLM_F_CREATE | Netlink.NLM_F_EXCL, header.encoded() + Attribute.encode(attributes))
    }

    /// RTM_DELADDR: the same body as RTM_NEWADDR.
    public static func deleteAddress(index: Int32, _ cidr: CIDR) -> (UInt16, UInt16, [UInt8]) {
        (Netlink.RTM_DELADDR, 0, newAddress(index: index, cidr).2)
    }

    /// RTM_GETLINK of one link by name (a get, not a dump: one answer
    /// however many links the host has).
    public static func getLink(_ name: String) -> (UInt16, UInt16, [UInt8]) {
        (Netlink.RTM_GETLINK, 0, InterfaceInfo().encoded() + Attribute.encode([.string(Netlink.IFLA_IFNAME, name)]))
    }

    /// RTM_GETLINK of one link by its index (no attributes).
    public static func getLink(index: Int32) -> (UInt16, UInt16, [UInt8]) {
        (Netlink.RTM_GETLINK, 0, InterfaceInfo(index: index).encoded())
    }

    /// RTM_NEWROUTE: the default route via `gateway` (main table, static,
    /// universe scope); `replace` swaps an existing default route.
    public static func newDefaultRoute(via gateway: IPAddress, replace: Bool = false) -> (UInt16, UInt16, [UInt8]) {
        let family = gateway.isIPv4 ? Netlink.AF_INET : Netlink.AF_INET6
        // struct rtmsg: family, dst_len, src_len, tos, table (254 main), protocol (4 static), scope (0), type (1 unicast), flags.
        var header: [UInt8] = [family, 0, 0, 0, Netlink.RT_TABLE_MAIN, 4, 0, 1]
        header.appendLittleEndian(UInt32(0))
        return (
            Netlink.RTM_NEWROUTE, Netlink.NLM_F_CREATE | (replace ? Netlink.NLM_F_REPLACE : Netlink.NLM_F_EXCL),
            header + Attribute.encode([Attribute(Netlink.RTA_GATEWAY, gateway.bytes)])
        )
    }

    /// RTM_DELROUTE of the default route of one family (main table).
    public static func deleteDefaultRoute(family: UInt8) -> (UInt16, UInt16, [UInt8]) {
        // Scope "nowhere" (255) matches a route of any scope, as iproute2 sends.
        var header: [UInt8] = [family, 0, 0, 0, Netlink.RT_TABLE_MAIN, 0, 255, 0]
        header.appendLittleEndian(UInt32(0))
        return (Netlink.RTM_DELROUTE, 0, header)
    }

    // MARK: Operations

    /// Creates a bridge; `group` puts it in a device group, in a second
    /// request (an IFLA_GROUP beside no name would change every link of a
    /// group). Its owner's mark is `setAlias`'s, after it.
    public func createBridge(
        _ name: String, mtu: UInt32? = nil, mac: [UInt8]? = nil, multicastSnooping: Bool? = nil, group: UInt32? = nil
    ) throws {
        try request(
            RouteNetlink.newBridge(name, mtu: mtu, mac: mac, multicastSnooping: multicastSnooping), operation: "create bridge \(name)")
        if let group { try setGroup(name, group) }
    }

    /// Sets a link's up flag and bridge master by its name (one request,
    /// no get of its index).
    public func setLink(named name: String, up: Bool? = nil, master: Int32? = nil) throws {
        try request(RouteNetlink.setLink(named: name, up: up, master: master), operation: "set link \(name)")
    }

    /// Sets a link's alias (IFLA_IFALIAS, which the kernel takes only on an
    /// existing link), and its device group when given.
    public func setAlias(_ name: String, _ alias: String, group: UInt32? = nil) throws {
        try request(RouteNetlink.setLink(index: try index(of: name), alias: alias, group: group), operation: "set alias of \(name)")
    }

    /// Deletes every link of the device group `group` (not 0) at once.
    public func deleteLinks(group: UInt32) throws {
        guard let request = RouteNetlink.deleteLinks(group: group) else {
            throw NetlinkError(operation: "delete links of group 0", errno: 22)  // EINVAL
        }
        try self.request(request, operation: "delete links of group \(group)")
    }

    /// Puts a link in a device group.
    public func setGroup(_ name: String, _ group: UInt32) throws {
        try request(RouteNetlink.setLink(index: try index(of: name), group: group), operation: "set group of \(name)")
    }

    /// `arp_notify` on for the link `name` (announceAddresses).
    public func announceAddresses(_ name: String) throws {
        try request(RouteNetlink.announceAddresses(named: name), operation: "set arp_notify on \(name)")
    }

    public func setMacvlanMode(_ name: String, _ mode: UInt32) throws {
        try request(RouteNetlink.setMacvlanMode(named: name, mode), operation: "set mode of macvlan \(name)")
    }

    public func createMacvlan(_ name: String, lower: Int32, namespaceFD: Int32? = nil, mtu: UInt32? = nil, mode: UInt32) throws {
        try request(
            RouteNetlink.newMacvlan(name, lower: lower, namespaceFD: namespaceFD, mtu: mtu, mode: mode), operation: "create macvlan \(name)")
    }

    public func createVeth(
        _ name: String, peer: String, peerNamespaceFD: Int32? = nil, mtu: UInt32? = nil, master: Int32? = nil, peerMAC: [UInt8]? = nil
    ) throws {
        try request(
            RouteNetlink.newVeth(name, peer: peer, peerNamespaceFD: peerNamespaceFD, mtu: mtu, master: master, peerMAC: peerMAC),
            operation: "create veth \(name)")
    }

    /// Sends `requests` in one datagram (carried out one after another,
    /// each whatever the one before it answered) and throws the first
    /// one's error that failed, naming its operation.
    public func requestInOrder(_ requests: [(request: (UInt16, UInt16, [UInt8]), operation: String)]) throws {
        let answers = try requestAll(requests.map(\.request), operation: requests.first?.operation ?? "requests")
        for (answer, request) in zip(answers, requests) where answer != 0 {
            throw NetlinkError(operation: request.operation, errno: answer)
        }
    }

    public func setLink(
        _ name: String, up: Bool? = nil, master: String? = nil, mtu: UInt32? = nil, mac: [UInt8]? = nil, rename: String? = nil,
        alias: String? = nil, group: UInt32? = nil
    ) throws {
        let index = try index(of: name)
        let masterIndex = try master.map { try self.index(of: $0) }
        try request(
            RouteNetlink.setLink(index: index, up: up, master: masterIndex, mtu: mtu, mac: mac, rename: rename, alias: alias, group: group),
            operation: "set link \(name)")
    }

    /// Moves a link into another network namespace (an RCU grace period,
    /// ~15 ms: berth creates veth peers in place instead; this is for
    /// devices handed to a container).
    public func moveLink(_ name: String, toNamespaceFD namespaceFD: Int32, rename: String? = nil) throws {
        try request(
            RouteNetlink.setLink(index: try index(of: name), rename: rename, namespaceFD: namespaceFD), operation: "move link \(name)")
    }

    public func disableIPv6Addresses(_ name: String) throws {
        try request(RouteNetlink.disableIPv6Addresses(index: try index(of: name)), operation: "stop IPv6 addresses on \(name)")
    }

    public func setPortIsolated(_ name: String, _ isolated: Bool) throws {
        try request(RouteNetlink.setPortIsolated(index: try index(of: name), isolated), operation: "set isolation of \(name)")
    }

    public func deleteLink(_ name: String) throws {
        try request(RouteNetlink.deleteLink(index: try index(of: name)), operation: "delete link \(name)")
    }

    /// Deletes a link if it is there; one that goes while this runs (a veth
    /// whose peer's namespace the kernel is tearing down, asynchronously)
    /// is gone as wanted. Whether this deleted it.
    @discardableResult
    public func deleteLinkIfPresent(_ name: String) throws -> Bool {
        guard let link = try link(named: name) else { return false }
        do {
            try request(RouteNetlink.deleteLink(index: link.index), operation: "delete link \(name)")
            return true
        } catch let error as NetlinkError where error.errno == 19 {  // ENODEV
            return false
        }
    }

    public func addAddress(_ cidr: CIDR, to name: String) throws {
        try request(RouteNetlink.newAddress(index: try index(of: name), cidr), operation: "add address \(cidr) to \(name)")
    }

    public func deleteAddress(_ cidr: CIDR, from name: String) throws {
        try request(RouteNetlink.deleteAddress(index: try index(of: name), cidr), operation: "delete address \(cidr) from \(name)")
    }

    public func addDefaultRoute(via gateway: IPAddress, replace: Bool = false) throws {
        try request(RouteNetlink.newDefaultRoute(via: gateway, replace: replace), operation: "add default route via \(gateway)")
    }

    public func deleteDefaultRoute(family: UInt8) throws {
        try request(RouteNetlink.deleteDefaultRoute(family: family), operation: "delete default route")
    }

    public func index(of name: String) throws -> Int32 {
        guard let link = try link(named: name) else {
            throw NetlinkError(operation: "find link \(name)", errno: 19)  // ENODEV
        }
        return link.index
    }

    /// The errno an NLMSG_ERROR reply carries (the kernel writes it
    /// negated), nil for an acknowledgement (0). A reply too short to hold
    /// one, or holding no negative errno (a positive value, or Int32.min,
    /// which has no positive counterpart), is EBADMSG.
    static func errorNumber(_ reply: NetlinkMessage) -> Int32? {
        guard let raw = reply.payload.readLittleEndian(UInt32.self, at: 0) else { return 74 }
        let code = Int32(bitPattern: raw)
        if code == 0 { return nil }
        return code < 0 && code != .min ? -code : 74
    }

    /// One link by name, or nil when there is none.
    public func link(named name: String) throws -> Link? {
        let reply: NetlinkMessage
        do {
            reply = try get(RouteNetlink.getLink(name), operation: "get link \(name)")
        } catch let error as NetlinkError where error.errno == 19 {
            return nil
        }
        return RouteNetlink.decodeLink(reply)
    }

    /// One link by its index, or nil when there is none.
    public func link(index: Int32) throws -> Link? {
        let reply: NetlinkMessage
        do {
            reply = try get(RouteNetlink.getLink(index: index), operation: "get link #\(index)")
        } catch let error as NetlinkError where error.errno == 19 {
            return nil
        }
        return RouteNetlink.decodeLink(reply)
    }

    /// RTM_GETLINK dump.
    public func links() throws -> [Link] {
        try dump(Netlink.RTM_GETLINK, InterfaceInfo().encoded(), operation: "dump links").compactMap(RouteNetlink.decodeLink)
    }

    static func decodeLink(_ message: NetlinkMessage) -> Link? {
        guard message.type == Netlink.RTM_NEWLINK, let info = InterfaceInfo.decode(message.payload) else { return nil }
        // The attributes walked in place: only the ones read are copied.
        let payload = message.payload
        var link = Link(index: info.index, name: "", flags: info.flags)
        let string = { (range: Range<Int>) in String(decoding: payload[range].prefix { $0 != 0 }, as: UTF8.self) }
        let u32 = { (range: Range<Int>) in range.count >= 4 ? payload.readLittleEndian(UInt32.self, at: range.lowerBound) : nil }
        let whole = Attribute.visit(payload, from: InterfaceInfo.size) { type, range in
            switch type {
            case Netlink.IFLA_IFNAME: link.name = string(range)
            case Netlink.IFLA_MTU: link.mtu = u32(range)
            case Netlink.IFLA_ADDRESS: link.mac = Array(payload[range])
            case Netlink.IFLA_IFALIAS: link.alias = string(range)
            case Netlink.IFLA_GROUP: link.group = u32(range)
            case Netlink.IFLA_STATS64: link.statistics = LinkStatistics(stats64: Array(payload[range]))
            case Netlink.IFLA_MASTER: link.master = u32(range).map { Int32(bitPattern: $0) }
            case Netlink.IFLA_LINK: link.parent = u32(range).map { Int32(bitPattern: $0) }
            case Netlink.IFLA_LINKINFO:
                let info = Attribute.decode(payload[range])
                link.kind = info?.first { $0.type == Netlink.IFLA_INFO_KIND }?.stringValue
                if link.kind == "macvlan", let data = info?.first(where: { $0.type == Netlink.IFLA_INFO_DATA }) {
                    link.macvlanMode = Attribute.decode(data.value[...])?.first { $0.type == Netlink.IFLA_MACVLAN_MODE }?.u32Value
                }
                if info?.first(where: { $0.type == Netlink.IFLA_INFO_SLAVE_KIND })?.stringValue == "bridge" {
                    link.bridgePort = BridgePortFlags(portAttributes: info?.first { $0.type == Netlink.IFLA_INFO_SLAVE_DATA })
                }
            default: break
            }
        }
        return whole ? link : nil
    }

    /// Every bridge port (AF_BRIDGE dump), or those of the bridge `master`.
    public func bridgePorts(master: Int32? = nil) throws -> [BridgePort] {
        let request = RouteNetlink.getBridgePorts()
        return try dump(request.0, request.2, operation: "dump bridge ports").compactMap(RouteNetlink.decodeBridgePort)
            .filter { master == nil || $0.master == master }
    }

    /// One answer of an AF_BRIDGE link dump; nil for what is not a port (the
    /// bridge itself has no IFLA_PROTINFO).
    static func decodeBridgePort(_ message: NetlinkMessage) -> BridgePort? {
        guard message.type == Netlink.RTM_NEWLINK, let info = InterfaceInfo.decode(message.payload), info.family == Netlink.AF_BRIDGE,
            let attributes = Attribute.decode(message.payload[InterfaceInfo.size...])
        else { return nil }
        var port = BridgePort(index: info.index, name: "")
        var isPort = false
        for attribute in attributes {
            switch attribute.type {
            case Netlink.IFLA_IFNAME: port.name = attribute.stringValue
            case Netlink.IFLA_MASTER: port.master = attribute.u32Value.map { Int32(bitPattern: $0) }
            case Netlink.IFLA_MTU: port.mtu = attribute.u32Value
            case Netlink.IFLA_PROTINFO:
                isPort = true
                port.isolated = BridgePortFlags(portAttributes: attribute).isolated
            default: break
            }
        }
        return isPort && port.master != nil && port.master != port.index ? port : nil
    }

    /// RTM_GETADDR dump: (link index, address with prefix); of one link
    /// when `index` is given (the socket asks for strict checking, so the
    /// kernel filters).
    public func addresses(index: Int32? = nil) throws -> [(index: Int32, cidr: CIDR)] {
        let request = AddressInfo(family: Netlink.AF_UNSPEC, prefixLength: 0, index: UInt32(bitPattern: index ?? 0))
        return try dump(Netlink.RTM_GETADDR, request.encoded(), operation: "dump addresses")
            .compactMap { message in
                guard message.type == Netlink.RTM_NEWADDR, let info = AddressInfo.decode(message.payload),
                    let attributes = Attribute.decode(message.payload[AddressInfo.size...]),
                    let value = (attributes.first { $0.type == Netlink.IFA_LOCAL } ?? attributes.first { $0.type == Netlink.IFA_ADDRESS })?
                        .value,
                    let address = IPAddress(bytes: value)
                else { return nil }
                return (Int32(bitPattern: info.index), CIDR(address: address, prefixLength: Int(info.prefixLength)))
            }
            // Without strict checking (old kernels) the filter is ignored.
            .filter { index == nil || $0.index == index }
    }

    /// RTM_GETROUTE dump of the main table's default routes.
    public func defaultRoutes() throws -> [Route] {
        try mainRoutes().filter { $0.destinationLength == 0 && $0.gateway != nil }
    }

    /// RTM_GETROUTE dump of the main table's routes, IPv4 and IPv6. The
    /// request names the table (rtm_table): under strict checking the
    /// kernel dumps that table only, not the local table's routes of every
    /// address (berth-bench scale: a dump per container observed); a
    /// kernel without it ignores the field, and the filter here is kept.
    public func mainRoutes() throws -> [Route] {
        var request: [UInt8] = [Netlink.AF_UNSPEC, 0, 0, 0, Netlink.RT_TABLE_MAIN, 0, 0, 0]
        request.appendLittleEndian(UInt32(0))
        return try dump(Netlink.RTM_GETROUTE, request, operation: "dump routes").compactMap(RouteNetlink.decodeRoute)
            .filter { $0.table == UInt32(Netlink.RT_TABLE_MAIN) }
    }

    static func decodeRoute(_ message: NetlinkMessage) -> Route? {
        let payload = message.payload
        guard message.type == Netlink.RTM_NEWROUTE, payload.count >= 12, let attributes = Attribute.decode(payload[12...]) else {
            return nil
        }
        var route = Route(family: payload[0], destinationLength: payload[1], table: UInt32(payload[4]))
        for attribute in attributes {
            switch attribute.type {
            case Netlink.RTA_GATEWAY: route.gateway = IPAddress(bytes: attribute.value)
            case Netlink.RTA_DST: route.destination = IPAddress(bytes: attribute.value)
            case Netlink.RTA_OIF: route.outputIndex = attribute.u32Value.map { Int32(bitPattern: $0) }
            case Netlink.RTA_TABLE: route.table = attribute.u32Value ?? route.table
            default: break
            }
        }
        return route
    }

    // MARK: Exchange

    func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// Sends a request with NLM_F_ACK and waits for its ACK or error.
    func request(_ request: (UInt16, UInt16, [UInt8]), operation: String) throws {
        let sequence = nextSequence()
        let message = NetlinkMessage(
            type: request.0, flags: Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK | request.1, sequence: sequence, payload: request.2)
        try transport.send(message.encoded())
        while true {
            guard let replies = NetlinkMessage.decode(try transport.receive()) else {
                throw NetlinkError(operation: operation, errno: 74)  // EBADMSG
            }
            for reply in replies where reply.sequence == sequence && reply.type == Netlink.NLMSG_ERROR {
                guard let errno = RouteNetlink.errorNumber(reply) else { return }
                throw NetlinkError(operation: operation, errno: errno)
            }
        }
    }

    /// Sends `requests` many to a datagram, each with NLM_F_ACK (rtnetlink
    /// carries a datagram's requests out one after another within the
    /// send), and collects each one's answer: 0 for its ACK, else its
    /// errno. For many small requests at once (a batch delete's veths): a
    /// system call per chunk instead of a round trip each; a chunk's ACKs
    /// fit the socket's receive buffer.
    public func requestAll(_ requests: [(UInt16, UInt16, [UInt8])], operation: String, chunk: Int = 128) throws -> [Int32] {
        var answers = [Int32](repeating: 0, count: requests.count)
        var start = 0
        while start < requests.count {
            let end = min(start + max(1, chunk), requests.count)
            let first = sequence &+ 1
            var bytes: [UInt8] = []
            for request in requests[start..<end] {
                bytes += NetlinkMessage(
                    type: request.0, flags: Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK | request.1, sequence: nextSequence(),
                    payload: request.2
                ).encoded()
            }
            try transport.send(bytes)
            var answered = Set<Int>()
            while answered.count < end - start {
                guard let replies = NetlinkMessage.decode(try transport.receive()) else {
                    throw NetlinkError(operation: operation, errno: 74)  // EBADMSG
                }
                for reply in replies where reply.type == Netlink.NLMSG_ERROR {
                    let offset = Int(reply.sequence &- first)
                    guard offset < end - start, answered.insert(offset).inserted else { continue }
                    answers[start + offset] = RouteNetlink.errorNumber(reply) ?? 0
                }
            }
            start = end
        }
        return answers
    }

    /// Sends a get request and returns its one answer.
    func get(_ request: (UInt16, UInt16, [UInt8]), operation: String) throws -> NetlinkMessage {
        let sequence = nextSequence()
        try transport.send(
            NetlinkMessage(type: request.0, flags: Netlink.NLM_F_REQUEST | request.1, sequence: sequence, payload: request.2).encoded())
        while true {
            guard let replies = NetlinkMessage.decode(try transport.receive()) else {
                throw NetlinkError(operation: operation, errno: 74)
            }
            for reply in replies where reply.sequence == sequence {
                guard reply.type == Netlink.NLMSG_ERROR else { return reply }
                throw NetlinkError(operation: operation, errno: RouteNetlink.errorNumber(reply) ?? 74)
            }
        }
    }

    /// Sends a dump request and collects every message until NLMSG_DONE.
    func dump(_ type: UInt16, _ payload: [UInt8], operation: String) throws -> [NetlinkMessage] {
        let sequence = nextSequence()
        try transport.send(
            NetlinkMessage(type: type, flags: Netlink.NLM_F_REQUEST | Netlink.NLM_F_DUMP, sequence: sequence, payload: payload).encoded())
        var collected: [NetlinkMessage] = []
        while true {
            guard let replies = NetlinkMessage.decode(try transport.receive()) else {
                throw NetlinkError(operation: operation, errno: 74)
            }
            for reply in replies where reply.sequence == sequence {
                switch reply.type {
                case Netlink.NLMSG_DONE: return collected
                case Netlink.NLMSG_ERROR:
                    throw NetlinkError(operation: operation, errno: RouteNetlink.errorNumber(reply) ?? 74)
                default: collected.append(reply)
                }
            }
        }
    }
}
