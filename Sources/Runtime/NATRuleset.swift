import FoundationEssentials
import Kernel
import Model
import Netlink

/// The host-side nftables table of one berth instance: masquerade for NAT
/// networks and DNAT for port forwards. Built from typed values only; applied
/// as one transaction that replaces the whole table.
public struct NATRuleset: Equatable, Sendable {
    public var table: String
    public var text: String
    /// Bridges whose IPv4 forwarding must be on (per interface, never globally).
    public var forwardingBridges: [String]

    /// The table berth owns for `cgroupParent` (one table per owner).
    public static func tableName(cgroupParent: String) -> String {
        "berth_" + String(cgroupParent.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    public init(table: String, networks: [NetworkObject], containers: [ContainerObject]) {
        self.table = table
        var prerouting: [String] = []
        var postrouting: [String] = []
        var bridges: [String] = []
        for network in networks {
            let forwards = network.spec.portForwards ?? []
            if network.spec.nat == true {
                postrouting.append("ip saddr \(network.spec.subnet) oifname != \"\(network.bridgeName)\" masquerade")
            }
            if network.spec.needsForwarding { bridges.append(network.bridgeName) }
            for forward in forwards {
                let attachment = containers.first { $0.metadata.name == forward.container }?.spec.networks?
                    .first { $0.network == network.metadata.name }
                guard let address = attachment?.addresses.first(where: { $0.address.isIPv4 })?.address else { continue }
                let destination = forward.hostAddress.map { "ip daddr \($0) " } ?? "fib daddr type local "
                let port = forward.containerPort ?? forward.hostPort
                prerouting.append("\(destination)\(forward.protocol.rawValue) dport \(forward.hostPort) dnat to \(address):\(port)")
            }
        }
        forwardingBridges = bridges
        if prerouting.isEmpty && postrouting.isEmpty {
            // Nothing to do: make sure the table is gone.
            text = "add table ip \(table)\ndelete table ip \(table)\n"
            return
        }
        func chain(_ name: String, _ hook: String, _ priority: String, _ rules: [String]) -> String {
            "  chain \(name) {\n    type nat hook \(hook) priority \(priority); policy accept;\n"
                + rules.map { "    \($0)\n" }.joined() + "  }\n"
        }
        text =
            "add table ip \(table)\ndelete table ip \(table)\ntable ip \(table) {\n"
            + chain("prerouting", "prerouting", "dstnat", prerouting)
            // Connections made from the host itself to a forwarded port.
            + chain("output", "output", "-100", prerouting)
            + chain("postrouting", "postrouting", "srcnat", postrouting)
            + "}\n"
    }

    /// A short fingerprint, kept in the state dir to tell whether the kernel
    /// has this ruleset without re-reading it.
    public var fingerprint: String {
        String(FNV1a.hash64(text), radix: 16)
    }

    public var isEmpty: Bool { forwardingBridges.isEmpty && !text.contains("{") }

    /// Applies the table (one transaction) and the per-bridge forwarding
    /// sysctl; records what was applied and how the kernel lists it.
    public func apply(state: StateStore) throws {
        let nft = try NFTables()
        try nft.run(text)
        Failpoint.natApplied.hit()
        for bridge in forwardingBridges {
            try Syscall.writeValue("1", to: "/proc/sys/net/ipv4/conf/\(bridge)/forwarding", allowingSpaces: false)
        }
        let listing = isEmpty ? "" : FNV1a.hex64(try nft.run("list table ip \(table)"))
        try FileManager.default.createDirectory(atPath: state.paths.stateDirectory.string, withIntermediateDirectories: true)
        try Syscall.writeAtomically(Array("\(fingerprint) \(listing)".utf8), to: state.paths.stateDirectory.string + "/nat.fingerprint")
    }

    /// Whether the kernel holds this ruleset: berth applied this one, the
    /// table lists as it did then (a flushed or edited table differs), and
    /// forwarding is still on for each bridge.
    public func isCurrent(state: StateStore) -> Bool { status(state: state).current }

    /// Whether the kernel holds this ruleset, and whether berth last applied
    /// this very ruleset (then a difference was made behind its back).
    public func status(state: StateStore) -> (current: Bool, appliedByBerth: Bool) {
        let recorded = (try? Syscall.readFile(state.paths.stateDirectory.string + "/nat.fingerprint"))
            .map { String(decoding: $0, as: UTF8.self).split(separator: " ").map(String.init) }
        let applied = recorded?.first == fingerprint
        return (currentInKernel(recorded: recorded), applied)
    }

    private func currentInKernel(recorded: [String]?) -> Bool {
        // Nothing wanted: current when no table is left (whatever was recorded).
        if isEmpty { return !((try? NFTablesNetlink.tableExists(family: NFTablesNetlink.familyIP, name: table)) ?? false) }
        guard let recorded, recorded.first == fingerprint else { return false }
        guard let listing = try? NFTables().run("list table ip \(table)"), recorded.last == FNV1a.hex64(listing) else { return false }
        return forwardingBridges.allSatisfy { bridge in NATRuleset.forwarding(bridge) == true }
    }

    /// IPv4 forwarding of one interface (nil: no such interface).
    public static func forwarding(_ interface: String) -> Bool? {
        (try? Syscall.readFile("/proc/sys/net/ipv4/conf/\(interface)/forwarding", limit: 8)).map { $0.first == UInt8(ascii: "1") }
    }
}
