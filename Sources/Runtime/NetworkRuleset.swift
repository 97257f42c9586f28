import FoundationEssentials
import Kernel
import Model
import Netlink

/// The host-side nftables table of one network, `inet berth_PARENT-NETWORK`:
/// its port forwards (DNAT), its masquerade (NAT networks) and its isolation
/// from every other berth network (a forward filter). One table per network,
/// applied as one transaction that replaces that table only: applying or
/// changing one network never rewrites another's rules, and a network no
/// manifest of this apply names keeps its table until the network is deleted.
///
/// Isolation is decided where traffic leaves a network: every bridge berth
/// makes is in the device group `NetworkConfig.bridgeGroup`, and a network's
/// forward chain drops what its bridge sends to a bridge of that group
/// other than its own and those of the networks it may reach, except
/// replies (conntrack established/related) and connections to a port
/// forward (DNAT: published on the host's addresses). It holds whatever
/// the host's ip_forward is, for IPv4 and IPv6.
public struct NetworkRuleset: Equatable, Sendable {
    public var network: String
    public var table: String
    public var text: String
    /// The bridge whose IPv4 forwarding must be on (per interface, never globally).
    public var forwardingBridge: String?
    /// What each manifest field makes of the table, as plan rows show it.
    public var fields: [String: String]

    public static let family = "inet"

    /// Each chain and the manifest field whose rules it holds.
    public static let chains: [(name: String, field: String)] = [
        ("prerouting", "spec.portForwards"), ("output", "spec.portForwards"), ("postrouting", "spec.nat"), ("forward", "spec.reach"),
    ]

    /// Every table of the instance of `cgroupParent` starts with this (the
    /// sanitised parent has no '-', network names no '_': names never clash).
    public static func tablePrefix(cgroupParent: String) -> String {
        "berth_" + String(cgroupParent.map { $0.isLetter || $0.isNumber ? $0 : "_" }) + "-"
    }

    public static func tableName(cgroupParent: String, network: String) -> String {
        tablePrefix(cgroupParent: cgroupParent) + network
    }

    /// `reached`: the networks `network` may reach (their bridges);
    /// `containers`: those its port forwards name (their addresses).
    public init(table: String, network: NetworkObject, reached: [NetworkObject], containers: [ContainerObject]) {
        self.network = network.metadata.name
        self.table = table
        let spec = network.spec
        let bridge = network.spec.bridge
        let group = NetworkConfig.bridgeGroup
        var forwards: [String] = []
        var summaries: [String] = []
        for forward in spec.portForwards {
            let attachment = containers.first { $0.metadata.name == forward.container }?.spec.networks
                .first { $0.network == network.metadata.name }
            guard let address = attachment?.addresses.first(where: { $0.address.isIPv4 })?.address else { continue }
            let destination = forward.hostAddress.map { "ip daddr \($0) " } ?? "meta nfproto ipv4 fib daddr type local "
            let port = forward.effectiveContainerPort
            forwards.append("\(destination)\(forward.protocol.rawValue) dport \(forward.hostPort) dnat ip to \(address):\(port)")
            let on = forward.hostAddress.map { "\($0):\(forward.hostPort)" } ?? "\(forward.hostPort)"
            summaries.append("\(forward.protocol.rawValue) \(on) → \(address):\(port)")
        }
        // Masquerade towards the outside only: not towards berth's bridges.
        let masquerade = spec.nat ? ["ip saddr \(spec.subnet) oifgroup != \(group) masquerade"] : []
        let reachable = [bridge] + reached.map(\.spec.bridge)
        let quoted = reachable.map { "\"\($0)\"" }.joined(separator: ", ")
        let isolation = [
            "iifname \"\(bridge)\" oifgroup \(group) ct state established,related accept",
            "iifname \"\(bridge)\" oifgroup \(group) ct status dnat accept",
            "iifname \"\(bridge)\" oifname { \(quoted) } accept",
            "iifname \"\(bridge)\" oifgroup \(group) drop",
        ]
        func chain(_ name: String, _ type: String, _ priority: String, _ rules: [String]) -> String {
            "  chain \(name) {\n    type \(type) hook \(name) priority \(priority); policy accept;\n"
                + rules.map { "    \($0)\n" }.joined() + "  }\n"
        }
        let family = NetworkRuleset.family
        text =
            "add table \(family) \(table)\ndelete table \(family) \(table)\ntable \(family) \(table) {\n"
            + chain("prerouting", "nat", "dstnat", forwards)
            // Connections made from the host itself to a forwarded port.
            + chain("output", "nat", "-100", forwards)
            + chain("postrouting", "nat", "srcnat", masquerade)
            + chain("forward", "filter", "filter", isolation)
            + "}\n"
        forwardingBridge = spec.needsForwarding ? bridge : nil
        let reach = (spec.reach ?? []).sorted()
        fields = [
            "spec.portForwards": summaries.isEmpty ? "none" : summaries.joined(separator: ", "),
            "spec.nat": spec.nat ? "masquerade \(spec.subnet)" : "none",
            "spec.reach": reach.isEmpty ? "no other network" : reach.joined(separator: ", "),
        ]
    }

