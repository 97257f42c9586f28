/// Netlink wire encoding (netlink(7), rtnetlink(7)): a 16-byte header, a
/// family header, then attributes, each {len: u16, type: u16, value} padded
/// to 4 bytes. Pure: no socket, so every byte is unit-tested.
public struct NetlinkMessage: Equatable, Sendable {
    public var type: UInt16
    public var flags: UInt16
    public var sequence: UInt32
    public var portID: UInt32
    /// The family header and attributes, already encoded.
    public var payload: [UInt8]

    public init(type: UInt16, flags: UInt16, sequence: UInt32 = 0, portID: UInt32 = 0, payload: [UInt8]) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
        self.payload = payload
    }

    public static let headerSize = 16

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(NetlinkMessage.headerSize + payload.count)
        bytes.appendLittleEndian(UInt32(NetlinkMessage.headerSize + payload.count))
        bytes.appendLittleEndian(type)
        bytes.appendLittleEndian(flags)
        bytes.appendLittleEndian(sequence)
        bytes.appendLittleEndian(portID)
        bytes += payload
        bytes.padTo4()
        return bytes
    }

    /// Splits a datagram into messages; nil when a length is inconsistent.
    public static func decode(_ bytes: [UInt8]) -> [NetlinkMessage]? {
        var messages: [NetlinkMessage] = []
        var offset = 0
        while offset + headerSize <= bytes.count {
            guard let length = bytes.readLittleEndian(UInt32.self, at: offset).map(Int.init), length >= headerSize,
                offset + length <= bytes.count,
                let type = bytes.readLittleEndian(UInt16.self, at: offset + 4),
                let flags = bytes.readLittleEndian(UInt16.self, at: offset + 6),
                let sequence = bytes.readLittleEndian(UInt32.self, at: offset + 8),
                let port = bytes.readLittleEndian(UInt32.self, at: offset + 12)
            else { return nil }
            messages.append(
                NetlinkMessage(
                    type: type, flags: flags, sequence: sequence, portID: port,
                    payload: Array(bytes[(offset + headerSize)..<(offset + length)])))
            offset += (length + 3) & ~3
        }
        return messages
    }
}

/// Constants from linux/netlink.h and linux/rtnetlink.h.
public enum Netlink {
    public static let NLM_F_REQUEST: UInt16 = 0x1
    public static let NLM_F_MULTI: UInt16 = 0x2
    public static let NLM_F_ACK: UInt16 = 0x4
    public static let NLM_F_ROOT: UInt16 = 0x100
    public static let NLM_F_MATCH: UInt16 = 0x200
    public static let NLM_F_DUMP: UInt16 = 0x300
    public static let NLM_F_REPLACE: UInt16 = 0x100
    public static let NLM_F_EXCL: UInt16 = 0x200
    public static let NLM_F_CREATE: UInt16 = 0x400

    public static let NLMSG_ERROR: UInt16 = 2
    public static let NLMSG_DONE: UInt16 = 3

    public static let RTM_NEWLINK: UInt16 = 16
    public static let RTM_DELLINK: UInt16 = 17
    public static let RTM_GETLINK: UInt16 = 18
    public static let RTM_NEWADDR: UInt16 = 20
    public static let RTM_DELADDR: UInt16 = 21
    public static let RTM_GETADDR: UInt16 = 22
    public static let RTM_NEWROUTE: UInt16 = 24
    public static let RTM_DELROUTE: UInt16 = 25
    public static let RTM_GETROUTE: UInt16 = 26

    // Link attributes (IFLA_*).
    public static let IFLA_ADDRESS: UInt16 = 1
    public static let IFLA_IFNAME: UInt16 = 3
    public static let IFLA_MTU: UInt16 = 4
    public static let IFLA_LINK: UInt16 = 5
    public static let IFLA_MASTER: UInt16 = 10
    public static let IFLA_OPERSTATE: UInt16 = 16
    public static let IFLA_IFALIAS: UInt16 = 20
    public static let IFLA_GROUP: UInt16 = 27
    /// struct rtnl_link_stats64: 64-bit counters, rx_packets first.
    public static let IFLA_STATS64: UInt16 = 23
    public static let IFLA_AF_SPEC: UInt16 = 26
    public static let IFLA_INET6_ADDR_GEN_MODE: UInt16 = 8
    public static let IN6_ADDR_GEN_MODE_NONE: UInt8 = 1
    /// IFLA_AF_SPEC's AF_INET: the link's `net.ipv4.conf` values, each by
    /// its IPV4_DEVCONF_* number.
    public static let IFLA_INET_CONF: UInt16 = 1
    public static let IPV4_DEVCONF_ARP_NOTIFY: UInt16 = 22
    public static let IFLA_LINKINFO: UInt16 = 18
    public static let IFLA_NET_NS_FD: UInt16 = 28
    public static let IFLA_INFO_KIND: UInt16 = 1
    public static let IFLA_INFO_DATA: UInt16 = 2
    /// The kind of the link's master (IFLA_INFO_SLAVE_KIND: "bridge" for a
    /// bridge port), and its port attributes (IFLA_INFO_SLAVE_DATA: the
    /// IFLA_BRPORT_* of a bridge port, as IFLA_PROTINFO has them).
    public static let IFLA_INFO_SLAVE_KIND: UInt16 = 4
    public static let IFLA_INFO_SLAVE_DATA: UInt16 = 5
    /// IFLA_BR_MCAST_SNOOPING in a bridge's IFLA_INFO_DATA (u8).
    public static let IFLA_BR_MCAST_SNOOPING: UInt16 = 23
    public static let VETH_INFO_PEER: UInt16 = 1
    /// IFLA_MACVLAN_MODE in a macvlan's IFLA_INFO_DATA (u32), and its values.
    public static let IFLA_MACVLAN_MODE: UInt16 = 1
    public static let MACVLAN_MODE_PRIVATE: UInt32 = 1
    public static let MACVLAN_MODE_BRIDGE: UInt32 = 4

    // Address attributes (IFA_*).
    public static let IFA_ADDRESS: UInt16 = 1
    public static let IFA_LOCAL: UInt16 = 2
    public static let IFA_BROADCAST: UInt16 = 4

    // Route attributes (RTA_*).
    public static let RTA_DST: UInt16 = 1
    public static let RTA_OIF: UInt16 = 4
    public static let RTA_GATEWAY: UInt16 = 5
    public static let RTA_TABLE: UInt16 = 15
    public static let RT_TABLE_MAIN: UInt8 = 254

    public static let RTM_SETLINK: UInt16 = 19
    public static let IFLA_PROTINFO: UInt16 = 12
    public static let IFLA_BRPORT_ISOLATED: UInt16 = 33
    public static let AF_BRIDGE: UInt8 = 7

    public static let IFF_UP: UInt32 = 0x1
    public static let AF_UNSPEC: UInt8 = 0
    public static let AF_INET: UInt8 = 2
    public static let AF_INET6: UInt8 = 10
    public static let NLA_F_NESTED: UInt16 = 0x8000
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func padTo4() {
        while count % 4 != 0 { append(0) }
    }

    func readLittleEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T? {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset + size <= count else { return nil }
        var value: T = 0
        for index in 0..<size { value |= T(self[offset + index]) << (8 * index) }
        return value
    }
}
