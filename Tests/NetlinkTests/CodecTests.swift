import Model
import Testing

@testable import Netlink

/// Parses "38 00 00 00 ..." (comments after '#' ignored) into bytes.
func hex(_ text: String) -> [UInt8] {
    text.split(separator: "\n").flatMap { line in
        (line.split(separator: "#").first ?? "").split(separator: " ").compactMap { UInt8($0, radix: 16) }
    }
}

@Suite struct CodecTests {
    @Test func bridgeCreateRequestMatchesTheKernelLayout() {
        let (type, flags, payload) = RouteNetlink.newBridge("br0")
        let message = NetlinkMessage(type: type, flags: Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK | flags, sequence: 1, payload: payload)
        let expected = hex(
            """
            38 00 00 00  10 00  05 06  01 00 00 00  00 00 00 00   # nlmsghdr: len 56, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE, seq 1
            00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: AF_UNSPEC, index 0, flags 0
            08 00 03 00  62 72 30 00                             # IFLA_IFNAME "br0\\0"
            10 00 12 80                                          # IFLA_LINKINFO, nested, len 16
            0b 00 01 00  62 72 69 64 67 65 00 00                 #   IFLA_INFO_KIND "bridge\\0" + 1 byte of padding
            """)
        #expect(message.encoded() == expected)
    }

    @Test func containerBridgeCarriesItsAddressAndSnoopingOff() {
        let (_, _, payload) = RouteNetlink.newBridge("br0", mtu: 1499, mac: [0x02, 1, 2, 3, 4, 5], multicastSnooping: false)
        let expected = hex(
            """
            00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: AF_UNSPEC, index 0, flags 0
            08 00 03 00  62 72 30 00                             # IFLA_IFNAME "br0\\0"
            08 00 04 00  db 05 00 00                             # IFLA_MTU 1499
            0a 00 01 00  02 01 02 03  04 05 00 00                # IFLA_ADDRESS 02:01:02:03:04:05 + padding
            1c 00 12 80                                          # IFLA_LINKINFO, nested, len 28
            0b 00 01 00  62 72 69 64 67 65 00 00                 #   IFLA_INFO_KIND "bridge\\0" + padding
            0c 00 02 80                                          #   IFLA_INFO_DATA, nested, len 12
            05 00 17 00  00 00 00 00                             #     IFLA_BR_MCAST_SNOOPING 0 + padding
            """)
        #expect(payload == expected)
    }

    @Test func vethCreateCarriesTheMTUOnBothEndsInOneRequest() {
        let (type, flags, payload) = RouteNetlink.newVeth("vb0", peer: "eth0", peerNamespaceFD: 7, mtu: 1400)
        #expect(type == Netlink.RTM_NEWLINK && flags == Netlink.NLM_F_CREATE | Netlink.NLM_F_EXCL)
        let expected = hex(
            """
            00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: AF_UNSPEC, index 0, flags 0
            08 00 03 00  76 62 30 00                             # IFLA_IFNAME "vb0\\0"
            08 00 04 00  78 05 00 00                             # IFLA_MTU 1400 (the host end)
            44 00 12 80                                          # IFLA_LINKINFO, nested, len 68
            09 00 01 00  76 65 74 68  00 00 00 00                #   IFLA_INFO_KIND "veth\\0" + padding
            34 00 02 80                                          #   IFLA_INFO_DATA, nested, len 52
            30 00 01 00                                          #     VETH_INFO_PEER, len 48
            00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   #       the peer's ifinfomsg
            09 00 03 00  65 74 68 30  00 00 00 00                #       IFLA_IFNAME "eth0\\0" + padding
            08 00 04 00  78 05 00 00                             #       IFLA_MTU 1400 (the container's end)
            08 00 1c 00  07 00 00 00                             #       IFLA_NET_NS_FD 7
            """)
        #expect(payload == expected)
        // Without an MTU neither end carries one (the kernel's 1500).
        let plain = RouteNetlink.newVeth("vb0", peer: "eth0").2
        #expect(plain.count == expected.count - 24 && !plain.contains(0x78))
    }

