/// JSON for berth's own records (container.json): keys sorted, two-space
/// indentation, read back with RecordJSON.decode (RecordJSON+Decode.swift).
///
/// Foundation's JSONEncoder tests every value with dynamic casts (Date,
/// Data, URL, string-keyed dictionaries, ...). In a fresh process each new
/// type makes the runtime scan every protocol conformance in the binary, so
/// its first use cost every `berth run` about 0.3 ms. This encoder only
/// calls each value's own `encode(to:)`.
enum RecordJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let root = Node()
        try value.encode(to: NodeEncoder(node: root, codingPath: []))
        var output: [UInt8] = []
        root.write(to: &output, depth: 0)
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

    func write(to output: inout [UInt8], depth: Int) {
        func newline(_ depth: Int) {
            output.append(UInt8(ascii: "\n"))
            output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * depth))
        }
        switch value {
        case .empty: output.append(contentsOf: "{}".utf8)
        case .scalar(let bytes): output.append(contentsOf: bytes)
        case .array(let elements):
            guard !elements.isEmpty else { return output.append(contentsOf: "[]".utf8) }
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                element.write(to: &output, depth: depth + 1)
            }
            newline(depth)
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else { return output.append(contentsOf: "{}".utf8) }
            output.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                output.append(contentsOf: Node.quoted(key))
                output.append(contentsOf: " : ".utf8)
                members[key]?.write(to: &output, depth: depth + 1)
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
