import Testing

@testable import Kernel

/// quotactl's 1 KiB blocks and ext4's superblock features, without root.
@Suite struct DiskQuotaUnitsTests {
    @Test(arguments: [0, 1, 1023, 1024, 1025, 16 << 20, (16 << 20) + 1, 1 << 50] as [UInt64])
    func bytesRoundUpToWholeKiBAndComeBack(_ bytes: UInt64) {
        let kib = ProjectQuota.kib(bytes: bytes)
        #expect(ProjectQuota.bytes(kib: kib) >= bytes)
        #expect(ProjectQuota.bytes(kib: kib) - bytes < 1024)
        // Whole KiB (what validate lets through) round-trip exactly.
        if bytes % 1024 == 0 { #expect(ProjectQuota.bytes(kib: kib) == bytes) }
        #expect(ProjectQuota.kib(bytes: ProjectQuota.bytes(kib: kib)) == kib)
    }

    @Test func hugeBlockCountsSaturate() {
        #expect(ProjectQuota.bytes(kib: .max) == .max)
    }

    /// A superblock with ro_compat features `roCompat` (and ext4's magic unless `magic` is false).
    static func superblock(roCompat: UInt32, magic: Bool = true) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 1024)
        if magic {
            block[0x38] = 0x53
            block[0x39] = 0xef
        }
        for index in 0..<4 { block[0x64 + index] = UInt8(truncatingIfNeeded: roCompat >> (8 * UInt32(index))) }
        return block
    }

    @Test(arguments: [
        (UInt32(0x2100), true, true), (0x0100, true, false), (0x2000, true, false), (0x0000, true, false), (0x2100, false, false),
        (0xffff_ffff, true, true),
    ])
    func projectQuotaNeedsTheQuotaAndProjectFeatures(_ roCompat: UInt32, _ magic: Bool, _ expected: Bool) {
        #expect(DiskImage.ext4HasProjectQuota(superblock: DiskQuotaUnitsTests.superblock(roCompat: roCompat, magic: magic)) == expected)
    }

    @Test func aShortSuperblockHasNoFeatures() {
        #expect(!DiskImage.ext4HasProjectQuota(superblock: [0x53, 0xef]))
    }
}
