import FoundationEssentials
import Kernel
import Model

/// What berth keeps about a network whose bridge it created, in
/// `STATE/networks/NAME`: the bridge (only recorded bridges are ever
/// deleted), the spec last applied to it (so that a difference is known as
/// a manifest change or as drift), and bridges made under an older name
/// that still have to go. Records written before specs were kept hold the
/// bridge's name alone, as plain text: they are still read.
public struct NetworkRecord: Codable, Equatable, Sendable {
    public var bridge: String
    public var spec: NetworkConfig?
    /// Bridges made for this network under a name it no longer has.
    public var oldBridges: [String]?

    public init(bridge: String, spec: NetworkConfig? = nil, oldBridges: [String]? = nil) {
        self.bridge = bridge
        self.spec = spec
        self.oldBridges = oldBridges
    }

    private enum CodingKeys: String, CodingKey { case bridge, spec, oldBridges }

    /// A stored spec that names no bridge (written before specs were
    /// resolved) gets the record's bridge, then its other defaults.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        bridge = try container.decode(String.self, forKey: .bridge)
        oldBridges = try container.decodeIfPresent([String].self, forKey: .oldBridges)
        if var stored = try container.decodeIfPresent(NetworkSpec.self, forKey: .spec) {
            stored.bridge = stored.bridge ?? bridge
            spec = stored.resolved(name: bridge)
        }
    }

    /// A record file's bytes: JSON, or the bridge's name alone (older records).
    /// Without `withSpec`, its spec is left out (not decoded).
    static func decode(_ bytes: [UInt8], withSpec: Bool = true) -> NetworkRecord? {
        guard bytes.first == UInt8(ascii: "{") else {
            let bridge = String(decoding: bytes.filter { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: " ") }, as: UTF8.self)
            return bridge.isEmpty ? nil : NetworkRecord(bridge: bridge)
        }
        return try? RecordJSON.decodeNetworkRecord(from: bytes, omitting: withSpec ? [] : ["spec"])
    }
}

extension StateStore {
    public var networksDirectory: String { paths.stateDirectory.string + "/networks" }

    /// Records a bridge berth created: only recorded bridges are ever deleted.
    public func recordNetwork(_ name: String, bridge: String) throws {
        var record = networkRecord(name) ?? NetworkRecord(bridge: bridge)
        record.bridge = bridge
        try saveNetwork(name, record)
    }

    /// Writes a network's record (atomically). Temp files a killed writer
    /// left in the directory go first.
    public func saveNetwork(_ name: String, _ record: NetworkRecord) throws {
        try FileManager.default.createDirectory(atPath: networksDirectory, withIntermediateDirectories: true)
        Syscall.removeStaleTemporaries(in: networksDirectory)
        try Syscall.writeAtomically(
            try RecordJSON.encode(record), to: networksDirectory + "/" + name, beforeRename: { Failpoint.networkRecordRenaming.hit() })
    }

    /// One network's record, or nil when there is none or it is unreadable.
    public func networkRecord(_ name: String, withSpec: Bool = true) -> NetworkRecord? {
        (try? Syscall.readFile(networksDirectory + "/" + name, limit: 1 << 16)).flatMap { NetworkRecord.decode($0, withSpec: withSpec) }
    }

    /// Every network's record, by network name. A temp file a berth killed
    /// before its rename left (`NAME.tmp-PID`) is no record: read as one,
    /// it would be a network of that name, and a prune would delete its
    /// bridge (the record's) under the real network.
    public func networkRecords(withSpecs: Bool = true) -> [String: NetworkRecord] {
        var result: [String: NetworkRecord] = [:]
        for name in Syscall.entryNames(in: networksDirectory)
        where !name.hasPrefix(".") && !Syscall.isTemporaryName(name) {
            if let record = networkRecord(name, withSpec: withSpecs) { result[name] = record }
        }
        return result
    }

    /// Network name → bridge, for the networks berth created.
    public func recordedNetworks() -> [String: String] { networkRecords().mapValues(\.bridge) }

    public func hasNetworkRecord(_ name: String) -> Bool { Syscall.exists(networksDirectory + "/" + name) }

    /// Every bridge a network record names (current or old): berth made them.
    /// Their specs are not read (nor resolved).
    public func recordedBridges() -> Set<String> {
        Set(networkRecords(withSpecs: false).values.flatMap { [$0.bridge] + ($0.oldBridges ?? []) })
    }

    /// Removes a network's record, and temp files killed writers left.
    public func forgetNetwork(_ name: String) {
        try? FileManager.default.removeItem(atPath: networksDirectory + "/" + name)
        Syscall.removeStaleTemporaries(in: networksDirectory)
    }
}
