/// The protobuf wire format (proto2), as much of it as CRIU's RPC needs:
/// varints, length-delimited fields (strings, bytes, embedded messages) and
/// the fixed-width types skipped when read. Hand-written rather than
/// generated: berth speaks a dozen of rpc.proto's messages, and
/// swift-protobuf's plugin would add minutes to every clean build.
public struct ProtobufWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// The wire types of the fields berth writes.
    enum WireType: UInt8 {
        case varint = 0
        case lengthDelimited = 2
    }

    mutating func tag(_ field: Int, _ type: WireType) {
        varint(UInt64(field) << 3 | UInt64(type.rawValue))
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// An int32 field: a negative value takes ten bytes (sign-extended to 64
    /// bits), as protobuf-c and every other implementation read it.
    public mutating func int32(_ field: Int, _ value: Int32) {
        tag(field, .varint)
        varint(UInt64(bitPattern: Int64(value)))
    }

    public mutating func uint32(_ field: Int, _ value: UInt32) {
        tag(field, .varint)
        varint(UInt64(value))
    }

    public mutating func bool(_ field: Int, _ value: Bool) {
        tag(field, .varint)
        varint(value ? 1 : 0)
    }

    /// An enum field (its numeric value).
    public mutating func enumeration(_ field: Int, _ value: Int32) { int32(field, value) }

    public mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    /// An embedded message.
    public mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }
}

/// A malformed protobuf message: where and what.
public struct ProtobufError: Error, Equatable, CustomStringConvertible, Sendable {
    public let offset: Int
    public let message: String
    public var description: String { "malformed protobuf message at byte \(offset): \(message)" }
}

/// Reads a message field by field. Unknown fields are skipped, as proto2
/// requires (a newer CRIU may answer with fields berth does not know).
public struct ProtobufReader: Sendable {
    public enum Value: Equatable, Sendable {
        case varint(UInt64)
        case bytes([UInt8])
        case fixed32(UInt32)
        case fixed64(UInt64)
    }

    public struct Field: Equatable, Sendable {
        public let number: Int
        public let value: Value

        /// The value as an int32 (a varint truncated as protobuf does).
        public var int32: Int32? {
            guard case .varint(let raw) = value else { return nil }
            return Int32(truncatingIfNeeded: Int64(bitPattern: raw))
        }
        public var bool: Bool? {
            guard case .varint(let raw) = value else { return nil }
            return raw != 0
        }
        public var data: [UInt8]? {
            guard case .bytes(let raw) = value else { return nil }
            return raw
        }
        /// A string field; nil when it is not valid UTF-8.
        public var string: String? { data.flatMap { String(validating: $0, as: UTF8.self) } }
    }

    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The next field, or nil at the end of the message.
    public mutating func next() throws(ProtobufError) -> Field? {
        guard offset < bytes.count else { return nil }
        let start = offset
        let key = try varint()
        let number = key >> 3
        guard number >= 1, number <= 536_870_911 else { throw ProtobufError(offset: start, message: "field number \(number)") }
        switch key & 7 {
        case 0: return Field(number: Int(number), value: .varint(try varint()))
        case 1: return Field(number: Int(number), value: .fixed64(try fixed(8)))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.count - offset) else {
                throw ProtobufError(offset: offset, message: "length \(length) runs past the end (\(bytes.count - offset) bytes left)")
            }
            let end = offset + Int(length)
            defer { offset = end }
            return Field(number: Int(number), value: .bytes(Array(bytes[offset..<end])))
        case 5: return Field(number: Int(number), value: .fixed32(UInt32(truncatingIfNeeded: try fixed(4))))
        default: throw ProtobufError(offset: start, message: "wire type \(key & 7) (groups and reserved types are not read)")
        }
    }

    /// Every field, in order.
    public mutating func fields() throws(ProtobufError) -> [Field] {
        var result: [Field] = []
        while let field = try next() { result.append(field) }
        return result
    }

    private mutating func varint() throws(ProtobufError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = offset
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            guard shift < 64, shift < 63 || byte & 0x7e == 0 else {
                throw ProtobufError(offset: start, message: "varint longer than 64 bits")
            }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        throw ProtobufError(offset: start, message: "varint runs past the end")
    }

    private mutating func fixed(_ count: Int) throws(ProtobufError) -> UInt64 {
        guard bytes.count - offset >= count else { throw ProtobufError(offset: offset, message: "fixed\(count * 8) runs past the end") }
        var result: UInt64 = 0
        for index in 0..<count { result |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
        offset += count
        return result
    }
}
