/// sock_diag (sock_diag(7)): how many sockets a network namespace holds, by
/// kind. The kernel answers for the namespace of the asking socket, so the
/// socket is opened inside the container's (NetlinkSocket(protocol:
/// networkNamespaceFD:), from a C thread). Requests are pure values, tested
/// byte for byte.
public enum SocketDiagnostics {
    public static let NETLINK_SOCK_DIAG: Int32 = 4
    public static let SOCK_DIAG_BY_FAMILY: UInt16 = 20
    static let AF_UNIX: UInt8 = 1
    static let AF_INET: UInt8 = 2
    static let AF_INET6: UInt8 = 10
    static let IPPROTO_TCP: UInt8 = 6
    static let IPPROTO_UDP: UInt8 = 17
    /// TCP states (include/net/tcp_states.h) a socket is charged in: every
    /// one but TIME_WAIT (6) and NEW_SYN_RECV (12), which are mini-sockets
    /// without a file, as OpenVZ's numtcpsock did not count them either.
    public static let chargedTCPStates: UInt32 = 0xFFF & ~(1 << 6)

    /// struct inet_diag_req_v2 for a dump of one family and protocol: family,
    /// protocol, ext, pad, states (u32), then a zeroed inet_diag_sockid (48 bytes).
    public static func inetRequest(family: UInt8, protocol: UInt8, states: UInt32) -> [UInt8] {
        var bytes: [UInt8] = [family, `protocol`, 0, 0]
        bytes.appendLittleEndian(states)
        return bytes + [UInt8](repeating: 0, count: 48)
    }

    /// struct unix_diag_req: family, protocol, pad (u16), states (u32),
    /// ino (u32), show (u32), cookie (2 x u32).
    public static func unixRequest() -> [UInt8] {
        var bytes: [UInt8] = [AF_UNIX, 0, 0, 0]
        bytes.appendLittleEndian(UInt32.max)
        return bytes + [UInt8](repeating: 0, count: 16)
    }

    /// What a namespace holds: TCP sockets (IPv4 and IPv6, listening ones
    /// included) and the rest that OpenVZ counted as numothersock (UDP and
    /// unix sockets).
    public struct Counts: Equatable, Sendable {
        public var tcp: UInt64
        public var other: UInt64
        public init(tcp: UInt64, other: UInt64) {
            self.tcp = tcp
            self.other = other
        }
    }

    /// Counts the sockets of the namespace `transport` was opened in.
    public static func count(_ transport: NetlinkTransport) throws -> Counts {
        let client = RouteNetlink(transport: transport)
        func dump(_ payload: [UInt8], _ what: String) throws -> UInt64 {
            UInt64(try client.dump(SOCK_DIAG_BY_FAMILY, payload, operation: "sock_diag dump of \(what) sockets").count)
        }
        var counts = Counts(tcp: 0, other: 0)
        for family in [AF_INET, AF_INET6] {
            counts.tcp += try dump(inetRequest(family: family, protocol: IPPROTO_TCP, states: chargedTCPStates), "TCP")
            counts.other += try dump(inetRequest(family: family, protocol: IPPROTO_UDP, states: UInt32.max), "UDP")
        }
        counts.other += try dump(unixRequest(), "unix")
        return counts
    }
}
