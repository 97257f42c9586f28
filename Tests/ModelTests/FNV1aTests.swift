import Model
import Testing

/// Derived names and cache keys must never change between releases: the
/// published FNV-1a test vectors pin both widths.
@Suite struct FNV1aTests {
    @Test func publishedVectors() {
        #expect(FNV1a.hash32("") == 0x811c_9dc5)
        #expect(FNV1a.hash32("a") == 0xe40c_292c)
        #expect(FNV1a.hash64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(FNV1a.hash64("foobar") == 0x8594_4171_f739_67e8)
    }

    @Test func hexIsZeroPaddedToTheFullWidth() {
        #expect(FNV1a.hex32("a") == "e40c292c")
        #expect(FNV1a.hex64("a") == "af63dc4c8601ec8c")
        #expect(FNV1a.hex32("").count == 8 && FNV1a.hex64("").count == 16)
        // Written digit by digit: the standard library's rendering, padded.
        for text in ["", "a", "b", "web1", "berth/web1", "0123456789"] {
            let hex32 = String(FNV1a.hash32(text), radix: 16)
            let hex64 = String(FNV1a.hash64(text), radix: 16)
            #expect(FNV1a.hex32(text) == String(repeating: "0", count: 8 - hex32.count) + hex32)
            #expect(FNV1a.hex64(text) == String(repeating: "0", count: 16 - hex64.count) + hex64)
        }
    }
}
