import Model

/// container.json read without Codable's generic containers: the parsed
/// tree's members switched on by name and built into the record's types
/// directly. Decoding through `init(from:)` (boxed keyed containers,
/// generic `decodeIfPresent`, metadata lookups at run time) was 16% of a
/// no-op `berth plan`'s CPU at 1000 containers (berth-bench scale): every
/// pass decodes every record in a fresh process.
///
/// It reads what berth writes, member for member as the types' Codable
/// conformances read them (an optional's null as nil, sizes as a byte count
/// or their text, values as their text form). Anything else (a member it
/// does not know, a missing or mistyped one, a value that does not parse)
/// and the record is decoded again through Codable over the same tree: so
/// whatever JSON a record holds, it reads as it did before, and a bad
/// record fails with Codable's error, naming the member's path.
extension RecordJSON {
    static func decodeRecord(from bytes: [UInt8], omitting: Set<String> = []) throws -> ContainerRecord {
        var parser = JSONParser(bytes: bytes)
        parser.omitted = omitting
        let root = try parser.document()
        if let record = try? RecordReader.record(root) { return record }
        return try ContainerRecord(from: TreeDecoder(value: root, codingPath: []))
    }
}

/// The record's types from a parsed tree; `Unread` hands the tree to Codable.
enum RecordReader {
    struct Unread: Error {}

    static func record(_ value: JSONValue) throws -> ContainerRecord {
        var record = ContainerRecord(name: "", cgroup: "", rootfs: "", lower: "", upper: "", work: "", keepPrivateLayer: false)
        // The members Codable requires (non-optional), one bit each.
        var required: UInt8 = 0
        func mark<T>(_ bit: UInt8, _ value: T) -> T {
            required |= bit
            return value
        }
        for (key, member) in try object(value) {
            switch key {
            case "name": record.name = mark(1, try string(member))
            case "cgroup": record.cgroup = mark(2, try string(member))
            case "rootfs": record.rootfs = mark(4, try string(member))
            case "lower": record.lower = mark(8, try string(member))
            case "upper": record.upper = mark(16, try string(member))
            case "work": record.work = mark(32, try string(member))
            case "keepPrivateLayer": record.keepPrivateLayer = mark(64, try bool(member))
            case "pid": record.pid = try optional(member) { try integer($0) }
            case "startTime": record.startTime = try optional(member) { try integer($0) }
            case "scope": record.scope = try optional(member, string)
            case "privateLayerInMemory": record.privateLayerInMemory = try optional(member, bool)
            case "capabilities": record.capabilities = try optional(member) { try integer($0) }
            case "noNewPrivileges": record.noNewPrivileges = try optional(member, bool)
            case "seccomp": record.seccomp = try optional(member, bool)
            case "nestedUserNamespaces": record.nestedUserNamespaces = try optional(member, bool)
            case "sysinfoVirtualized": record.sysinfoVirtualized = try optional(member, bool)
            case "environment": record.environment = try optional(member, strings)
            case "ipv6": record.ipv6 = try optional(member, bool)
            case "firewallFingerprint": record.firewallFingerprint = try optional(member, string)
            case "firewallGeneration": record.firewallGeneration = try optional(member, string)
            case "connectionLimitGeneration": record.connectionLimitGeneration = try optional(member, string)
            case "spec": record.spec = try optional(member, config)
            case "networks":
                // Read by a teardown, not by a plan's observe (which omits
                // them): through Codable.
                record.networks = try optional(member) { try [NetworkObject](from: TreeDecoder(value: $0, codingPath: [])) }
            case "foregroundOwner": record.foregroundOwner = try optional(member) { try array($0) { try integer($0) } }
            case "exitCode": record.exitCode = try optional(member) { try integer($0) }
            case "restarts": record.restarts = try optional(member) { try integer($0) }
            case "diskImage": record.diskImage = try optional(member, string)
            case "diskProject": record.diskProject = try optional(member) { try integer($0) }
            case "labels": record.labels = try optional(member, stringMap)
            case "checkpoint":
                record.checkpoint = try optional(member) { value in
                    var directory: String?
                    var time: Int64?
                    for (key, member) in try object(value) {
                        switch key {
                        case "directory": directory = try string(member)
                        case "time": time = try integer(member)
                        default: throw Unread()
                        }
                    }
                    guard let directory, let time else { throw Unread() }
                    return CheckpointMark(directory: directory, time: time)
                }
            default: throw Unread()
            }
        }
        guard required == 127 else { throw Unread() }
        return record
    }

