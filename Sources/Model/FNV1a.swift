/// FNV-1a: a small, stable, non-cryptographic hash for derived names
/// (bridges, host-side veths), cache keys and fingerprints.
public enum FNV1a {
    public static func hash32(_ text: String) -> UInt32 { hash(text, offset: 0x811c_9dc5, prime: 0x0100_0193) }

    public static func hash64(_ text: String) -> UInt64 { hash(text, offset: 0xcbf2_9ce4_8422_2325, prime: 0x0100_0000_01b3) }

    /// `hash32` as 8 lowercase hex digits, zero-padded (fits interface names).
    public static func hex32(_ text: String) -> String { paddedHex(hash32(text)) }

    /// `hash64` as 16 lowercase hex digits, zero-padded (fingerprints).
    public static func hex64(_ text: String) -> String { paddedHex(hash64(text)) }

    static func hash<Hash: FixedWidthInteger & UnsignedInteger>(_ text: String, offset: Hash, prime: Hash) -> Hash {
        var hash = offset
        for byte in text.utf8 {
            hash ^= Hash(byte)
            hash = hash &* prime
        }
        return hash
    }

    /// All of the value's hex digits, leading zeros included. Digit by
    /// digit: `String(_:radix:)` is the standard library's unspecialized
    /// generic, whose witness lookups cost a fresh process ~50 µs on the
    /// first networked container start (its host interface name).
    static func paddedHex<Hash: FixedWidthInteger & UnsignedInteger>(_ value: Hash) -> String {
        var digits: [UInt8] = []
        digits.reserveCapacity(Hash.bitWidth / 4)
        var shift = Hash.bitWidth - 4
        while shift >= 0 {
            let digit = UInt8(truncatingIfNeeded: value >> shift) & 0xf
            digits.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
            shift -= 4
        }
        return String(decoding: digits, as: UTF8.self)
    }
}
