import Model

/// JSON for berth's own records (container.json): keys sorted, two-space
/// indentation, read back with RecordJSON.decode (RecordJSON+Decode.swift).
///
/// Foundation's JSONEncoder tests every value with dynamic casts (Date,
/// Data, URL, string-keyed dictionaries, ...). In a fresh process each new
/// type makes the runtime scan every protocol conformance in the binary, so
/// its first use cost every `berth run` about 0.3 ms. This encoder only
/// calls each value's own `encode(to:)`.
enum RecordJSON {
    /// How containers and numbers are laid out: a record's own, or
    /// JSONEncoder's (the CLI's output, JSONText).
    enum Layout {
        /// `[]` and `{}` for empty containers; a Double as its description.
        case record
        /// JSONEncoder's pretty printing: an empty container on three lines
        /// (`[`, an empty line, `]`), and an integral Double without `.0`.
        case foundation
    }

    static func encode<T: Encodable>(_ value: T, layout: Layout = .record) throws -> [UInt8] {
        let root = Node()
        try value.encode(to: NodeEncoder(node: root, codingPath: []))
        var output: [UInt8] = []
        root.write(to: &output, depth: 0, layout: layout)
        output.append(UInt8(ascii: "\n"))
        return output
    }
}

/// One value of the tree an encoding builds (containers are written into
/// after they are handed out, so nodes are shared references).
private final class Node {
    enum Value {
        case empty
        /// A number, `true`, `false`, `null` or a quoted string, as written.
        case scalar([UInt8])
        case array([Node])
        case object([String: Node])
    }
    var value = Value.empty

    func makeObject() {
        if case .object = value { return }
        value = .object([:])
    }

    func makeArray() {
        if case .array = value { return }
        value = .array([])
    }

    /// The member `key` of this object (a new node, replacing any before).
    func member(_ key: String) -> Node {
        let node = Node()
        guard case .object(var members) = value else { return node }
        value = .empty  // keeps `members` uniquely referenced
        members[key] = node
        value = .object(members)
        return node
    }

    /// A new element at the end of this array.
    func appended() -> Node {
        let node = Node()
        guard case .array(var elements) = value else { return node }
        value = .empty
        elements.append(node)
        value = .array(elements)
        return node
    }

    var count: Int {
        switch value {
        case .array(let elements): return elements.count
        case .object(let members): return members.count
        case .empty, .scalar: return 0
        }
    }

    func write(to output: inout [UInt8], depth: Int, layout: RecordJSON.Layout) {
        func newline(_ depth: Int) {
            output.append(UInt8(ascii: "\n"))
            output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * depth))
        }
        func empty(_ open: Unicode.Scalar, _ close: Unicode.Scalar) {
            output.append(UInt8(ascii: open))
            if layout == .foundation {
                output.append(UInt8(ascii: "\n"))
                newline(depth)
            }
            output.append(UInt8(ascii: close))
        }
        switch value {
        case .empty: empty("{", "}")
        case .scalar(let bytes):
            // A number (not a quoted string, not a literal) that is an
            // integral Double's description.
            if layout == .foundation, bytes.first != UInt8(ascii: "\""), bytes.count > 2, bytes.suffix(2).elementsEqual(".0".utf8) {
                output.append(contentsOf: bytes.dropLast(2))
            } else {
                output.append(contentsOf: bytes)
            }
        case .array(let elements):
            guard !elements.isEmpty else { return empty("[", "]") }
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                element.write(to: &output, depth: depth + 1, layout: layout)
            }
            newline(depth)
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else { return empty("{", "}") }
            output.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                output.append(contentsOf: Node.quoted(key))
                output.append(contentsOf: " : ".utf8)
                members[key]?.write(to: &output, depth: depth + 1, layout: layout)
            }
            newline(depth)
            output.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string: quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "\"")]
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): bytes.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): bytes.append(contentsOf: "\\t".utf8)
            case 0x08: bytes.append(contentsOf: "\\b".utf8)
            case 0x0c: bytes.append(contentsOf: "\\f".utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xf)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        return bytes
    }

    static func number<T: BinaryFloatingPoint & LosslessStringConvertible>(_ value: T, _ codingPath: [any CodingKey]) throws -> [UInt8] {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) is not a JSON number"))
        }
        return Array(value.description.utf8)
    }
}

private struct NodeEncoder: Encoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return UnkeyedNodeContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleNodeContainer(node: node, codingPath: codingPath) }
}