    /// ContainerConfig's Codable: its manifest form, resolved.
    static func config(_ value: JSONValue) throws -> ContainerConfig {
        let spec = try containerSpec(value)
        guard let config = spec.resolved(name: spec.hostname ?? "") else { throw Unread() }
        return config
    }

    static func containerSpec(_ value: JSONValue) throws -> ContainerSpec {
        try fields(value, into: ContainerSpec()) { spec, key, member in
            switch key {
            case "placement":
                spec.placement = try optional(member) { value in
                    try fields(value, into: Placement()) { placement, key, member in
                        switch key {
                        case "hostnames": placement.hostnames = try optional(member, strings)
                        case "hostLabels": placement.hostLabels = try optional(member, stringMap)
                        default: throw Unread()
                        }
                    }
                }
            case "profiles": spec.profiles = try optional(member, strings)
            case "state": spec.state = try optional(member) { try raw($0) }
            case "hostname": spec.hostname = try optional(member, string)
            case "rootfs": spec.rootfs = try optional(member, rootfs)
            case "init":
                spec.`init` = try optional(member) { value in
                    try fields(value, into: InitSpec()) { initSpec, key, member in
                        switch key {
                        case "command": initSpec.command = try optional(member, strings)
                        case "workingDir": initSpec.workingDir = try optional(member, string)
                        default: throw Unread()
                        }
                    }
                }
            case "env": spec.env = try optional(member, stringMap)
            case "networks": spec.networks = try optional(member) { try array($0, attachment) }
            case "resources": spec.resources = try optional(member, resources)
            case "devices":
                spec.devices = try optional(member) { value in
                    try array(value) { value in
                        var path: String?
                        var access: String?
                        for (key, member) in try object(value) {
                            switch key {
                            case "path": path = try string(member)
                            case "access": access = try optional(member, string)
                            default: throw Unread()
                            }
                        }
                        guard let path else { throw Unread() }
                        return DeviceSpec(path: path, access: access)
                    }
                }
            case "capabilities":
                spec.capabilities = try optional(member) { value in
                    try fields(value, into: CapabilitiesSpec()) { capabilities, key, member in
                        switch key {
                        case "add": capabilities.add = try optional(member, strings)
                        case "drop": capabilities.drop = try optional(member, strings)
                        default: throw Unread()
                        }
                    }
                }
            case "security":
                spec.security = try optional(member) { value in
                    try fields(value, into: SecuritySpec()) { security, key, member in
                        switch key {
                        case "privileged": security.privileged = try optional(member, bool)
                        case "noNewPrivileges": security.noNewPrivileges = try optional(member, bool)
                        case "seccomp": security.seccomp = try optional(member) { try raw($0) }
                        case "nestedUserNamespaces": security.nestedUserNamespaces = try optional(member, bool)
                        default: throw Unread()
                        }
                    }
                }
            case "proc":
                spec.proc = try optional(member) { value in
                    try fields(value, into: ProcSpec()) { proc, key, member in
                        guard key == "virtualize" else { throw Unread() }
                        proc.virtualize = try optional(member, bool)
                    }
                }
            case "mounts": spec.mounts = try optional(member) { try array($0, mount) }
            case "userNamespace":
                spec.userNamespace = try optional(member) { value in
                    var uidMap: [IDRange]?
                    var gidMap: [IDRange]?
                    for (key, member) in try object(value) {
                        switch key {
                        case "uidMap": uidMap = try array(member, idRange)
                        case "gidMap": gidMap = try optional(member) { try array($0, idRange) }
                        default: throw Unread()
                        }
                    }
                    guard let uidMap else { throw Unread() }
                    return UserNamespaceSpec(uidMap: uidMap, gidMap: gidMap)
                }
            case "restartPolicy": spec.restartPolicy = try optional(member) { try raw($0) }
            case "stopTimeout": spec.stopTimeout = try optional(member) { try text($0) }
            case "firewall": spec.firewall = try optional(member, firewall)
            case "policy":
                spec.policy = try optional(member) { value in
                    try fields(value, into: ObjectPolicy()) { policy, key, member in
                        guard key == "drift" else { throw Unread() }
                        policy.drift = try optional(member) { try raw($0) }
                    }
                }
            case "logs":
                spec.logs = try optional(member) { value in
                    try fields(value, into: LogsSpec()) { logs, key, member in
                        guard key == "driver" else { throw Unread() }
                        logs.driver = try optional(member) { try raw($0) }
                    }
                }
            default: throw Unread()
            }
        }
    }