    /// A short fingerprint of the rules, kept in the state dir.
    public var fingerprint: String { FNV1a.hex64(text) }

    /// What berth keeps about the table it applied, in `STATE/rulesets/NETWORK`:
    /// the rules' fingerprint, each chain's listing as the kernel gave it
    /// back (hashed), and the plan rows' values.
    ///
    /// `generation`: where the kernel's ruleset stood when those chains were
    /// listed (RulesetGeneration's text); while it stands there, nothing
    /// changed any table, so the chains are as listed and are not listed
    /// again. Nil (records of older versions, or the kernel did not say):
    /// listed every time.
    struct Record: Codable, Equatable {
        var table: String
        var fingerprint: String
        var chains: [String: String]
        var fields: [String: String]
        var generation: String?
    }

    /// The other networks' records listed at `previous`, moved on to `next`:
    /// the one commit between changed another table only. Best effort (a
    /// record left behind is listed at the next observe).
    static func carryOver(state: StateStore, from previous: RulesetGeneration, to next: RulesetGeneration, except network: String) {
        for name in Syscall.entryNames(in: recordPath(state, network: ""))
        where name != network && !name.hasPrefix(".") && !Syscall.isTemporaryName(name) {
            let path = recordPath(state, network: name)
            guard var record = NetworkRuleset.record(at: path), RulesetGeneration(record.generation) == previous else { continue }
            record.generation = next.description
            if let encoded = try? RecordJSON.encode(record) { try? Syscall.writeAtomically(encoded, to: path) }
        }
    }

    /// One difference between this ruleset and the host: the manifest
    /// changed it since berth applied it, or the kernel's table was changed
    /// behind berth's back (`drift`).
    public struct Difference: Equatable, Sendable {
        public var field: String
        public var desired: String
        /// Nil: absent.
        public var observed: String?
        public var drift: Bool
    }

    static func recordPath(_ state: StateStore, network: String) -> String {
        state.paths.stateDirectory.string + "/rulesets/" + network
    }

    /// The record at `path`; nil when there is none or it is unreadable.
    static func record(at path: String) -> Record? {
        (try? Syscall.readFile(path, limit: 1 << 16)).flatMap { try? RecordJSON.decodeRulesetRecord(from: $0) }
    }