    @Test func arpNotifyIsSetThroughTheLinksIPv4Conf() {
        let (type, flags, payload) = RouteNetlink.announceAddresses(named: "eth0")
        #expect(type == Netlink.RTM_NEWLINK && flags == 0)
        let expected = hex(
            """
            00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: AF_UNSPEC, index 0 (by name), flags 0
            09 00 03 00  65 74 68 30  00 00 00 00                # IFLA_IFNAME "eth0\\0" + padding
            14 00 1a 80                                          # IFLA_AF_SPEC, nested, len 20
            10 00 02 80                                          #   AF_INET, nested, len 16
            0c 00 01 80                                          #     IFLA_INET_CONF, nested, len 12
            08 00 16 00  01 00 00 00                             #       IPV4_DEVCONF_ARP_NOTIFY (22) = 1
            """)
        #expect(payload == expected)
    }

    @Test func theContainersEndOfAVethCarriesItsHardwareAddress() {
        let mac: [UInt8] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55]
        let address = hex("0a 00 01 00  02 11 22 33  44 55 00 00")  // IFLA_ADDRESS, 6 bytes + padding
        // Inside the peer's attributes (the container's end), not the host end's.
        let veth = RouteNetlink.newVeth("vb0", peer: "eth0", peerNamespaceFD: 7, peerMAC: mac).2
        let withoutMAC = RouteNetlink.newVeth("vb0", peer: "eth0", peerNamespaceFD: 7).2
        #expect(veth.count == withoutMAC.count + 12)
        #expect(Array(veth.suffix(20)) == address + hex("08 00 1c 00  07 00 00 00"))
        // The peer's ifinfomsg and attributes read back as a link: its address.
        let peerStart = veth.count - 20 - 12 - InterfaceInfo.size  // the address, IFLA_NET_NS_FD; IFLA_IFNAME "eth0"
        let peer = InterfaceInfo(index: 3).encoded() + Array(veth[(peerStart + InterfaceInfo.size)...])
        #expect(RouteNetlink.decodeLink(NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: 0, payload: peer))?.mac == mac)
    }

    @Test func macvlanCreateNamesItsLowerItsNamespaceAndItsMode() {
        let (type, flags, payload) = RouteNetlink.newMacvlan("eth0", lower: 9, namespaceFD: 7, mtu: 1400, mode: Netlink.MACVLAN_MODE_BRIDGE)
        #expect(type == Netlink.RTM_NEWLINK && flags == Netlink.NLM_F_CREATE | Netlink.NLM_F_EXCL)
        let expected = hex(
            """
            00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: AF_UNSPEC, index 0, flags 0
            09 00 03 00  65 74 68 30  00 00 00 00                # IFLA_IFNAME "eth0\\0" + padding
            08 00 05 00  09 00 00 00                             # IFLA_LINK 9 (the lower end)
            08 00 04 00  78 05 00 00                             # IFLA_MTU 1400
            08 00 1c 00  07 00 00 00                             # IFLA_NET_NS_FD 7
            1c 00 12 80                                          # IFLA_LINKINFO, nested, len 28
            0c 00 01 00  6d 61 63 76  6c 61 6e 00                #   IFLA_INFO_KIND "macvlan\\0"
            0c 00 02 80                                          #   IFLA_INFO_DATA, nested, len 12
            08 00 01 00  04 00 00 00                             #     IFLA_MACVLAN_MODE bridge (4)
            """)
        #expect(payload == expected)
        // The mode alone, by name, on an existing macvlan: private (1).
        let (setType, setFlags, set) = RouteNetlink.setMacvlanMode(named: "eth0", Netlink.MACVLAN_MODE_PRIVATE)
        #expect(setType == Netlink.RTM_NEWLINK && setFlags == 0)
        #expect(set.suffix(8) == [8, 0, 1, 0, 1, 0, 0, 0])
        // Read back: its lower end and its mode.
        let answer = InterfaceInfo(index: 3).encoded() + Array(payload.dropFirst(InterfaceInfo.size))
        let link = RouteNetlink.decodeLink(NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: 0, payload: answer))
        #expect(link?.kind == "macvlan" && link?.parent == 9 && link?.macvlanMode == Netlink.MACVLAN_MODE_BRIDGE)
    }

    @Test func setLinkByNameCarriesTheNameAndNoIndex() {
        let (type, flags, payload) = RouteNetlink.setLink(named: "vb0", up: true, master: 3)
        #expect(type == Netlink.RTM_NEWLINK)
        #expect(flags == 0)
        let expected = hex(
            """
            00 00 00 00  00 00 00 00  01 00 00 00  01 00 00 00   # ifinfomsg: index 0, flags UP, change UP
            08 00 03 00  76 62 30 00                             # IFLA_IFNAME "vb0\\0"
            08 00 0a 00  03 00 00 00                             # IFLA_MASTER 3
            """)
        #expect(payload == expected)
    }

    @Test func aGroupIsSetOnOneLinkByNameAndAGroupIsDeletedInOneRequest() {
        // With the name, IFLA_GROUP moves that link only (without one, the
        // kernel would change every link of a group).
        let (type, _, payload) = RouteNetlink.setLink(named: "vb0", group: 0x1_0001)
        #expect(type == Netlink.RTM_NEWLINK)
        let expected = hex(
            """
            00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: index 0, no flags
            08 00 03 00  76 62 30 00                             # IFLA_IFNAME "vb0\\0"
            08 00 1b 00  01 00 01 00                             # IFLA_GROUP 0x10001
            """)
        #expect(payload == expected)
        // A group's delete: index 0, no name, the group only.
        let delete = RouteNetlink.deleteLinks(group: 0x1_0001)
        #expect(delete?.0 == Netlink.RTM_DELLINK)
        #expect(delete?.1 == 0)
        #expect(
            delete?.2
                == hex(
                    """
                    00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: index 0
                    08 00 1b 00  01 00 01 00                             # IFLA_GROUP 0x10001
                    """))
        // Never group 0, every link's default group.
        #expect(RouteNetlink.deleteLinks(group: 0) == nil)
    }

    @Test func addressRequestCarriesLocalAddressAndBroadcast() throws {
        let (type, _, payload) = RouteNetlink.newAddress(index: 7, try CIDR(parsing: "10.88.0.1/24"))
        #expect(type == Netlink.RTM_NEWADDR)
        let expected = hex(
            """
            02 18 00 00  07 00 00 00         # ifaddrmsg: AF_INET, /24, index 7
            08 00 02 00  0a 58 00 01         # IFA_LOCAL 10.88.0.1
            08 00 01 00  0a 58 00 01         # IFA_ADDRESS 10.88.0.1
            08 00 04 00  0a 58 00 ff         # IFA_BROADCAST 10.88.0.255
            """)
        #expect(payload == expected)
    }

    @Test func addressDeleteHasTheNewAddressBodyAndNoCreateFlags() throws {
        let cidr = try CIDR(parsing: "10.88.0.7/24")
        let (type, flags, payload) = RouteNetlink.deleteAddress(index: 3, cidr)
        #expect(type == Netlink.RTM_DELADDR)
        #expect(flags == 0)
        #expect(payload == RouteNetlink.newAddress(index: 3, cidr).2)
    }

    @Test func setLinkCarriesRenameMTUMacAndNamespace() {
        let (type, _, payload) = RouteNetlink.setLink(
            index: 5, up: true, mtu: 1400, mac: [0x02, 0, 0, 0, 0, 0x01], rename: "eth1", namespaceFD: 9)
        #expect(type == Netlink.RTM_NEWLINK)
        let expected = hex(
            """
            00 00 00 00  05 00 00 00  01 00 00 00  01 00 00 00   # ifinfomsg: index 5, flags UP, change UP
            09 00 03 00  65 74 68 31  00 00 00 00                # IFLA_IFNAME "eth1\0" + padding
            08 00 04 00  78 05 00 00                             # IFLA_MTU 1400
            0a 00 01 00  02 00 00 00  00 01 00 00                # IFLA_ADDRESS 02:00:00:00:00:01 + padding
            08 00 1c 00  09 00 00 00                             # IFLA_NET_NS_FD 9
            """)
        #expect(payload == expected)
    }

    @Test func ipv6AddressGenerationOffIsNestedInAFSpec() {
        let (_, _, payload) = RouteNetlink.disableIPv6Addresses(index: 4)
        let expected = hex(
            """
            00 00 00 00  04 00 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: index 4
            10 00 1a 80                                          # IFLA_AF_SPEC, nested, len 16
            0c 00 0a 80                                          #   AF_INET6, nested, len 12
            05 00 08 00  01 00 00 00                             #     IFLA_INET6_ADDR_GEN_MODE none + padding
            """)
        #expect(payload == expected)
    }

    @Test func nftablesTableGetIsAnNfnetlinkRequest() {
        let (type, _, payload) = NFTablesNetlink.getTable(family: NFTablesNetlink.familyIP, name: "berth_x")
        #expect(type == 0x0a01)  // NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE
        let expected = hex(
            """
            02 00 00 00                          # nfgenmsg: NFPROTO_IPV4, version 0, res_id 0
            0c 00 01 00  62 65 72 74 68 5f 78 00 # NFTA_TABLE_NAME "berth_x\0"
            """)
        #expect(payload == expected)
    }

    @Test func linkGetByNameIsARequestNotADump() {
        let (type, flags, payload) = RouteNetlink.getLink("vb1")
        #expect(type == Netlink.RTM_GETLINK)
        #expect(flags & Netlink.NLM_F_DUMP == 0)
        let expected = hex(
            """
            00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: all zero
            08 00 03 00  76 62 31 00                             # IFLA_IFNAME "vb1\0"
            """)
        #expect(payload == expected)
    }

    @Test func linkGetByIndexIsARequestForThatIndexAlone() {
        let (type, flags, payload) = RouteNetlink.getLink(index: 0x1234)
        #expect(type == Netlink.RTM_GETLINK)
        #expect(flags & Netlink.NLM_F_DUMP == 0)
        let expected = hex(
            """
            00 00 00 00  34 12 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: family 0, type 0, index 0x1234
            """)
        #expect(payload == expected)
    }

    @Test func defaultRouteReplaceAndDelete() throws {
        let (type, flags, payload) = RouteNetlink.newDefaultRoute(via: try IPAddress(parsing: "10.88.0.1"), replace: true)
        #expect(type == Netlink.RTM_NEWROUTE)
        #expect(flags == Netlink.NLM_F_CREATE | Netlink.NLM_F_REPLACE)
        let expected = hex(
            """
            02 00 00 00  fe 04 00 01  00 00 00 00   # rtmsg: AF_INET, /0, main table, static, universe, unicast
            08 00 05 00  0a 58 00 01                # RTA_GATEWAY 10.88.0.1
            """)
        #expect(payload == expected)
        let delete = RouteNetlink.deleteDefaultRoute(family: Netlink.AF_INET)
        #expect(delete.0 == Netlink.RTM_DELROUTE)
        #expect(delete.2 == hex("02 00 00 00  fe 00 ff 00  00 00 00 00   # AF_INET, /0, main, scope nowhere"))
    }

    @Test func routeDumpAnswerIsDecoded() throws {
        let payload =
            hex("02 00 00 00  fe 04 00 01  00 00 00 00")
            + Attribute.encode([.u32(Netlink.RTA_TABLE, 254), Attribute(Netlink.RTA_GATEWAY, [10, 88, 0, 1]), .u32(Netlink.RTA_OIF, 2)])
        let route = try #require(RouteNetlink.decodeRoute(NetlinkMessage(type: Netlink.RTM_NEWROUTE, flags: 0, payload: payload)))
        #expect(route.gateway == (try IPAddress(parsing: "10.88.0.1")))
        #expect(route.outputIndex == 2)
        #expect(route.table == 254)
        #expect(route.destinationLength == 0)
    }

    @Test func bridgePortDumpIsAnAFBridgeLinkDump() {
        let (type, flags, payload) = RouteNetlink.getBridgePorts()
        let message = NetlinkMessage(type: type, flags: Netlink.NLM_F_REQUEST | flags, sequence: 3, payload: payload)
        let expected = hex(
            """
            20 00 00 00  12 00  01 03  03 00 00 00  00 00 00 00   # nlmsghdr: len 32, RTM_GETLINK, REQUEST|DUMP, seq 3
            07 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00   # ifinfomsg: AF_BRIDGE, everything else zero (strict checking)
            """)
        #expect(message.encoded() == expected)
    }

    @Test func bridgePortAnswerCarriesItsIsolationFlag() throws {
        // What the kernel sends for an isolated port (br_fill_ifinfo), cut to
        // the attributes that matter and one other port flag.
        let port = hex(
            """
            07 00 01 00  09 00 00 00  43 10 01 00  00 00 00 00   # ifinfomsg: AF_BRIDGE, ARPHRD_ETHER, index 9, UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
            0f 00 03 00  76 62 31 32  33 34 61 62  63 64 00 00   # IFLA_IFNAME "vb1234abcd\0" + padding
            08 00 0a 00  04 00 00 00                             # IFLA_MASTER 4
            08 00 04 00  dc 05 00 00                             # IFLA_MTU 1500
            14 00 0c 80                                          # IFLA_PROTINFO, nested, len 20
            05 00 01 00  03 00 00 00                             #   IFLA_BRPORT_STATE forwarding + padding
            05 00 21 00  01 00 00 00                             #   IFLA_BRPORT_ISOLATED 1 + padding
            """)
        let decoded = try #require(RouteNetlink.decodeBridgePort(NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: 2, payload: port)))
        #expect(decoded == BridgePort(index: 9, name: "vb1234abcd", master: 4, isolated: true, mtu: 1500))
        // The bridge itself answers too: its own index as master, no IFLA_PROTINFO.
        let bridge = hex(
            """
            07 00 01 00  04 00 00 00  43 10 01 00  00 00 00 00   # ifinfomsg: AF_BRIDGE, index 4
            0a 00 03 00  62 72 2d 74 31 00 00 00                 # IFLA_IFNAME "br-t1\0" + padding
            08 00 0a 00  04 00 00 00                             # IFLA_MASTER 4 (itself)
            """)
        #expect(RouteNetlink.decodeBridgePort(NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: 2, payload: bridge)) == nil)
    }

    /// A normal link dump carries a port's flags too (IFLA_INFO_SLAVE_KIND
    /// "bridge", IFLA_INFO_SLAVE_DATA): BridgePort.ports reads them from it
    /// as decodeBridgePort does from the AF_BRIDGE dump.
    @Test func linkAnswerOfABridgePortCarriesItsIsolationFlag() throws {
        let port = hex(
            """
            00 00 01 00  09 00 00 00  43 10 01 00  00 00 00 00   # ifinfomsg: AF_UNSPEC, ARPHRD_ETHER, index 9
            0f 00 03 00  76 62 31 32  33 34 61 62  63 64 00 00   # IFLA_IFNAME "vb1234abcd\0" + padding
            08 00 0a 00  04 00 00 00                             # IFLA_MASTER 4
            08 00 04 00  dc 05 00 00                             # IFLA_MTU 1500
            30 00 12 80                                          # IFLA_LINKINFO, nested, len 48
            09 00 01 00  76 65 74 68  00 00 00 00                #   IFLA_INFO_KIND "veth\0" + padding
            0b 00 04 00  62 72 69 64  67 65 00 00                #   IFLA_INFO_SLAVE_KIND "bridge\0" + padding
            14 00 05 80                                          #   IFLA_INFO_SLAVE_DATA, nested, len 20
            05 00 01 00  03 00 00 00                             #     IFLA_BRPORT_STATE forwarding + padding
            05 00 21 00  01 00 00 00                             #     IFLA_BRPORT_ISOLATED 1 + padding
            """)
        let link = try #require(RouteNetlink.decodeLink(NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: 2, payload: port)))
        #expect(link.kind == "veth" && link.bridgePort == BridgePortFlags(isolated: true))
        // The bridge, and a link that is no port: none.
        let bridge = hex(
            """
            00 00 01 00  04 00 00 00  43 10 01 00  00 00 00 00   # ifinfomsg: AF_UNSPEC, index 4
            0a 00 03 00  62 72 2d 74 31 00 00 00                 # IFLA_IFNAME "br-t1\0" + padding
            10 00 12 80                                          # IFLA_LINKINFO, nested, len 16
            0b 00 01 00  62 72 69 64  67 65 00 00                #   IFLA_INFO_KIND "bridge\0" + padding
            """)
        let other = try #require(RouteNetlink.decodeLink(NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: 2, payload: bridge)))
        #expect(other.bridgePort == nil)
        #expect(BridgePort.ports(of: [link, other]) == [BridgePort(index: 9, name: "vb1234abcd", master: 4, isolated: true, mtu: 1500)])
        #expect(BridgePort.ports(of: [link, other], master: 5).isEmpty)
    }

    @Test func attributesRoundTripWithPadding() {
        let attributes: [Attribute] = [.string(3, "eth0"), .u32(4, 1500), .u8(16, 6), Attribute(1, [1, 2, 3, 4, 5, 6])]
        let encoded = Attribute.encode(attributes)
        #expect(encoded.count % 4 == 0)
        #expect(Attribute.decode(encoded[...]) == attributes)
        #expect(Attribute.decode([0xff, 0x00, 0x03, 0x00][...]) == nil)  // length past the end
    }

    @Test func messagesSplitOnAlignedLengths() {
        let first = NetlinkMessage(type: 16, flags: 2, sequence: 5, payload: [1, 2, 3])
        let second = NetlinkMessage(type: 3, flags: 2, sequence: 5, payload: [0, 0, 0, 0])
        let decoded = NetlinkMessage.decode(first.encoded() + second.encoded())
        #expect(decoded?.count == 2)
        #expect(decoded?.last?.type == Netlink.NLMSG_DONE)
        #expect(NetlinkMessage.decode([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) == nil)
    }
}

