import FoundationEssentials
import Kernel
import Model

/// What berth keeps about a container it created, in
/// `STATE/containers/NAME/container.json`: enough to find it again after
/// berth restarts (pid plus start time, re-checked against /proc).
public struct ContainerRecord: Codable, Equatable, Sendable {
    public var name: String
    /// The init's pid in berth's pid namespace; nil when stopped.
    public var pid: Int32?
    /// /proc/PID/stat start time, to tell a recycled pid from our init.
    public var startTime: UInt64?
    public var cgroup: String
    public var rootfs: String
    public var lower: String
    public var upper: String
    public var work: String
    public var keepPrivateLayer: Bool
    /// What `berth exec` applies to commands it runs inside.
    public var capabilities: UInt64?
    public var noNewPrivileges: Bool?
    public var seccomp: Bool?
    public var environment: [String]?
    /// Whether IPv6 is on in its network namespace (decided at start).
    public var ipv6: Bool?
    /// The fingerprint of its firewall table as the kernel listed it right
    /// after berth applied it (nil: no table).
    public var firewallFingerprint: String?
    /// The spec it was started from, so `berth start` can start it again.
    public var spec: ContainerSpec?
    /// The networks it was attached to, for `berth start`.
    public var networks: [NetworkObject]?
}

extension ContainerRecord {
    /// What `berth exec` needs of how the init was launched.
    mutating func keep(_ launch: ContainerLaunch) {
        capabilities = launch.capabilities.mask
        noNewPrivileges = launch.noNewPrivileges
        seccomp = launch.seccomp
        environment = launch.environment
        ipv6 = !launch.disableIPv6
    }
}

/// The state directory's layout and atomic reads and writes.
public struct StateStore: Sendable {
    public let paths: RuntimePaths

    public init(paths: RuntimePaths) { self.paths = paths }

    public var containersDirectory: String { paths.stateDirectory.string + "/containers" }
    public var templatesDirectory: String { paths.stateDirectory.string + "/templates" }
    public func containerDirectory(_ name: String) -> String { containersDirectory + "/" + name }
    public func runDirectory(_ name: String) -> String { paths.runDirectory.string + "/containers/" + name }

    public func save(_ record: ContainerRecord) throws {
        try FileManager.default.createDirectory(atPath: containerDirectory(record.name), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Syscall.writeAtomically(Array(try encoder.encode(record)), to: containerDirectory(record.name) + "/container.json")
    }

    /// The record, or nil when there is none or it is unreadable (the kernel
    /// is then the truth to rebuild from).
    public func load(_ name: String) -> ContainerRecord? {
        guard let bytes = try? Syscall.readFile(containerDirectory(name) + "/container.json") else { return nil }
        return try? JSONDecoder().decode(ContainerRecord.self, from: Data(bytes))
    }

    public var networksDirectory: String { paths.stateDirectory.string + "/networks" }

    /// Records a bridge berth created: only recorded bridges are ever deleted.
    public func recordNetwork(_ name: String, bridge: String) throws {
        try FileManager.default.createDirectory(atPath: networksDirectory, withIntermediateDirectories: true)
        try Syscall.writeAtomically(Array(bridge.utf8), to: networksDirectory + "/" + name)
    }

    /// Network name → bridge, for the networks berth created.
    public func recordedNetworks() -> [String: String] {
        var result: [String: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: networksDirectory)) ?? [] where !name.hasPrefix(".") {
            if let bytes = try? Syscall.readFile(networksDirectory + "/" + name, limit: 64) {
                result[name] = String(decoding: bytes, as: UTF8.self)
            }
        }
        return result
    }

    public func hasNetworkRecord(_ name: String) -> Bool { Syscall.exists(networksDirectory + "/" + name) }

    public func forgetNetwork(_ name: String) {
        try? FileManager.default.removeItem(atPath: networksDirectory + "/" + name)
    }

    public func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: containersDirectory)) ?? [])
            .filter { !$0.hasPrefix(".") }.sorted()
    }
}