    /// Applies the table (one transaction) and the bridge's forwarding
    /// sysctl; records what was applied and how the kernel lists each chain.
    public func apply(state: StateStore) throws {
        let nft = try NFTables()
        // Where the ruleset stood before this transaction.
        let previous = RulesetGeneration.current()
        try nft.run(text)
        Failpoint.natApplied.hit()
        if let forwardingBridge {
            try Syscall.writeValue("1", to: "/proc/sys/net/ipv4/conf/\(forwardingBridge)/forwarding", allowingSpaces: false)
        }
        // The listing's generation, when no change came between (one did:
        // none, and the next observe lists the table).
        let (listing, listed) = try RulesetGeneration.listed { try nft.run("list table \(NetworkRuleset.family) \(table)") }
        let record = Record(
            table: table, fingerprint: fingerprint, chains: NetworkRuleset.chainHashes(listing), fields: fields,
            generation: listed?.description)
        let path = NetworkRuleset.recordPath(state, network: network)
        try FileManager.default.createDirectory(
            atPath: String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]), withIntermediateDirectories: true)
        try Syscall.writeAtomically(try RecordJSON.encode(record), to: path)
        // This transaction and no other came after `previous`: the other
        // networks' tables listed then are as listed (it changed this one
        // only), and are not listed again for it (the example's two
        // networks, applied one after the other).
        if let previous, let listed, previous.next == listed {
            NetworkRuleset.carryOver(state: state, from: previous, to: listed, except: network)
        }
    }

    /// Deletes a network's table and its record (idempotent).
    public static func delete(table: String, network: String, state: StateStore) throws {
        try NFTables().run("add table \(family) \(table)\ndelete table \(family) \(table)\n")
        try Syscall.removeFile(recordPath(state, network: network), missingOK: true)
    }

    /// Deletes the instance-wide NAT table of older berth versions (`ip
    /// berth_PARENT`) and its record (idempotent).
    public static func deleteLegacy(table: String, state: StateStore) throws {
        try NFTables().run("add table ip \(table)\ndelete table ip \(table)\n")
        try Syscall.removeFile(state.paths.stateDirectory.string + "/nat.fingerprint", missingOK: true)
    }

    /// A listing observe made and found as recorded, at a generation no
    /// commit came into (between its two reads): recorded by `confirm`.
    public struct Confirmation: Sendable {
        let network: String
        /// The record the listing was compared with.
        let record: Record
        let generation: RulesetGeneration
    }

    /// What observe found of this ruleset: where the host differs from it,
    /// and, when the table was listed and found as recorded, the listing
    /// to confirm.
    public struct Observation {
        public var differences: [Difference]
        public var confirmation: Confirmation?
    }

    /// Where the host differs from this ruleset: nothing when berth applied
    /// this very ruleset and the kernel lists each chain as it did then.
    /// `nft`: the context for a listing, shared by the networks of one
    /// pass (and made only when a table is listed).
    public func differences(state: StateStore, nft: () throws -> NFTables = { try NFTables() }) -> [Difference] {
        observe(state: state, nft: nft).differences
    }

    /// `differences`, and the listing's confirmation when one was made and
    /// found nothing.
    public func observe(state: StateStore, nft: () throws -> NFTables = { try NFTables() }) -> Observation {
        guard let record = NetworkRuleset.record(at: NetworkRuleset.recordPath(state, network: network)), record.table == table else {
            return Observation(differences: [Difference(field: "table", desired: "\(table) (\(NetworkRuleset.family))", observed: nil, drift: false)])
        }
        guard record.fingerprint == fingerprint else {
            // The manifests changed it: the fields that differ, or the rules as a whole.
            let changed = NetworkRuleset.chains.map(\.field).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
                .filter { fields[$0] != record.fields[$0] }
                .map { Difference(field: $0, desired: fields[$0] ?? "none", observed: record.fields[$0] ?? "none", drift: false) }
            return Observation(
                differences: changed.isEmpty
                    ? [Difference(field: "table", desired: "\(table) as the manifests want", observed: "as applied before", drift: false)]
                    : changed)
        }
        // No change to any table since the chains were listed: they are as
        // recorded (no libnftables, no listing: about 1 ms of each plan,
        // apply, drift and agent pass with a network).
        if RulesetGeneration.stands(at: record.generation) { return Observation(differences: []) }
        let (listing, listed) = RulesetGeneration.listed { try? nft().run("list table \(NetworkRuleset.family) \(table)") }
        let differences = differences(listing: listing, record: record)
        guard differences.isEmpty, listing != nil, let listed else { return Observation(differences: differences) }
        return Observation(differences: [], confirmation: Confirmation(network: network, record: record, generation: listed))
    }

    /// A listing observe confirmed, recorded at its generation (the next
    /// observe then lists the table only when some table changed since):
    /// by apply and the agent's pass, never by plan or drift, which write
    /// nothing. Only while the record is still the one the listing was
    /// compared with; best effort (not recorded: listed again).
    public static func confirm(_ confirmation: Confirmation, state: StateStore) {
        let path = recordPath(state, network: confirmation.network)
        guard var record = record(at: path), record == confirmation.record else { return }
        record.generation = confirmation.generation.description
        if let encoded = try? RecordJSON.encode(record) { try? Syscall.writeAtomically(encoded, to: path, durable: false) }
    }

    /// The differences between a listing of the table (nil: it could not
    /// be listed) and the chains berth recorded.
    func differences(listing: String?, record: Record) -> [Difference] {
        let kernel = listing.map(NetworkRuleset.chainHashes) ?? [:]
        var differences: [Difference] = []
        for (name, field) in NetworkRuleset.chains where record.chains[name] != kernel[name] {
            let observed = listing == nil ? "table missing" : kernel[name] == nil ? "chain \(name) missing" : "chain \(name) edited"
            if let index = differences.firstIndex(where: { $0.field == field }) {
                if differences[index].observed != observed {
                    differences[index].observed = (differences[index].observed ?? "") + ", " + observed
                }
            } else {
                differences.append(Difference(field: field, desired: fields[field] ?? "none", observed: observed, drift: true))
            }
        }
        // A chain berth never made in its table (a hook of someone else's).
        for name in kernel.keys.sorted() where record.chains[name] == nil {
            differences.append(Difference(field: "table", desired: "\(table) as applied", observed: "chain \(name) added", drift: true))
        }
        return differences
    }

    /// Each chain of a `list table` output, hashed: the lines from
    /// "chain NAME {" to its closing brace.
    static func chainHashes(_ listing: String) -> [String: String] {
        var result: [String: String] = [:]
        var current: (name: String, lines: [Substring])?
        for line in listing.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if let open = current {
                if trimmed == "}" {
                    result[open.name] = FNV1a.hex64(open.lines.joined(separator: "\n"))
                    current = nil
                } else {
                    current?.lines.append(trimmed)
                }
            } else if trimmed.hasPrefix("chain "), trimmed.hasSuffix("{") {
                current = (String(trimmed.dropFirst("chain ".count).dropLast().trimmingSuffix(" ")), [])
            }
        }
        return result
    }

    /// IPv4 forwarding of one interface (nil: no such interface).
    public static func forwarding(_ interface: String) -> Bool? {
        (try? Syscall.readFile("/proc/sys/net/ipv4/conf/\(interface)/forwarding", limit: 8)).map { $0.first == UInt8(ascii: "1") }
    }
}

extension Substring {
    fileprivate func trimmingSuffix(_ character: Character) -> Substring {
        var slice = self
        while slice.last == character { slice = slice.dropLast() }
        return slice
    }
}