/// A transport that answers from a script: what the kernel would send.
final class ScriptedTransport: NetlinkTransport {
    var sent: [[UInt8]] = []
    var replies: [([UInt8]) -> [UInt8]]

    init(_ replies: [([UInt8]) -> [UInt8]]) { self.replies = replies }

    func send(_ bytes: [UInt8]) throws { sent.append(bytes) }

    func receive() throws -> [UInt8] {
        let reply = replies.removeFirst()
        return reply(sent.last ?? [])
    }

    /// An NLMSG_ERROR answering the request's sequence with `code` (0 = ACK).
    static func ack(_ code: Int32) -> ([UInt8]) -> [UInt8] {
        { request in
            let sequence = request.readLittleEndian(UInt32.self, at: 8) ?? 0
            var payload: [UInt8] = []
            payload.appendLittleEndian(UInt32(bitPattern: code))
            payload += request.prefix(16)
            return NetlinkMessage(type: Netlink.NLMSG_ERROR, flags: 0, sequence: sequence, payload: payload).encoded()
        }
    }
}

@Suite struct ExchangeTests {
    @Test func kernelErrorComesBackTypedWithTheOperation() {
        let client = RouteNetlink(transport: ScriptedTransport([ScriptedTransport.ack(-17)]))
        #expect(throws: NetlinkError(operation: "create bridge br0", errno: 17)) { try client.createBridge("br0") }
    }

