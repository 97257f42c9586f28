import Model

/// The small records every plan, apply and drift reads (a network's record
/// and its ruleset's, each source's inventory), read as container.json is
/// (RecordReader): the parsed tree's members taken by name, without
/// Codable's boxed containers, whose first use in a fresh process (their
/// generic metadata, `Dictionary`'s decoding) was about a quarter of a
/// one-container apply's observe. Anything else than what berth writes
/// (an unknown member, a missing or mistyped one) is decoded again through
/// Codable over the same tree, so it reads, or fails, as it did before.
extension RecordJSON {
    /// A network's record; its spec (when not omitted) through its own
    /// Codable, resolved as `NetworkRecord.init(from:)` resolves it.
    static func decodeNetworkRecord(from bytes: [UInt8], omitting: Set<String> = []) throws -> NetworkRecord {
        try decodeSmall(bytes, omitting: omitting, RecordReader.networkRecord)
    }

    /// A network's ruleset record (NetworkRuleset.Record).
    static func decodeRulesetRecord(from bytes: [UInt8]) throws -> NetworkRuleset.Record {
        try decodeSmall(bytes, omitting: [], RecordReader.rulesetRecord)
    }

    /// A source's inventory, its lists as stored (Codable's: not sorted again).
    static func decodeInventory(from bytes: [UInt8]) throws -> Inventory {
        try decodeSmall(bytes, omitting: [], RecordReader.inventory)
    }

    /// `read` over the parsed tree; Codable over the same tree when it
    /// cannot (RecordReader.Unread).
    private static func decodeSmall<T: Decodable>(
        _ bytes: [UInt8], omitting: Set<String>, _ read: (JSONValue) throws -> T
    ) throws -> T {
        var parser = JSONParser(bytes: bytes)
        parser.omitted = omitting
        let root = try parser.document()
        if let value = try? read(root) { return value }
        return try T(from: TreeDecoder(value: root, codingPath: []))
    }
}

extension RecordReader {
    static func networkRecord(_ root: JSONValue) throws -> NetworkRecord {
        var bridge: String?
        var record = NetworkRecord(bridge: "")
        var stored: NetworkSpec?
        for (key, member) in try object(root) {
            switch key {
            case "bridge": bridge = try string(member)
            case "oldBridges": record.oldBridges = try optional(member, strings)
            case "spec":
                stored = try optional(member) { try NetworkSpec(from: TreeDecoder(value: $0, codingPath: [])) }
            default: throw Unread()
            }
        }
        guard let bridge else { throw Unread() }
        record.bridge = bridge
        if var stored {
            stored.bridge = stored.bridge ?? bridge
            record.spec = stored.resolved(name: bridge)
        }
        return record
    }

    static func rulesetRecord(_ root: JSONValue) throws -> NetworkRuleset.Record {
        var table: String?
        var fingerprint: String?
        var chains: [String: String]?
        var fields: [String: String]?
        var generation: String?
        for (key, member) in try object(root) {
            switch key {
            case "table": table = try string(member)
            case "fingerprint": fingerprint = try string(member)
            case "chains": chains = try stringMap(member)
            case "fields": fields = try stringMap(member)
            case "generation": generation = try optional(member, RecordReader.string)
            default: throw Unread()
            }
        }
        guard let table, let fingerprint, let chains, let fields else { throw Unread() }
        return NetworkRuleset.Record(table: table, fingerprint: fingerprint, chains: chains, fields: fields, generation: generation)
    }

    static func inventory(_ root: JSONValue) throws -> Inventory {
        var source: String?
        var containers: [String]?
        var networks: [String]?
        for (key, member) in try object(root) {
            switch key {
            case "source": source = try string(member)
            case "containers": containers = try strings(member)
            case "networks": networks = try strings(member)
            default: throw Unread()
            }
        }
        guard let source, let containers, let networks else { throw Unread() }
        var inventory = Inventory(source: source)
        inventory.containers = containers
        inventory.networks = networks
        return inventory
    }
}
