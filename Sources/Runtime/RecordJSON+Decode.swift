/// Reading berth's own JSON records back (container.json): the bytes parsed
/// once into a tree, then each value's own `init(from:)` over it.
///
/// Foundation's JSONDecoder was a quarter of a no-op `berth plan`'s CPU at
/// 1000 containers (berth-bench scale 1000: every pass decodes every
/// record in a fresh process). This one reads any JSON, not only what
/// RecordJSON writes, so records written by older berths read as before.
extension RecordJSON {
    /// `omitting`: members of the top-level object that are checked as JSON
    /// but neither built nor decoded (they read as absent): what a reader
    /// does not need (observe and a record's networks; berth-bench scale).
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], omitting: Set<String> = []) throws -> T {
        var parser = JSONParser(bytes: bytes)
        parser.omitted = omitting
        let root = try parser.document()
        return try T(from: TreeDecoder(value: root, codingPath: []))
    }
}

/// A parsed JSON value. Numbers keep their text: each is read as the type
/// the decoding asks for.
enum JSONValue {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

/// RFC 8259 JSON over bytes, recursive descent, depth-limited.
struct JSONParser {
    let bytes: [UInt8]
    var position = 0
    var depth = 0
    /// Members of the top-level object skipped over (skipValue) instead of kept.
    var omitted: Set<String> = []

    init(bytes: [UInt8]) { self.bytes = bytes }

    struct Failure: Error, CustomStringConvertible {
        var offset: Int
        var message: String
        var description: String { "JSON at byte \(offset): \(message)" }
    }

    mutating func document() throws -> JSONValue {
        let value = try self.value()
        skipSpace()
        guard position == bytes.count else { throw Failure(offset: position, message: "text after the value") }
        return value
    }

    mutating func skipSpace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0a, 0x0d, 0x09: position += 1
            default: return
            }
        }
    }

    mutating func value() throws -> JSONValue {
        skipSpace()
        guard position < bytes.count else { throw Failure(offset: position, message: "unexpected end") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default: return try number()
        }
    }

    mutating func literal(_ word: StaticString, _ value: JSONValue) throws -> JSONValue {
        let count = word.utf8CodeUnitCount
        let matches = word.withUTF8Buffer { expected in
            position + count <= bytes.count && bytes[position..<position + count].elementsEqual(expected)
        }
        guard matches else { throw Failure(offset: position, message: "unknown literal") }
        position += count
        return value
    }

    mutating func number() throws -> JSONValue {
        let start = position
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"),
                UInt8(ascii: "E"):
                position += 1
            default:
                guard position > start else { throw Failure(offset: position, message: "unexpected character") }
                return .number(String(decoding: bytes[start..<position], as: UTF8.self))
            }
        }
        guard position > start else { throw Failure(offset: position, message: "unexpected end") }
        return .number(String(decoding: bytes[start..<position], as: UTF8.self))
    }

    mutating func enter() throws {
        depth += 1
        guard depth <= 512 else { throw Failure(offset: position, message: "nested too deeply") }
    }

    mutating func object() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        position += 1
        var members: [String: JSONValue] = [:]
        skipSpace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw Failure(offset: position, message: "expected a key") }
            let key = try string()
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw Failure(offset: position, message: "expected ':'") }
            position += 1
            if depth == 1, omitted.contains(key) {
                try skipValue()
            } else {
                members[key] = try value()
            }
            skipSpace()
            guard position < bytes.count else { throw Failure(offset: position, message: "unexpected end") }
            position += 1
            switch bytes[position - 1] {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "}"): return .object(members)
            default: throw Failure(offset: position - 1, message: "expected ',' or '}'")
            }
        }
    }

    /// One value checked by the same grammar as `value()` (the same
    /// errors), without building it: no dictionaries or arrays made.
    mutating func skipValue() throws {
        skipSpace()
        guard position < bytes.count else { throw Failure(offset: position, message: "unexpected end") }
        let opening = bytes[position]
        let closing = opening == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
        guard opening == UInt8(ascii: "{") || opening == UInt8(ascii: "[") else {
            // A string, number or literal: small, read as value() reads it.
            _ = try value()
            return
        }
        try enter()
        defer { depth -= 1 }
        position += 1
        skipSpace()
        if position < bytes.count, bytes[position] == closing {
            position += 1
            return
        }
        while true {
            if opening == UInt8(ascii: "{") {
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                    throw Failure(offset: position, message: "expected a key")
                }
                _ = try string()
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw Failure(offset: position, message: "expected ':'") }
                position += 1
            }
            try skipValue()
            skipSpace()
            guard position < bytes.count else { throw Failure(offset: position, message: "unexpected end") }
            position += 1
            switch bytes[position - 1] {
            case UInt8(ascii: ","): continue
            case closing: return
            default:
                throw Failure(offset: position - 1, message: opening == UInt8(ascii: "{") ? "expected ',' or '}'" : "expected ',' or ']'")
            }
        }
    }

    mutating func array() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        position += 1
        var elements: [JSONValue] = []
        skipSpace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            elements.append(try value())
            skipSpace()
            guard position < bytes.count else { throw Failure(offset: position, message: "unexpected end") }
            position += 1
            switch bytes[position - 1] {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "]"): return .array(elements)
            default: throw Failure(offset: position - 1, message: "expected ',' or ']'")
            }
        }
    }

    /// A quoted string; the common case (no escapes) is one slice.
    mutating func string() throws -> String {
        position += 1
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return String(decoding: bytes[start..<position - 1], as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { return try escapedString(from: start) }
            guard byte >= 0x20 else { throw Failure(offset: position, message: "control character in a string") }
            position += 1
        }
        throw Failure(offset: position, message: "unterminated string")
    }

    mutating func escapedString(from start: Int) throws -> String {
        var output = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: output, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { break }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escape)
                case UInt8(ascii: "b"): output.append(0x08)
                case UInt8(ascii: "f"): output.append(0x0c)
                case UInt8(ascii: "n"): output.append(0x0a)
                case UInt8(ascii: "r"): output.append(0x0d)
                case UInt8(ascii: "t"): output.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    // A surrogate pair: two escapes make one scalar.
                    if (0xD800..<0xDC00).contains(scalar), position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                        bytes[position + 1] == UInt8(ascii: "u")
                    {
                        position += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw Failure(offset: position, message: "bad surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw Failure(offset: position, message: "bad \\u escape") }
                    output.append(contentsOf: Array(String(Character(unicode)).utf8))
                default: throw Failure(offset: position - 1, message: "bad escape")
                }
            default:
                guard byte >= 0x20 else { throw Failure(offset: position - 1, message: "control character in a string") }
                output.append(byte)
            }
        }
        throw Failure(offset: position, message: "unterminated string")
    }

    mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw Failure(offset: position, message: "short \\u escape") }
        var value: UInt32 = 0
        for byte in bytes[position..<position + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Failure(offset: position, message: "bad \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        position += 4
        return value
    }
}
