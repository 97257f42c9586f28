/// FNV-1a: a small, stable, non-cryptographic hash for derived names
/// (bridges, host-side veths), cache keys and fingerprints.
public enum FNV1a {
    public static func hash32(_ text: String) -> UInt32 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash
    }

    public static func hash64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0100_0000_01b3
        }
        return hash
    }

    /// `hash32` as 8 lowercase hex digits, zero-padded (fits interface names).
    public static func hex32(_ text: String) -> String {
        let hex = String(hash32(text), radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// `hash64` as 16 lowercase hex digits, zero-padded (fingerprints).
    public static func hex64(_ text: String) -> String {
        let hex = String(hash64(text), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
