import Model

/// A YAML node with the position it was written at. Composed from libyaml's
/// events without expanding aliases more than a fixed budget allows.
public struct Node: Sendable {
    /// Not `indirect`: the arrays already hold the children out of line, and
    /// a box per node was one more allocation and pointer to chase for every
    /// scalar (`berth-bench parse`, cost per node at a million nodes).
    public enum Value: Sendable {
        case scalar(Scalar)
        case mapping([Entry])
        case sequence([Node])
    }

    /// A key and its value. A struct, not a tuple: an array of tuples is
    /// destroyed through the runtime's generic tuple witness, one call per
    /// field (a tenth of a million-key mapping's cost, `berth-bench parse`).
    public struct Entry: Sendable {
        public var key: Node
        public var value: Node
    }

    public var value: Value
    public var location: SourceLocation
    /// Nodes in this subtree, counting alias expansions: the alias budget's unit.
    public var weight: Int

    public init(_ value: Value, at location: SourceLocation, weight: Int = 1) {
        self.value = value
        self.location = location
        self.weight = weight
    }

    /// What the node is, for "expected X, got Y" messages.
    public var kindDescription: String {
        switch value {
        case .scalar(let scalar): return scalar.resolved.typeName
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}

/// A scalar and how it resolves under the YAML 1.2 core schema.
public struct Scalar: Sendable, Equatable {
    public var text: String
    /// Plain (unquoted) scalars are resolved; quoted ones are always strings.
    public var isPlain: Bool
    /// `!!str` forces a string.
    public var forcedString: Bool

    public init(text: String, isPlain: Bool, forcedString: Bool = false) {
        self.text = text
        self.isPlain = isPlain
        self.forcedString = forcedString
    }

    public enum Resolved: Equatable, Sendable {
        case null
        case bool(Bool)
        case int(String)
        case float(String)
        case string(String)

        public var typeName: String {
            switch self {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .float: return "a number"
            case .string: return "a string"
            }
        }
    }

    /// YAML 1.2 core schema: only true/false are booleans (not yes/no/on/off).
    public var resolved: Resolved {
        guard isPlain, !forcedString else { return .string(text) }
        // No special word is longer than five bytes: most scalars skip the
        // comparisons with each of them.
        if text.utf8.count <= 5 {
            if let word = Scalar.specialWord(text) { return word }
        }
        if Scalar.isCoreInteger(text) { return .int(text) }
        if Scalar.isCoreFloat(text) { return .float(text) }
        return .string(text)
    }

    private static func specialWord(_ text: String) -> Resolved? {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
            ".nan", ".NaN", ".NAN":
            return .float(text)
        default: return nil
        }
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+
    ///
    /// Reads the UTF-8 view in place: every plain scalar is resolved, and a
    /// copy into an array per call was a tenth of the pipeline's cost per
    /// node (`berth-bench parse`).
    static func isCoreInteger(_ text: String) -> Bool {
        let bytes = text.utf8
        var index = bytes.startIndex
        guard index != bytes.endIndex else { return false }
        let first = bytes[index]
        if first == UInt8(ascii: "0"), bytes.count > 2 {
            let marker = bytes[bytes.index(after: index)]
            let digits = bytes.dropFirst(2)
            if marker == UInt8(ascii: "o") { return digits.allSatisfy { $0 >= 0x30 && $0 <= 0x37 } }
            if marker == UInt8(ascii: "x") { return digits.allSatisfy(isHexDigit) }
        }
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { index = bytes.index(after: index) }
        guard index != bytes.endIndex else { return false }
        return bytes[index...].allSatisfy(isDigit)
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }

    /// [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    static func isCoreFloat(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            bytes = bytes.dropFirst()
        }
        let integerCount = bytes.prefix(while: isDigit).count
        bytes = bytes.dropFirst(integerCount)
        var fractionCount = 0
        var hasDot = false
        if bytes.first == UInt8(ascii: ".") {
            hasDot = true
            bytes = bytes.dropFirst()
            fractionCount = bytes.prefix(while: isDigit).count
            bytes = bytes.dropFirst(fractionCount)
        }
        if integerCount == 0 && fractionCount == 0 { return false }
        if integerCount == 0 && !hasDot { return false }
        if let marker = bytes.first, marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
                bytes = bytes.dropFirst()
            }
            guard !bytes.isEmpty, bytes.allSatisfy(isDigit) else { return false }
            return true
        }
        return bytes.isEmpty
    }
}

extension Node {
    /// The node at a field path below this one (for pointing errors found after
    /// decoding, such as a duplicate address, at the line that wrote them).
    public func lookup(_ path: FieldPath) -> Node? {
        var current = self
        for component in path.components {
            switch (component, current.value) {
            case (.key(let name), .mapping(let entries)):
                guard let entry = entries.first(where: { $0.key.scalarText == name }) else { return nil }
                current = entry.value
            case (.index(let index), .sequence(let items)):
                guard items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    public var scalarText: String? {
        if case .scalar(let scalar) = value { return scalar.text }
        return nil
    }
}
