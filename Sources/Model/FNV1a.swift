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

    /// All of the value's hex digits, leading zeros included.
    static func paddedHex<Hash: FixedWidthInteger & UnsignedInteger>(_ value: Hash) -> String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: Hash.bitWidth / 4 - hex.count) + hex
    }
}