    /// A synthesized enum's form: `{"template": {"_0": "busybox"}}`.
    static func rootfs(_ value: JSONValue) throws -> RootfsSpec {
        try fields(value, into: RootfsSpec()) { rootfs, key, member in
            switch key {
            case "persistent": rootfs.persistent = try optional(member, bool)
            case "source":
                rootfs.source = try optional(member) { value in
                    let cases = try object(value)
                    guard cases.count == 1, let only = cases.first else { throw Unread() }
                    let fields = try object(only.value)
                    guard fields.count == 1, let path = fields["_0"] else { throw Unread() }
                    switch only.key {
                    case "template": return .template(try string(path))
                    case "directory": return .directory(try string(path))
                    case "tarball": return .tarball(try string(path))
                    default: throw Unread()
                    }
                }
            default: throw Unread()
            }
        }
    }

    static func attachment(_ value: JSONValue) throws -> NetworkAttachment {
        var network: String?
        var addresses: [CIDR]?
        var interface: String?
        var defaultRoute: Bool?
        for (key, member) in try object(value) {
            switch key {
            case "network": network = try string(member)
            case "addresses": addresses = try array(member) { try text($0) }
            case "interface": interface = try optional(member, string)
            case "defaultRoute": defaultRoute = try optional(member, bool)
            default: throw Unread()
            }
        }
        guard let network, let addresses else { throw Unread() }
        return NetworkAttachment(network: network, addresses: addresses, interface: interface, defaultRoute: defaultRoute)
    }

    static func resources(_ value: JSONValue) throws -> ResourcesSpec {
        try fields(value, into: ResourcesSpec()) { resources, key, member in
            switch key {
            case "cpu":
                resources.cpu = try optional(member) { value in
                    try fields(value, into: CPUSpec()) { cpu, key, member in
                        switch key {
                        case "weight": cpu.weight = try optional(member) { try integer($0) }
                        case "limit": cpu.limit = try optional(member) { try text($0) }
                        case "cpus": cpu.cpus = try optional(member) { try text($0) }
                        default: throw Unread()
                        }
                    }
                }
            case "memory":
                resources.memory = try optional(member) { value in
                    try fields(value, into: MemorySpec()) { memory, key, member in
                        switch key {
                        case "max": memory.max = try optional(member, byteSize)
                        case "high": memory.high = try optional(member, byteSize)
                        case "swap": memory.swap = try optional(member, byteSize)
                        default: throw Unread()
                        }
                    }
                }
            case "pids":
                resources.pids = try optional(member) { value in
                    try fields(value, into: PidsSpec()) { pids, key, member in
                        guard key == "max" else { throw Unread() }
                        pids.max = try optional(member) { try integer($0) }
                    }
                }
            case "io":
                resources.io = try optional(member) { value in
                    try fields(value, into: IOSpec()) { io, key, member in
                        switch key {
                        case "weight": io.weight = try optional(member) { try integer($0) }
                        case "limits": io.limits = try optional(member) { try array($0, ioLimit) }
                        default: throw Unread()
                        }
                    }
                }
            case "disk":
                resources.disk = try optional(member) { value in
                    try fields(value, into: DiskSpec()) { disk, key, member in
                        switch key {
                        case "size": disk.size = try optional(member, byteSize)
                        case "inodes": disk.inodes = try optional(member) { try integer($0) }
                        case "userQuota": disk.userQuota = try optional(member, bool)
                        default: throw Unread()
                        }
                    }
                }
            case "numtcpsock": resources.numtcpsock = try optional(member) { try integer($0) }
            case "numpty": resources.numpty = try optional(member) { try integer($0) }
            case "numfile": resources.numfile = try optional(member) { try integer($0) }
            default: throw Unread()
            }
        }
    }

    static func ioLimit(_ value: JSONValue) throws -> IODeviceLimit {
        var limit = IODeviceLimit(device: "")
        var device = false
        for (key, member) in try object(value) {
            switch key {
            case "device":
                limit.device = try string(member)
                device = true
            case "readBytesPerSecond": limit.readBytesPerSecond = try optional(member, byteSize)
            case "writeBytesPerSecond": limit.writeBytesPerSecond = try optional(member, byteSize)
            case "readIOPS": limit.readIOPS = try optional(member) { try integer($0) }
            case "writeIOPS": limit.writeIOPS = try optional(member) { try integer($0) }
            default: throw Unread()
            }
        }
        guard device else { throw Unread() }
        return limit
    }

