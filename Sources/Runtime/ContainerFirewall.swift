import Kernel
import Model

#if canImport(Glibc)
    import Glibc
#endif

/// A container's own inbound firewall: an nftables table inside its network
/// namespace, applied by berth-init (setns needs a single-threaded process).
public enum ContainerFirewall {
    /// The ruleset for `firewall` (typed values only), replacing the table in
    /// one transaction; nil when there is nothing to enforce.
    public static func ruleset(_ firewall: FirewallSpec?) -> String? {
        guard let firewall, firewall.defaultPolicy == .drop || !(firewall.rules ?? []).isEmpty else { return nil }
        var rules = ["ct state established,related accept", "iifname \"lo\" accept"]
        for rule in firewall.rules ?? [] {
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
        return "add table inet berth\ndelete table inet berth\ntable inet berth {\n  chain input {\n"
            + "    type filter hook input priority filter; policy \(policy);\n"
            + rules.map { "    \($0)\n" }.joined() + "  }\n}\n"
    }

    /// Where berth-init is: beside the running executable.
    static var helper: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let executable = count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/usr/local/bin/berth"
        let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return directory + "/berth-init"
    }

    /// Applies `firewall` inside the network namespace of `pid` (removing the
    /// table when there is nothing to enforce).
    public static func apply(_ firewall: FirewallSpec?, pid: pid_t) throws {
        let text = ruleset(firewall) ?? "add table inet berth\ndelete table inet berth\n"
        let result = try Spawn.run([helper, "firewall", "/proc/\(pid)/ns/net"], input: Array(text.utf8))
        guard result.exitedCleanly else {
            throw SystemError(call: "berth-init firewall", errno: EIO, subject: "pid \(pid) (status \(result.status >> 8))")
        }
    }
}
