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
        #expect(!DiskImage.ext4HasUserQuota(superblock: [0x53, 0xef]))
    }

    /// User quotas need the quota feature and both quota inodes
    /// (s_usr_quota_inum, s_grp_quota_inum: mke2fs gives them 3 and 4).
    @Test(arguments: [
        (UInt32(0x0100), UInt32(3), UInt32(4), true), (0x2100, 3, 4, true), (0x0000, 3, 4, false), (0x0100, 0, 4, false),
        (0x0100, 3, 0, false),
    ])
    func userQuotaNeedsTheQuotaFeatureAndItsInodes(_ roCompat: UInt32, _ user: UInt32, _ group: UInt32, _ expected: Bool) {
        var block = DiskQuotaUnitsTests.superblock(roCompat: roCompat)
        for index in 0..<4 {
            block[0x240 + index] = UInt8(truncatingIfNeeded: user >> (8 * UInt32(index)))
            block[0x244 + index] = UInt8(truncatingIfNeeded: group >> (8 * UInt32(index)))
        }
        #expect(DiskImage.ext4HasUserQuota(superblock: block) == expected)
        // The project feature alone says nothing of user quotas.
        #expect(!DiskImage.ext4HasUserQuota(superblock: DiskQuotaUnitsTests.superblock(roCompat: 0x2100)))
    }

    @Test func mountDataEnforcesTheQuotasAsked() {
        #expect(DiskImage.mountData(projectQuota: false, userQuota: false) == "")
        #expect(DiskImage.mountData(projectQuota: true, userQuota: false) == "prjquota")
        #expect(DiskImage.mountData(projectQuota: false, userQuota: true) == "usrquota,grpquota")
        #expect(DiskImage.mountData(projectQuota: true, userQuota: true) == "usrquota,grpquota,prjquota")
    }
}
