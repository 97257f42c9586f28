/// An IPv4 or IPv6 address, parsed in Swift (no libc) and kept as bytes.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6([UInt8])  // 16 bytes, network order

    public init(parsing text: String) throws(ValueError) {
        if text.contains(":") {
            guard let bytes = parseIPv6(text) else {
                throw ValueError("invalid IPv6 address '\(text)'")
            }
            self = .v6(bytes)
        } else {
            guard let value = parseIPv4(Substring(text)) else {
                throw ValueError("invalid IPv4 address '\(text)'", hint: "write four decimal octets, such as 10.88.0.2")
            }
            self = .v4(value)
        }
    }

    public var bitWidth: Int {
        switch self {
        case .v4: return 32
        case .v6: return 128
        }
    }

    public var isIPv4: Bool {
        if case .v4 = self { return true }
        return false
    }

    /// The address as bytes in network order (4 or 16).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value):
            return [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
        case .v6(let bytes):
            return bytes
        }
    }

    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16:
            self = .v6(bytes)
        default:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .v4:
            return bytes.map(String.init).joined(separator: ".")
        case .v6(let bytes):
            return formatIPv6(bytes)
        }
    }
}

func parseIPv4(_ text: Substring) -> UInt32? {
    let octets = text.split(separator: ".", omittingEmptySubsequences: false)
    guard octets.count == 4 else { return nil }
    var value: UInt32 = 0
    for octet in octets {
        guard !octet.isEmpty, octet.count <= 3, octet.allSatisfy({ $0.isASCII && $0.isNumber }),
            !(octet.count > 1 && octet.first == "0"),  // no octal-looking octets
            let number = UInt32(octet), number <= 255
        else { return nil }
        value = value << 8 | number
    }
    return value
}

func parseIPv6(_ text: String) -> [UInt8]? {
    guard text.count <= 45 else { return nil }
    let halves = text.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
    guard halves.count <= 2 else { return nil }
    func groups(_ part: String, allowIPv4Tail: Bool) -> [UInt16]? {
        if part.isEmpty { return [] }
        var result: [UInt16] = []
        let fields = part.split(separator: ":", omittingEmptySubsequences: false)
        for (index, field) in fields.enumerated() {
            if allowIPv4Tail, index == fields.count - 1, field.contains(".") {
                guard let v4 = parseIPv4(field) else { return nil }
                result.append(UInt16(v4 >> 16))
                result.append(UInt16(v4 & 0xffff))
                continue
            }
            guard !field.isEmpty, field.count <= 4, field.allSatisfy({ $0.isHexDigit }),
                let value = UInt16(field, radix: 16)
            else { return nil }
            result.append(value)
        }
        return result
    }
    let groupsList: [UInt16]
    if halves.count == 2 {
        guard let head = groups(halves[0], allowIPv4Tail: false),
            let tail = groups(halves[1], allowIPv4Tail: true),
            head.count + tail.count <= 7
        else { return nil }
        groupsList = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    } else {
        guard let all = groups(halves[0], allowIPv4Tail: true), all.count == 8 else { return nil }
        groupsList = all
    }
    return groupsList.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
}

/// RFC 5952 text: lowercase, longest run of zero groups (length ≥ 2) as "::".
func formatIPv6(_ bytes: [UInt8]) -> String {
    var groups: [UInt16] = []
    var index = 0
    while index + 1 < bytes.count {
        groups.append(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]))
        index += 2
    }
    var bestStart = -1
    var bestLength = 0
    var start = 0
    while start < groups.count {
        if groups[start] == 0 {
            var end = start
            while end < groups.count, groups[end] == 0 { end += 1 }
            if end - start > bestLength {
                bestStart = start
                bestLength = end - start
            }
            start = end
        } else {
            start += 1
        }
    }
    let hex = groups.map { String($0, radix: 16) }
    guard bestLength >= 2 else { return hex.joined(separator: ":") }
    let head = hex[..<bestStart].joined(separator: ":")
    let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
    return "\(head)::\(tail)"
}

/// An address with a prefix length: "10.88.0.0/24", "fd00::1/64".
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses "a.b.c.d/n". With `requirePrefix: false`, a bare address gets the full-length prefix.
    public init(parsing text: String, requirePrefix: Bool = true) throws(ValueError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw ValueError("invalid CIDR '\(text)'") }
        let address = try IPAddress(parsing: String(parts[0]))
        if parts.count == 1 {
            guard !requirePrefix else {
                throw ValueError(
                    "'\(text)' has no prefix length", hint: "write it as \(text)/\(address.bitWidth == 32 ? 24 : 64)")
            }
            self.init(address: address, prefixLength: address.bitWidth)
            return
        }
        let prefix = parts[1]
        guard !prefix.isEmpty, prefix.count <= 3, prefix.allSatisfy({ $0.isASCII && $0.isNumber }),
            let length = Int(prefix), length <= address.bitWidth
        else {
            throw ValueError("invalid prefix length in '\(text)' (0-\(address.bitWidth))")
        }
        self.init(address: address, prefixLength: length)
    }

    /// The host bits of byte `index` of an address under this prefix.
    func hostMask(byte index: Int) -> UInt8 {
        let bitsBefore = index * 8
        if bitsBefore >= prefixLength { return 0xff }
        if bitsBefore + 8 <= prefixLength { return 0 }
        return UInt8(truncatingIfNeeded: 0xff >> (prefixLength - bitsBefore))
    }

    /// The network address: host bits cleared.
    public var network: IPAddress {
        let bytes = address.bytes.enumerated().map { index, byte in byte & ~hostMask(byte: index) }
        return IPAddress(bytes: bytes) ?? address
    }

    /// Whether the address carries host bits (10.88.0.1/24 as a subnet is a mistake).
    public var isNetworkAddress: Bool { network == address }

    public func contains(_ other: IPAddress) -> Bool {
        guard other.bitWidth == address.bitWidth else { return false }
        return CIDR(address: other, prefixLength: prefixLength).network == network
    }

    public func overlaps(_ other: CIDR) -> Bool {
        guard other.address.bitWidth == address.bitWidth else { return false }
        let shorter = min(prefixLength, other.prefixLength)
        return CIDR(address: address, prefixLength: shorter).network
            == CIDR(address: other.address, prefixLength: shorter).network
    }

    /// The last address of the subnet (all host bits set), as bytes.
    public var lastAddressBytes: [UInt8] {
        address.bytes.enumerated().map { index, byte in byte | hostMask(byte: index) }
    }

    /// The IPv4 broadcast address of this subnet, nil for IPv6 or /31, /32.
    public var broadcast: IPAddress? {
        guard address.isIPv4, prefixLength <= 30 else { return nil }
        return IPAddress(bytes: lastAddressBytes)
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