    static func mount(_ value: JSONValue) throws -> MountSpec {
        var type: MountSpec.Kind?
        var source: String?
        var destination: String?
        var readOnly: Bool?
        var size: ByteSize?
        for (key, member) in try object(value) {
            switch key {
            case "type": type = try raw(member)
            case "source": source = try optional(member, string)
            case "destination": destination = try string(member)
            case "readOnly": readOnly = try optional(member, bool)
            case "size": size = try optional(member, byteSize)
            default: throw Unread()
            }
        }
        guard let type, let destination else { throw Unread() }
        return MountSpec(type: type, source: source, destination: destination, readOnly: readOnly, size: size)
    }

    static func idRange(_ value: JSONValue) throws -> IDRange {
        var containerID: UInt32?
        var hostID: UInt32?
        var size: UInt32?
        for (key, member) in try object(value) {
            switch key {
            case "containerID": containerID = try integer(member)
            case "hostID": hostID = try integer(member)
            case "size": size = try integer(member)
            default: throw Unread()
            }
        }
        guard let containerID, let hostID, let size else { throw Unread() }
        return IDRange(containerID: containerID, hostID: hostID, size: size)
    }

    static func firewall(_ value: JSONValue) throws -> FirewallSpec {
        try fields(value, into: FirewallSpec()) { firewall, key, member in
            switch key {
            case "defaultPolicy": firewall.defaultPolicy = try optional(member) { try raw($0) }
            case "rules":
                firewall.rules = try optional(member) { value in
                    try array(value) { value in
                        var action: FirewallRule.Action?
                        var transport: FirewallRule.TransportProtocol?
                        var port: UInt16?
                        var from: CIDR?
                        for (key, member) in try object(value) {
                            switch key {
                            case "action": action = try raw(member)
                            case "protocol": transport = try raw(member)
                            case "port": port = try optional(member) { try integer($0) }
                            case "from": from = try optional(member) { try text($0) }
                            default: throw Unread()
                            }
                        }
                        guard let action, let transport else { throw Unread() }
                        return FirewallRule(action: action, protocol: transport, port: port, from: from)
                    }
                }
            default: throw Unread()
            }
        }
    }

    // MARK: Values, as Codable reads them from the tree (TreeDecoder).

    /// A struct read member by member into `initial` (an unknown member: `read` throws).
    static func fields<T>(_ value: JSONValue, into initial: T, _ read: (inout T, String, JSONValue) throws -> Void) throws -> T {
        var result = initial
        for (key, member) in try object(value) { try read(&result, key, member) }
        return result
    }

    static func object(_ value: JSONValue) throws -> [String: JSONValue] {
        guard case .object(let members) = value else { throw Unread() }
        return members
    }

    static func array<T>(_ value: JSONValue, _ element: (JSONValue) throws -> T) throws -> [T] {
        guard case .array(let elements) = value else { throw Unread() }
        var result: [T] = []
        result.reserveCapacity(elements.count)
        for item in elements { result.append(try element(item)) }
        return result
    }

    /// decodeIfPresent: a null member is nil (an absent one is never read).
    static func optional<T>(_ value: JSONValue, _ read: (JSONValue) throws -> T) throws -> T? {
        if case .null = value { return nil }
        return try read(value)
    }

    static func string(_ value: JSONValue) throws -> String {
        guard case .string(let text) = value else { throw Unread() }
        return text
    }

    static func bool(_ value: JSONValue) throws -> Bool {
        guard case .bool(let flag) = value else { throw Unread() }
        return flag
    }

    static func integer<T: FixedWidthInteger>(_ value: JSONValue) throws -> T {
        guard case .number(let text) = value, let number = T(text) else { throw Unread() }
        return number
    }

    static func strings(_ value: JSONValue) throws -> [String] { try array(value, string) }

    static func stringMap(_ value: JSONValue) throws -> [String: String] {
        try object(value).mapValues { try string($0) }
    }

    /// A String-backed enum (its synthesized Codable: the raw value).
    static func raw<T: RawRepresentable>(_ value: JSONValue) throws -> T where T.RawValue == String {
        guard let parsed = T(rawValue: try string(value)) else { throw Unread() }
        return parsed
    }

    /// A value stored as its text (TextCodable).
    static func text<T: TextCodable>(_ value: JSONValue) throws -> T {
        do { return try T(text: try string(value)) } catch { throw Unread() }
    }

    /// ByteSize's Codable: a byte count, else its text.
    static func byteSize(_ value: JSONValue) throws -> ByteSize {
        switch value {
        case .number(let text):
            guard let bytes = UInt64(text) else { throw Unread() }
            return ByteSize(bytes: bytes)
        case .string(let text):
            do { return try ByteSize(parsing: text) } catch { throw Unread() }
        default: throw Unread()
        }
    }
}