    @Test func ackCompletesTheRequest() throws {
        let transport = ScriptedTransport([ScriptedTransport.ack(0)])
        try RouteNetlink(transport: transport).createBridge("br0")
        #expect(transport.sent.count == 1)
    }

    /// Found by the netlink fuzzer: an error code of Int32.min has no
    /// positive errno (negating it trapped), nor has a positive code.
    @Test(arguments: [Int32.min, 5, Int32.max])
    func anErrorReplyWithoutANegativeErrnoIsEBADMSG(code: Int32) {
        #expect(throws: NetlinkError(operation: "get link eth9", errno: 74)) {
            try RouteNetlink(transport: ScriptedTransport([ScriptedTransport.ack(code)])).link(named: "eth9")
        }
        #expect(throws: NetlinkError(operation: "create bridge br0", errno: 74)) {
            try RouteNetlink(transport: ScriptedTransport([ScriptedTransport.ack(code)])).createBridge("br0")
        }
    }

    @Test func missingLinkByNameIsNil() throws {
        let client = RouteNetlink(transport: ScriptedTransport([ScriptedTransport.ack(-19)]))
        #expect(try client.link(named: "nope") == nil)
    }

    @Test func linkDumpIsParsedUntilDone() throws {
        let dumpReply: ([UInt8]) -> [UInt8] = { request in
            let sequence = request.readLittleEndian(UInt32.self, at: 8) ?? 0
            let lo = InterfaceInfo(index: 1, flags: Netlink.IFF_UP).encoded() + Attribute.encode([.string(Netlink.IFLA_IFNAME, "lo")])
            let br =
                InterfaceInfo(index: 4, flags: 0).encoded()
                + Attribute.encode([
                    .string(Netlink.IFLA_IFNAME, "br-front"), .u32(Netlink.IFLA_MTU, 1500),
                    .nested(Netlink.IFLA_LINKINFO, [.string(Netlink.IFLA_INFO_KIND, "bridge")]),
                ])
            return NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: Netlink.NLM_F_MULTI, sequence: sequence, payload: lo).encoded()
                + NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: Netlink.NLM_F_MULTI, sequence: sequence, payload: br).encoded()
                + NetlinkMessage(type: Netlink.NLMSG_DONE, flags: Netlink.NLM_F_MULTI, sequence: sequence, payload: [0, 0, 0, 0]).encoded()
        }
        let links = try RouteNetlink(transport: ScriptedTransport([dumpReply])).links()
        #expect(links.map(\.name) == ["lo", "br-front"])
        #expect(links[0].isUp)
        #expect(links[1].kind == "bridge")
        #expect(links[1].mtu == 1500)
    }

    /// decodeLink reads its attributes in place (Attribute.visit): every one
    /// it keeps, a value too short for a u32 read as absent, and nil for the
    /// messages Attribute.decode refuses.
    @Test func linkAttributesAreReadInPlace() throws {
        let stats = (1...8).flatMap { counter in (0..<8).map { UInt8($0 == 0 ? counter : 0) } }
        let attributes = Attribute.encode([
            .string(Netlink.IFLA_IFNAME, "veth0"), .u32(Netlink.IFLA_MTU, 9000), Attribute(Netlink.IFLA_ADDRESS, [2, 0, 0, 0, 0, 1]),
            .string(Netlink.IFLA_IFALIAS, "berth"), .u32(Netlink.IFLA_GROUP, 7), .u32(Netlink.IFLA_MASTER, 4),
            Attribute(Netlink.IFLA_STATS64, stats), .nested(Netlink.IFLA_LINKINFO, [.string(Netlink.IFLA_INFO_KIND, "veth")]),
        ])
        let payload = InterfaceInfo(index: 5, flags: Netlink.IFF_UP).encoded() + attributes
        let link = try #require(RouteNetlink.decodeLink(NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: 0, payload: payload)))
        #expect(link.index == 5 && link.name == "veth0" && link.mtu == 9000 && link.mac == [2, 0, 0, 0, 0, 1])
        #expect(link.alias == "berth" && link.group == 7 && link.master == 4 && link.kind == "veth")
        #expect(link.statistics?.receivePackets == 1 && link.statistics?.transmitDropped == 8)
        let short = InterfaceInfo(index: 5).encoded() + Attribute.encode([Attribute(Netlink.IFLA_MTU, [1, 2])])
        #expect(RouteNetlink.decodeLink(NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: 0, payload: short))?.mtu == nil)
        // An attribute longer than what is left: the whole message is refused.
        let truncated = payload.dropLast(4)
        #expect(Attribute.decode(truncated[InterfaceInfo.size...]) == nil)
        #expect(RouteNetlink.decodeLink(NetlinkMessage(type: Netlink.RTM_NEWLINK, flags: 0, payload: Array(truncated))) == nil)
    }
}

