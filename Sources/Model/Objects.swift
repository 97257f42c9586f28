/// The kinds of manifest document berth knows.
public enum ObjectKind: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    case container = "Container"
    case network = "Network"
    case profile = "Profile"

    public static func < (lhs: ObjectKind, rhs: ObjectKind) -> Bool { lhs.rawValue < rhs.rawValue }
}

public struct ObjectMeta: Hashable, Sendable, Codable {
    public var name: String
    public var labels: [String: String]
    public var annotations: [String: String]

    public init(name: String, labels: [String: String] = [:], annotations: [String: String] = [:]) {
        self.name = name
        self.labels = labels
        self.annotations = annotations
    }
}

/// Which hosts of a fleet a manifest applies to. Empty means every host.
public struct Placement: Hashable, Sendable, Codable {
    /// Host names; the object applies to a host named in the list.
    public var hostnames: [String]?
    /// Every label must match the host's labels.
    public var hostLabels: [String: String]?

    public init(hostnames: [String]? = nil, hostLabels: [String: String]? = nil) {
        self.hostnames = hostnames
        self.hostLabels = hostLabels
    }

    public func matches(_ host: HostFacts) -> Bool {
        if let hostnames, !hostnames.contains(host.name) { return false }
        if let hostLabels {
            for (key, value) in hostLabels where host.labels[key] != value { return false }
        }
        return true
    }
}

/// What berth knows about the host it plans for: detected, or given with
/// `--host` and `--host-label`.
public struct HostFacts: Hashable, Sendable, Codable {
    public var name: String
    public var labels: [String: String]
    public init(name: String, labels: [String: String] = [:]) {
        self.name = name
        self.labels = labels
    }
}

/// Where a value came from, for error messages and for `berth plan` output.
public struct SourceLocation: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var file: String
    /// 1-based.
    public var line: Int
    /// 1-based, in characters.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A named object from a manifest: its metadata, its spec (for containers,
/// with profiles merged in) and where it was declared.
public struct ManifestObject<Spec: Hashable & Sendable & Codable>: Hashable, Sendable, Codable {
    public var metadata: ObjectMeta
    public var spec: Spec
    public var source: SourceLocation
    public init(metadata: ObjectMeta, spec: Spec, source: SourceLocation) {
        self.metadata = metadata
        self.spec = spec
        self.source = source
    }
}

/// A container with its profiles merged and its defaults applied.
public typealias ContainerObject = ManifestObject<ContainerConfig>
/// A network with its defaults applied.
public typealias NetworkObject = ManifestObject<NetworkConfig>
public typealias ProfileObject = ManifestObject<ContainerSpec>

/// What one host should have: the input to planning.
public struct DesiredHost: Hashable, Sendable, Codable {
    public var host: HostFacts
    public var networks: [NetworkObject]
    public var containers: [ContainerObject]
    public init(host: HostFacts, networks: [NetworkObject], containers: [ContainerObject]) {
        self.host = host
        self.networks = networks
        self.containers = containers
    }
}
