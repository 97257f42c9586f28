import Model

/// A YAML node with the position it was written at. Composed from libyaml's
/// events without expanding aliases more than a fixed budget allows.
public struct Node: Sendable {
    public indirect enum Value: Sendable {
        case scalar(Scalar)
        case mapping([(key: Node, value: Node)])
        case sequence([Node])
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
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
            ".nan", ".NaN", ".NAN":
            return .float(text)
        default: break
        }
        if Scalar.isCoreInteger(text) { return .int(text) }
        if Scalar.isCoreFloat(text) { return .float(text) }
        return .string(text)
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+
    static func isCoreInteger(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0") {
            if bytes[1] == UInt8(ascii: "o") {
                return bytes[2...].allSatisfy { $0 >= 0x30 && $0 <= 0x37 }
            }
            if bytes[1] == UInt8(ascii: "x") {
                return bytes[2...].allSatisfy { Character(UnicodeScalar($0)).isHexDigit }
            }
        }
        var digits = bytes[...]
        if let first = digits.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            digits = digits.dropFirst()
        }
        return !digits.isEmpty && digits.allSatisfy(isDigit)
    }

    /// [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    static func isCoreFloat(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            bytes = bytes.dropFirst()
        }
        let integer = bytes.prefix(while: isDigit)
        bytes = bytes.dropFirst(integer.count)
        var fraction: ArraySlice<UInt8> = []
        var hasDot = false
        if bytes.first == UInt8(ascii: ".") {
            hasDot = true
            bytes = bytes.dropFirst()
            fraction = bytes.prefix(while: isDigit)
            bytes = bytes.dropFirst(fraction.count)
        }
        if integer.isEmpty && fraction.isEmpty { return false }
        if integer.isEmpty && !hasDot { return false }
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