/// sock_diag dump requests: struct inet_diag_req_v2 and unix_diag_req, byte for byte.
@Suite struct SocketDiagnosticsTests {
    @Test func tcpDumpRequestIsInetDiagReqV2() {
        let request = SocketDiagnostics.inetRequest(family: 10, protocol: 6, states: SocketDiagnostics.chargedTCPStates)
        #expect(request.count == 56)
        // family AF_INET6, IPPROTO_TCP, no extensions, pad; states without TIME_WAIT (bit 6), little endian.
        #expect(Array(request.prefix(8)) == [10, 6, 0, 0, 0xBF, 0x0F, 0, 0])
        #expect(request.dropFirst(8).allSatisfy { $0 == 0 })
    }

    @Test func unixDumpRequestAsksForEveryState() {
        let request = SocketDiagnostics.unixRequest()
        #expect(request.count == 24)
        #expect(Array(request.prefix(8)) == [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])
    }

    @Test func countingDumpsTCPUDPAndUnixInTheNamespaceOfTheSocket() throws {
        let transport = ScriptedDiag(answers: [2, 1, 3, 0, 4])
        let counts = try SocketDiagnostics.count(transport)
        #expect(counts == SocketDiagnostics.Counts(tcp: 5, other: 5))
        #expect(transport.sent.count == 5)
    }
}

