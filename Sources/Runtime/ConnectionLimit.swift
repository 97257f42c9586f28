import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// numtcpsock (OpenVZ's TCP socket beancounter), enforced where the kernel
/// has no counter for it: an nftables table of its own in the container's
/// network namespace counts its TCP connections (conntrack) and refuses a
/// new one past the limit with a TCP reset. Its counting rule's counter is
/// how often it refused (the failcnt). Built from a typed number only, one
/// transaction, from a C thread that joins the namespace.
///
/// One count for both directions: the output and input chains jump to one
/// rule, whose `ct count` keeps one list of connections. Not a set element
/// keyed by protocol (`add @conns { meta l4proto ct count over N }` in a
/// `size 1` set): when two CPUs send the first SYNs at once, the kernel
/// reserves the set's one slot for the first while it builds the element,
/// the second finds the set full, and its rule stops there; that connection
/// was never counted, and the limit let one connection too many through
/// (7 times in 20 bursts of 20 connects on two CPUs; none with one rule).
public enum ConnectionLimit {
    /// Its name, in family inet.
    static let tableName = "berth_ubc"
    static let table = "inet \(tableName)"
    static let countChain = "count"

    /// The table for `limit` connections, replacing any in one transaction.
    public static func ruleset(_ limit: Int) -> String {
        "add table \(table)\ndelete table \(table)\ntable \(table) {\n"
            + "  chain \(countChain) {\n    \(countRule(limit))\n  }\n"
            + ["output", "input"].map { chain in
                "  chain \(chain) {\n    type filter hook \(chain) priority filter; policy accept;\n    \(jumpRule)\n  }\n"
            }.joined() + "}\n"
    }

    static func countRule(_ limit: Int) -> String { "meta l4proto tcp ct count over \(limit) counter reject with tcp reset" }
    static let jumpRule = "ct state new meta l4proto tcp jump \(countChain)"

    /// Sets the limit inside the network namespace of `pid`; nil removes it.
    /// Returns where the namespace's ruleset stood before and after: when
    /// this commit was the only change between, the table is exactly the
    /// one written (the commit replaces it whole), known at `after`.
    @discardableResult
    static func apply(_ limit: Int?, pid: pid_t) throws -> RulesetStep {
        let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespaceFD) }
        return try RulesetStep.committing(networkNamespaceFD: namespaceFD) {
            try NFTables.run(limit.map(ruleset) ?? "add table \(table)\ndelete table \(table)\n", inNetworkNamespace: namespaceFD)
        }
    }

    /// The limit the kernel holds (nil: no table), for plan and drift.
    /// `recorded`: the limit berth set and the generation it is known at
    /// (ContainerRecord.connectionLimitGeneration), given back without a
    /// listing while the namespace's ruleset still stands there.
    public static func limit(pid: pid_t, recorded: (limit: Int?, generation: String?)) throws -> Int? {
        if recorded.generation != nil {
            let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
            defer { Syscall.close(namespaceFD) }
            if RulesetGeneration.stands(at: recorded.generation, networkNamespaceFD: namespaceFD) { return recorded.limit }
        }
        return try observe(pid: pid)?.limit
    }

    /// The limit the kernel holds and how many connections it refused; nil without the table.
    public static func observe(pid: pid_t) throws -> (limit: Int, refused: UInt64)? {
        guard let listing = try ContainerTables.list(inet: tableName, pid: pid) else { return nil }
        return parse(listing)
    }

    /// From `nft list table`: the limit of its counting rule and its
    /// counter's packets; nil when the table is not berth's (an edited
    /// table: not one counting rule, or not both chains jumping to it).
    public static func parse(_ listing: String) -> (limit: Int, refused: UInt64)? {
        let lines = listing.split(separator: "\n").map { String($0.drop { $0 == " " || $0 == "\t" }) }
        let counting = lines.filter { $0.contains("ct count over ") }
        guard counting.count == 1, lines.filter({ $0 == jumpRule }).count == 2 else { return nil }
        let words = counting[0].split(separator: " ").map(String.init)
        guard let over = words.firstIndex(of: "over"), over + 1 < words.count, let limit = Int(words[over + 1]) else { return nil }
        guard let packets = words.firstIndex(of: "packets"), packets + 1 < words.count, let refused = UInt64(words[packets + 1]) else {
            return nil
        }
        return (limit, refused)
    }
}