private struct KeyedNodeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    private func set(_ bytes: [UInt8], _ key: Key) { node.member(key.stringValue).value = .scalar(bytes) }
    private func integer<T: BinaryInteger>(_ value: T, _ key: Key) { set(Array(value.description.utf8), key) }

    mutating func encodeNil(forKey key: Key) throws { set(Array("null".utf8), key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(Array((value ? "true" : "false").utf8), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(Node.quoted(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(try Node.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(try Node.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { integer(value, key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try value.encode(to: NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        NodeEncoder(node: node.member("super"), codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
    }
}

/// An array index as a coding key (for error paths; the decoder shares it).
struct IndexKey: CodingKey {
    var stringValue: String { "Index \(index)" }
    var intValue: Int? { index }
    let index: Int
    init(index: Int) { self.index = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { index = intValue }
}

private struct UnkeyedNodeContainer: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int { node.count }

    private func next() -> (node: Node, path: [any CodingKey]) {
        let path = codingPath + [IndexKey(index: count)]
        return (node.appended(), path)
    }

    mutating func encodeNil() throws { next().node.value = .scalar(Array("null".utf8)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let (element, path) = next()
        try value.encode(to: NodeEncoder(node: element, codingPath: path))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let (element, path) = next()
        return NodeEncoder(node: element, codingPath: path).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let (element, path) = next()
        return NodeEncoder(node: element, codingPath: path).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let (element, path) = next()
        return NodeEncoder(node: element, codingPath: path)
    }
}

private struct SingleNodeContainer: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    private func set(_ bytes: [UInt8]) { node.value = .scalar(bytes) }
    private func integer<T: BinaryInteger>(_ value: T) { set(Array(value.description.utf8)) }

    mutating func encodeNil() throws { set(Array("null".utf8)) }
    mutating func encode(_ value: Bool) throws { set(Array((value ? "true" : "false").utf8)) }
    mutating func encode(_ value: String) throws { set(Node.quoted(value)) }
    mutating func encode(_ value: Double) throws { set(try Node.number(value, codingPath)) }
    mutating func encode(_ value: Float) throws { set(try Node.number(value, codingPath)) }
    mutating func encode(_ value: Int) throws { integer(value) }
    mutating func encode(_ value: Int8) throws { integer(value) }
    mutating func encode(_ value: Int16) throws { integer(value) }
    mutating func encode(_ value: Int32) throws { integer(value) }
    mutating func encode(_ value: Int64) throws { integer(value) }
    mutating func encode(_ value: UInt) throws { integer(value) }
    mutating func encode(_ value: UInt8) throws { integer(value) }
    mutating func encode(_ value: UInt16) throws { integer(value) }
    mutating func encode(_ value: UInt32) throws { integer(value) }
    mutating func encode(_ value: UInt64) throws { integer(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try value.encode(to: NodeEncoder(node: node, codingPath: codingPath))
    }
}

/// container.json written field by field: the same bytes as the Codable
/// path (RecordJSON.encode of a ContainerRecord; RecordJSONTests hold the
/// two equal for a record with every field set), without a keyed container
/// per record nor a dynamic `encodeIfPresent` per field. In a fresh process
/// the generic path instantiates the containers' metadata first: most of
/// the record's encoding in every `berth run` and start. The spec's common
/// members, its resources and networks, the record's networks and labels
/// likewise (ValueWriter); the spec's other members and the checkpoint
/// mark by their own Codable, into the same tree.
extension RecordJSON {
    static func encode(record: ContainerRecord) throws -> [UInt8] {
        let root = Node()
        root.makeObject()
        func string(_ key: String, _ value: String?) { ValueWriter.string(root, key, value) }
        func flag(_ key: String, _ value: Bool?) { ValueWriter.flag(root, key, value) }
        func number<T: BinaryInteger>(_ key: String, _ value: T?) { ValueWriter.number(root, key, value) }
        string("name", record.name)
        number("pid", record.pid)
        number("startTime", record.startTime)
        string("cgroup", record.cgroup)
        string("scope", record.scope)
        string("rootfs", record.rootfs)
        string("lower", record.lower)
        string("upper", record.upper)
        string("work", record.work)
        flag("keepPrivateLayer", record.keepPrivateLayer)
        flag("privateLayerInMemory", record.privateLayerInMemory)
        number("capabilities", record.capabilities)
        flag("noNewPrivileges", record.noNewPrivileges)
        flag("seccomp", record.seccomp)
        flag("nestedUserNamespaces", record.nestedUserNamespaces)
        flag("sysinfoVirtualized", record.sysinfoVirtualized)
        ValueWriter.strings(root, "environment", record.environment)
        flag("ipv6", record.ipv6)
        string("firewallFingerprint", record.firewallFingerprint)
        string("firewallGeneration", record.firewallGeneration)
        string("connectionLimitGeneration", record.connectionLimitGeneration)
        if let spec = record.spec { try write(spec, into: root.member("spec"), codingPath: [MemberKey(stringValue: "spec")]) }
        ValueWriter.objects(root, "networks", record.networks) { ValueWriter.write($0, into: $1) }
        if let owner = record.foregroundOwner {
            let array = root.member("foregroundOwner")
            array.makeArray()
            for value in owner { array.appended().value = .scalar(Array(value.description.utf8)) }
        }
        number("exitCode", record.exitCode)
        number("restarts", record.restarts)
        string("diskImage", record.diskImage)
        number("diskProject", record.diskProject)
        ValueWriter.map(root, "labels", record.labels)
        if let checkpoint = record.checkpoint {
            try checkpoint.encode(to: NodeEncoder(node: root.member("checkpoint"), codingPath: [MemberKey(stringValue: "checkpoint")]))
        }
        var output: [UInt8] = []
        root.write(to: &output, depth: 0, layout: .record)
        output.append(UInt8(ascii: "\n"))
        return output
    }
}

extension RecordJSON {
    /// A spec as its Codable writes it (the manifest form, ContainerSpec),
    /// into `node`: the members a `berth run` container's spec has are
    /// written here, the others by their own Codable. RecordJSONTests hold
    /// the bytes equal for a spec with every field set.
    fileprivate static func write(_ config: ContainerConfig, into node: Node, codingPath: [any CodingKey]) throws {
        let spec = ContainerSpec(config)
        node.makeObject()
        func object(_ parent: Node, _ key: String) -> Node { ValueWriter.object(parent.member(key)) }
        let (string, flag) = (ValueWriter.string, ValueWriter.flag)
        func encoded<T: Encodable>(_ key: String, _ value: T?) throws {
            guard let value else { return }
            try value.encode(to: NodeEncoder(node: node.member(key), codingPath: codingPath + [MemberKey(stringValue: key)]))
        }
        try encoded("placement", spec.placement)
        try encoded("profiles", spec.profiles)
        string(node, "state", spec.state?.rawValue)
        string(node, "hostname", spec.hostname)
        if let rootfs = spec.rootfs {
            let member = object(node, "rootfs")
            if let source = rootfs.source {
                // An enum case with a value: {"template": {"_0": "busybox"}}.
                let (name, value) =
                    switch source {
                    case .template(let value): ("template", value)
                    case .directory(let value): ("directory", value)
                    case .tarball(let value): ("tarball", value)
                    }
                string(object(object(member, "source"), name), "_0", value)
            }
            flag(member, "persistent", rootfs.persistent)
        }
        if let initSpec = spec.`init` {
            let member = object(node, "init")
            ValueWriter.strings(member, "command", initSpec.command)
            string(member, "workingDir", initSpec.workingDir)
        }
        try encoded("env", spec.env)
        ValueWriter.objects(node, "networks", spec.networks) { ValueWriter.write($0, into: $1) }
        if let resources = spec.resources { ValueWriter.write(resources, into: node.member("resources")) }
        try encoded("devices", spec.devices)
        try encoded("capabilities", spec.capabilities)
        if let security = spec.security {
            let member = object(node, "security")
            flag(member, "privileged", security.privileged)
            flag(member, "noNewPrivileges", security.noNewPrivileges)
            string(member, "seccomp", security.seccomp?.rawValue)
            flag(member, "nestedUserNamespaces", security.nestedUserNamespaces)
        }
        try encoded("proc", spec.proc)
        try encoded("mounts", spec.mounts)
        try encoded("userNamespace", spec.userNamespace)
        string(node, "restartPolicy", spec.restartPolicy?.rawValue)
        string(node, "stopTimeout", spec.stopTimeout?.description)
        try encoded("firewall", spec.firewall)
        if let policy = spec.policy { string(object(node, "policy"), "drift", policy.drift?.rawValue) }
        if let logs = spec.logs { string(object(node, "logs"), "driver", logs.driver?.rawValue) }
    }
}

/// The spec's resources and networks and the record's networks written
/// member by member, as their synthesized Codable writes them (optionals
/// left out when nil, values as their text where they are TextCodable,
/// sizes as byte counts): in a fresh process the generic path instantiated
/// each type's keyed container first, about half of a create's record
/// write. RecordJSONTests hold the bytes equal for values with every field set.
private enum ValueWriter {
    static func object(_ node: Node) -> Node {
        node.makeObject()
        return node
    }
    static func string(_ parent: Node, _ key: String, _ value: String?) {
        if let value { parent.member(key).value = .scalar(Node.quoted(value)) }
    }
    static func flag(_ parent: Node, _ key: String, _ value: Bool?) {
        if let value { parent.member(key).value = .scalar(Array((value ? "true" : "false").utf8)) }
    }
    static func number<T: BinaryInteger>(_ parent: Node, _ key: String, _ value: T?) {
        if let value { parent.member(key).value = .scalar(Array(value.description.utf8)) }
    }
    static func size(_ parent: Node, _ key: String, _ value: ByteSize?) { number(parent, key, value?.bytes) }
    static func strings(_ parent: Node, _ key: String, _ values: [String]?) {
        guard let values else { return }
        let array = parent.member(key)
        array.makeArray()
        for value in values { array.appended().value = .scalar(Node.quoted(value)) }
    }
    /// An array of objects, each written by `write`.
    static func objects<T>(_ parent: Node, _ key: String, _ values: [T]?, _ write: (T, Node) -> Void) {
        guard let values else { return }
        let array = parent.member(key)
        array.makeArray()
        for value in values { write(value, object(array.appended())) }
    }
    static func map(_ parent: Node, _ key: String, _ values: [String: String]?) {
        guard let values else { return }
        let member = object(parent.member(key))
        for (name, value) in values { member.member(name).value = .scalar(Node.quoted(value)) }
    }

    static func write(_ resources: ResourcesSpec, into node: Node) {
        _ = object(node)
        if let cpu = resources.cpu {
            let member = object(node.member("cpu"))
            number(member, "weight", cpu.weight)
            string(member, "limit", cpu.limit?.description)
            string(member, "cpus", cpu.cpus?.description)
        }
        if let memory = resources.memory {
            let member = object(node.member("memory"))
            size(member, "max", memory.max)
            size(member, "high", memory.high)
            size(member, "swap", memory.swap)
        }
        if let pids = resources.pids { number(object(node.member("pids")), "max", pids.max) }
        if let io = resources.io {
            let member = object(node.member("io"))
            number(member, "weight", io.weight)
            objects(member, "limits", io.limits) { limit, element in
                string(element, "device", limit.device)
                size(element, "readBytesPerSecond", limit.readBytesPerSecond)
                size(element, "writeBytesPerSecond", limit.writeBytesPerSecond)
                number(element, "readIOPS", limit.readIOPS)
                number(element, "writeIOPS", limit.writeIOPS)
            }
        }
        if let disk = resources.disk {
            let member = object(node.member("disk"))
            size(member, "size", disk.size)
            number(member, "inodes", disk.inodes)
            flag(member, "userQuota", disk.userQuota)
        }
        number(node, "numtcpsock", resources.numtcpsock)
        number(node, "numpty", resources.numpty)
        number(node, "numfile", resources.numfile)
    }

    static func write(_ attachment: NetworkAttachment, into node: Node) {
        _ = object(node)
        string(node, "network", attachment.network)
        strings(node, "addresses", attachment.addresses.map(\.description))
        string(node, "interface", attachment.interface)
        flag(node, "defaultRoute", attachment.defaultRoute)
    }

    /// A network as ManifestObject's Codable writes it: metadata, the spec
    /// in its manifest form (NetworkConfig's Codable: NetworkSpec), source.
    static func write(_ network: NetworkObject, into node: Node) {
        _ = object(node)
        let metadata = object(node.member("metadata"))
        string(metadata, "name", network.metadata.name)
        map(metadata, "labels", network.metadata.labels)
        map(metadata, "annotations", network.metadata.annotations)
        let spec = NetworkSpec(network.spec)
        let member = object(node.member("spec"))
        if let placement = spec.placement {
            let written = object(member.member("placement"))
            strings(written, "hostnames", placement.hostnames)
            map(written, "hostLabels", placement.hostLabels)
        }
        string(member, "driver", spec.driver?.rawValue)
        string(member, "bridge", spec.bridge)
        string(member, "subnet", spec.subnet.description)
        string(member, "gateway", spec.gateway?.description)
        if let ipv6 = spec.ipv6 {
            let written = object(member.member("ipv6"))
            string(written, "subnet", ipv6.subnet.description)
            string(written, "gateway", ipv6.gateway?.description)
        }
        flag(member, "nat", spec.nat)
        flag(member, "isolated", spec.isolated)
        number(member, "mtu", spec.mtu)
        objects(member, "portForwards", spec.portForwards) { forward, element in
            string(element, "protocol", forward.protocol.rawValue)
            number(element, "hostPort", forward.hostPort)
            string(element, "hostAddress", forward.hostAddress?.description)
            string(element, "container", forward.container)
            number(element, "containerPort", forward.containerPort)
        }
        strings(member, "reach", spec.reach)
        if let policy = spec.policy { string(object(member.member("policy")), "drift", policy.drift?.rawValue) }
        let source = object(node.member("source"))
        string(source, "file", network.source.file)
        number(source, "line", network.source.line)
        number(source, "column", network.source.column)
    }
}

/// A member's name as a coding key (the path of an encoding error).
private struct MemberKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The CLI's JSON (`--output json`): RecordJSON's layout, which is
/// JSONEncoder's with pretty printing, sorted keys and unescaped slashes,
/// byte for byte (CLITests), without its dynamic casts and first-use
/// metadata (0.3 ms of every `apply -o json`).
public enum JSONText {
    /// `value` as JSON text, without a final newline.
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        var bytes = try RecordJSON.encode(value, layout: .foundation)
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
