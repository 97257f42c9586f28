import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// The nf_tables questions berth asks on every pass, over nfnetlink
/// directly: does a table exist, and where does the ruleset stand?
/// (libnftables, with its parser and caches, is loaded only when a ruleset
/// is applied or listed.)
public enum NFTablesNetlink {
    static let NETLINK_NETFILTER: Int32 = 12
    static let NFNL_SUBSYS_NFTABLES: UInt16 = 10
    static let NFT_MSG_GETTABLE: UInt16 = 1
    static let NFTA_TABLE_NAME: UInt16 = 1
    static let NFT_MSG_GETGEN: UInt16 = 16
    static let NFTA_GEN_ID: UInt16 = 1
    /// SO_NETNS_COOKIE (Linux 5.14).
    static let SO_NETNS_COOKIE: Int32 = 71
    /// NFPROTO_IPV4 ("ip"), NFPROTO_INET ("inet").
    public static let familyIP: UInt8 = 2
    public static let familyINET: UInt8 = 1

    /// NFT_MSG_GETTABLE for one table by name: nfgenmsg (family, version 0,
    /// resource id 0) and NFTA_TABLE_NAME.
    public static func getTable(family: UInt8, name: String) -> (UInt16, UInt16, [UInt8]) {
        (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE, 0, [family, 0, 0, 0] + Attribute.encode([.string(NFTA_TABLE_NAME, name)]))
    }

    /// Whether the table exists in this network namespace, or in the one
    /// `networkNamespaceFD` opens (a container's).
    public static func tableExists(family: UInt8, name: String, networkNamespaceFD: Int32? = nil) throws -> Bool {
        let socket =
            try networkNamespaceFD.map { fd throws(SystemError) in try NetlinkSocket(protocol: NETLINK_NETFILTER, networkNamespaceFD: fd) }
            ?? NetlinkSocket(protocol: NETLINK_NETFILTER)
        let client = RouteNetlink(transport: socket)
        do {
            _ = try client.get(getTable(family: family, name: name), operation: "get nftables table \(name)")
            return true
        } catch let error as NetlinkError where error.errno == 2 {  // ENOENT
            return false
        }
    }

    /// Where the network namespace's nf_tables ruleset stands: its
    /// namespace (the cookie, which the kernel never gives another namespace
    /// while it runs) and the ruleset's generation, which every committed
    /// change to any table moves on. The same generation in the same
    /// namespace, in the same boot, is the same ruleset.
    public struct Generation: Equatable, Sendable {
        public var namespaceCookie: UInt64
        public var id: UInt32
    }

    /// NFT_MSG_GETGEN: nfgenmsg (AF_UNSPEC, version 0, resource id 0).
    public static func getGeneration() -> (UInt16, UInt16, [UInt8]) { (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN, 0, [0, 0, 0, 0]) }

    /// The generation in NFT_MSG_NEWGEN's answer (NFTA_GEN_ID, big-endian
    /// after the nfgenmsg); nil when it holds none.
    public static func generationID(_ payload: [UInt8]) -> UInt32? {
        guard payload.count >= 4, let attributes = Attribute.decode(payload[4...]),
            let id = attributes.first(where: { $0.type & 0x3fff == NFTA_GEN_ID }), id.value.count == 4
        else { return nil }
        return id.value.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The ruleset generation of this network namespace, or of the one
    /// `networkNamespaceFD` opens (a container's); nil when the kernel does
    /// not tell (no CAP_NET_ADMIN, or no SO_NETNS_COOKIE before 5.14).
    public static func generation(networkNamespaceFD: Int32? = nil) -> Generation? {
        let opened =
            networkNamespaceFD.map { fd in try? NetlinkSocket(protocol: NETLINK_NETFILTER, networkNamespaceFD: fd) }
            ?? (try? NetlinkSocket(protocol: NETLINK_NETFILTER))
        guard let socket = opened else { return nil }
        var cookie: UInt64 = 0
        var length = socklen_t(MemoryLayout<UInt64>.size)
        guard getsockopt(socket.fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &length) == 0, cookie != 0 else { return nil }
        let client = RouteNetlink(transport: socket)
        guard let reply = try? client.get(getGeneration(), operation: "get nftables generation"), let id = generationID(reply.payload)
        else { return nil }
        return Generation(namespaceCookie: cookie, id: id)
    }
}