/// Answers each dump with `answers[i]` sockets, then NLMSG_DONE.
final class ScriptedDiag: NetlinkTransport {
    var answers: [Int]
    var sent: [[UInt8]] = []
    var pending: [UInt8] = []
    init(answers: [Int]) { self.answers = answers }
    func send(_ bytes: [UInt8]) throws {
        sent.append(bytes)
        let sequence = NetlinkMessage.decode(bytes)?.first?.sequence ?? 0
        let count = answers.isEmpty ? 0 : answers.removeFirst()
        pending =
            (0..<count).flatMap { _ in
                NetlinkMessage(type: 20, flags: Netlink.NLM_F_MULTI, sequence: sequence, payload: [UInt8](repeating: 0, count: 72)).encoded()
            } + NetlinkMessage(type: Netlink.NLMSG_DONE, flags: Netlink.NLM_F_MULTI, sequence: sequence, payload: [0, 0, 0, 0]).encoded()
    }
    func receive() throws -> [UInt8] { pending }
}

/// NFT_MSG_GETGEN and its answer, as nft's own generation check sends and
/// reads them (nfgenmsg, then NFTA_GEN_ID big-endian).
struct NFTablesGenerationCodecTests {
    @Test func theRequestIsAnUnspecifiedFamilyGetGen() {
        let (type, flags, payload) = NFTablesNetlink.getGeneration()
        #expect(type == 10 << 8 | 16)
        #expect(flags == 0)
        #expect(payload == [0, 0, 0, 0])
    }

    @Test func theGenerationIsReadBigEndianAndNothingElseIsOne() {
        let answer = hex(
            """
            00 00 00 2a              # nfgenmsg: AF_UNSPEC, version 0, res_id 42 (big-endian)
            08 00 01 00 00 01 02 2a  # NFTA_GEN_ID 0x0001022a
            08 00 02 00 d2 04 00 00  # NFTA_GEN_PROC_PID
            """)
        #expect(NFTablesNetlink.generationID(answer) == 0x0001_022a)
        #expect(NFTablesNetlink.generationID(Array(answer.prefix(4))) == nil, "no NFTA_GEN_ID")
        #expect(NFTablesNetlink.generationID([0, 0]) == nil, "no nfgenmsg")
        #expect(NFTablesNetlink.generationID(Array(answer.prefix(4)) + [06, 00, 01, 00, 01, 02, 00, 00]) == nil, "a short NFTA_GEN_ID")
    }
}
