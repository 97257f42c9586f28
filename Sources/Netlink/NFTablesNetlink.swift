import Kernel

/// The one nf_tables question berth asks on every pass, over nfnetlink
/// directly: does a table exist? (libnftables, with its parser and caches,
/// is loaded only when a ruleset is applied or listed.)
public enum NFTablesNetlink {
    static let NETLINK_NETFILTER: Int32 = 12
    static let NFNL_SUBSYS_NFTABLES: UInt16 = 10
    static let NFT_MSG_GETTABLE: UInt16 = 1
    static let NFTA_TABLE_NAME: UInt16 = 1
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
}
