/// Route netlink attributes: {len: u16, type: u16, value}, each padded to 4.
public struct Attribute: Equatable, Sendable {
    public var type: UInt16
    public var value: [UInt8]

    public init(_ type: UInt16, _ value: [UInt8]) {
        self.type = type
        self.value = value
    }

    public static func string(_ type: UInt16, _ text: String) -> Attribute {
        Attribute(type, Array(text.utf8) + [0])
    }

    public static func u32(_ type: UInt16, _ value: UInt32) -> Attribute {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(value)
        return Attribute(type, bytes)
    }

    public static func u8(_ type: UInt16, _ value: UInt8) -> Attribute { Attribute(type, [value]) }

    public static func nested(_ type: UInt16, _ children: [Attribute]) -> Attribute {
        Attribute(type | Netlink.NLA_F_NESTED, Attribute.encode(children))
    }

    public static func encode(_ attributes: [Attribute]) -> [UInt8] {
        var bytes: [UInt8] = []
        for attribute in attributes {
            bytes.appendLittleEndian(UInt16(4 + attribute.value.count))
            bytes.appendLittleEndian(attribute.type)
            bytes += attribute.value
            bytes.padTo4()
        }
        return bytes
    }

    /// Decodes a run of attributes (the walk of `visit`, each value
    /// copied); nil on a malformed length.
    public static func decode(_ bytes: ArraySlice<UInt8>) -> [Attribute]? {
        let array = Array(bytes)
        var result: [Attribute] = []
        guard visit(array, from: 0, { type, range in result.append(Attribute(type, Array(array[range]))) }) else { return nil }
        return result
    }

    /// `body(type, range)` for each attribute in `bytes` from `start`
    /// (its type without NLA_F_NESTED, its value's bounds), without copying
    /// a value (a dump of a thousand links: only the few attributes read
    /// are copied); false on a malformed length (the attributes before it
    /// were visited).
    static func visit(_ bytes: [UInt8], from start: Int, _ body: (UInt16, Range<Int>) -> Void) -> Bool {
        var offset = start
        while offset + 4 <= bytes.count {
            guard let length = bytes.readLittleEndian(UInt16.self, at: offset).map(Int.init), length >= 4,
                offset + length <= bytes.count, let type = bytes.readLittleEndian(UInt16.self, at: offset + 2)
            else { return false }
            body(type & ~Netlink.NLA_F_NESTED, (offset + 4)..<(offset + length))
            offset += (length + 3) & ~3
        }
        return true
    }

    public var stringValue: String {
        String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
    }

    public var u32Value: UInt32? { value.readLittleEndian(UInt32.self, at: 0) }
}

/// struct ifinfomsg (16 bytes).
public struct InterfaceInfo: Equatable, Sendable {
    public var family: UInt8 = Netlink.AF_UNSPEC
    public var type: UInt16 = 0
    public var index: Int32 = 0
    public var flags: UInt32 = 0
    public var change: UInt32 = 0

    public init(index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        self.index = index
        self.flags = flags
        self.change = change
    }

    public static let size = 16

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [family, 0]
        bytes.appendLittleEndian(type)
        bytes.appendLittleEndian(UInt32(bitPattern: index))
        bytes.appendLittleEndian(flags)
        bytes.appendLittleEndian(change)
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) -> InterfaceInfo? {
        guard bytes.count >= size, let type = bytes.readLittleEndian(UInt16.self, at: 2),
            let index = bytes.readLittleEndian(UInt32.self, at: 4), let flags = bytes.readLittleEndian(UInt32.self, at: 8)
        else { return nil }
        var info = InterfaceInfo(index: Int32(bitPattern: index), flags: flags)
        info.family = bytes[0]
        info.type = type
        return info
    }
}

/// struct ifaddrmsg (8 bytes).
public struct AddressInfo: Equatable, Sendable {
    public var family: UInt8
    public var prefixLength: UInt8
    public var flags: UInt8 = 0
    public var scope: UInt8 = 0
    public var index: UInt32

    public init(family: UInt8, prefixLength: UInt8, index: UInt32) {
        self.family = family
        self.prefixLength = prefixLength
        self.index = index
    }

    public static let size = 8

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [family, prefixLength, flags, scope]
        bytes.appendLittleEndian(index)
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) -> AddressInfo? {
        guard bytes.count >= size, let index = bytes.readLittleEndian(UInt32.self, at: 4) else { return nil }
        var info = AddressInfo(family: bytes[0], prefixLength: bytes[1], index: index)
        info.flags = bytes[2]
        info.scope = bytes[3]
        return info
    }
}
