import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// numtcpsock (OpenVZ's TCP socket beancounter), enforced where the kernel
/// has no counter for it: an nftables table of its own in the container's
/// network namespace counts its TCP connections (conntrack, both
/// directions, in one set element) and refuses a new one past the limit
/// with a TCP reset. Its rules' counters are how often it refused (the
/// failcnt). Built from a typed number only, one transaction, from a C
/// thread that joins the namespace.
public enum ConnectionLimit {
    static let table = "inet berth_ubc"

    /// The table for `limit` connections, replacing any in one transaction.
    public static func ruleset(_ limit: Int) -> String {
        let rule = "ct state new meta l4proto tcp add @conns { meta l4proto ct count over \(limit) } counter reject with tcp reset"
        return "add table \(table)\ndelete table \(table)\ntable \(table) {\n"
            + "  set conns { type inet_proto; size 1; flags dynamic; }\n"
            + ["output", "input"].map { chain in
                "  chain \(chain) {\n    type filter hook \(chain) priority filter; policy accept;\n    \(rule)\n  }\n"
            }.joined() + "}\n"
    }

    /// Sets the limit inside the network namespace of `pid`; nil removes it.
    public static func apply(_ limit: Int?, pid: pid_t) throws {
        let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespaceFD) }
        try NFTables.run(limit.map(ruleset) ?? "add table \(table)\ndelete table \(table)\n", inNetworkNamespace: namespaceFD)
    }

    /// The limit the kernel holds and how many connections it refused; nil without the table.
    public static func observe(pid: pid_t) throws -> (limit: Int, refused: UInt64)? {
        let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespaceFD) }
        guard let listing = try? NFTables.run("list table \(table)", inNetworkNamespace: namespaceFD) else { return nil }
        return parse(listing)
    }

    /// From `nft list table`: the limit of its rules (nil when they are not
    /// berth's two, each with the same limit: an edited table) and the sum of
    /// their counters' packets.
    public static func parse(_ listing: String) -> (limit: Int, refused: UInt64)? {
        var limits: [Int] = []
        var refused: UInt64 = 0
        // The rules only: once a connection was counted, the set lists its
        // element too ("elements = { tcp ct count over 20 }").
        for line in listing.split(separator: "\n") where line.contains("add @conns") && line.contains("ct count over ") {
            let words = line.split(separator: " ").map(String.init)
            guard let over = words.firstIndex(of: "over"), over + 1 < words.count, let limit = Int(words[over + 1]) else { return nil }
            limits.append(limit)
            if let packets = words.firstIndex(of: "packets"), packets + 1 < words.count, let count = UInt64(words[packets + 1]) {
                refused += count
            }
        }
        guard limits.count == 2, let limit = limits.first, limits.allSatisfy({ $0 == limit }) else { return nil }
        return (limit, refused)
    }
}
