import Kernel
import Model

#if canImport(Glibc)
    import Glibc
#endif

/// A container's own inbound firewall: an nftables table inside its network
/// namespace, applied in one libnftables transaction from a C thread that
/// joins the namespace (never Swift code: setns is per thread).
public enum ContainerFirewall {
    /// Its name, in family inet.
    static let tableName = "berth"
    static let table = "inet \(tableName)"

    /// The ruleset for `firewall` (typed values only), replacing the table in
    /// one transaction; nil when there is nothing to enforce.
    public static func ruleset(_ firewall: ContainerConfig.Firewall?) -> String? {
        guard let firewall, firewall.defaultPolicy == .drop || !firewall.rules.isEmpty else { return nil }
        var rules = ["ct state established,related accept", "iifname \"lo\" accept"]
        for rule in firewall.rules {
            var parts: [String] = []
            if let from = rule.from { parts.append("\(from.address.isIPv4 ? "ip" : "ip6") saddr \(from.network)/\(from.prefixLength)") }
            switch (rule.protocol, rule.port) {
            case (.tcp, let port?), (.udp, let port?): parts.append("\(rule.protocol.rawValue) dport \(port)")
            case (.tcp, nil), (.udp, nil): parts.append("meta l4proto \(rule.protocol.rawValue)")
            case (.icmp, _): parts.append("meta l4proto { icmp, ipv6-icmp }")
            case (.any, _): break
            }
            parts.append(rule.action == .allow ? "accept" : "drop")
            rules.append(parts.joined(separator: " "))
        }
        let policy = firewall.defaultPolicy == .drop ? "drop" : "accept"
        return "add table \(table)\ndelete table \(table)\ntable \(table) {\n  chain input {\n"
            + "    type filter hook input priority filter; policy \(policy);\n"
            + rules.map { "    \($0)\n" }.joined() + "  }\n}\n"
    }

    /// What ContainerFirewall.apply left in the namespace.
    struct Applied: Equatable, Sendable {
        /// The fingerprint of the table as the kernel listed it right after
        /// the commit; nil: no table.
        var fingerprint: String?
        /// Where the ruleset stood before the commit, and when the listing
        /// was made (nil when a change came between its two reads; without
        /// a table, right after the commit).
        var step: RulesetStep
    }

    /// Applies `firewall` inside the network namespace of `pid` (removing the
    /// table when there is nothing to enforce) and lists the table it made.
    static func apply(_ firewall: ContainerConfig.Firewall?, pid: pid_t) throws -> Applied {
        let text = ruleset(firewall) ?? "add table \(table)\ndelete table \(table)\n"
        let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespaceFD) }
        let before = RulesetGeneration.current(networkNamespaceFD: namespaceFD)
        try NFTables.run(text, inNetworkNamespace: namespaceFD)
        guard ruleset(firewall) != nil else {
            return Applied(fingerprint: nil, step: RulesetStep(before: before, after: RulesetGeneration.current(networkNamespaceFD: namespaceFD)))
        }
        let (listing, listed) = try RulesetGeneration.listed(networkNamespaceFD: namespaceFD) {
            try NFTables.run("list table \(table)", inNetworkNamespace: namespaceFD)
        }
        return Applied(fingerprint: FNV1a.hex64(listing), step: RulesetStep(before: before, after: listed))
    }

    /// The fingerprint of the table as the kernel lists it now, nil when
    /// there is no table: a flushed or edited table shows as a difference.
    /// `recorded`: the fingerprint and generation berth recorded, given
    /// back without a listing while the namespace's ruleset is still at
    /// that generation (nothing in it changed since).
    public static func observe(pid: pid_t, recorded: (fingerprint: String?, generation: String?)? = nil) throws -> String? {
        let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespaceFD) }
        if let recorded, RulesetGeneration.stands(at: recorded.generation, networkNamespaceFD: namespaceFD) { return recorded.fingerprint }
        guard let listing = try? NFTables.run("list table \(table)", inNetworkNamespace: namespaceFD) else { return nil }
        return FNV1a.hex64(listing)
    }
}

extension ContainerFirewall {
    /// How many rules the container's table holds (numiptent); 0 without a table.
    public static func ruleCount(pid: pid_t) throws -> UInt64 {
        guard let listing = try ContainerTables.list(inet: tableName, pid: pid) else { return 0 }
        return ruleCount(listing: listing)
    }

    /// The rules in an `nft list table` listing: the lines inside a chain
    /// that are neither its `type ... hook` line nor a brace.
    public static func ruleCount(listing: String) -> UInt64 {
        var count: UInt64 = 0
        var inChain = false
        for line in listing.split(separator: "\n") {
            let text = line.drop { $0 == " " || $0 == "\t" }
            if text.hasPrefix("chain ") {
                inChain = true
            } else if text == "}" {
                inChain = false
            } else if inChain && !text.isEmpty && !(text.hasPrefix("type ") && text.contains(" hook ")) && !text.hasPrefix("policy ") {
                count += 1
            }
        }
        return count
    }
}
