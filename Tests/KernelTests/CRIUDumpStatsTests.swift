import Testing

@testable import Kernel

/// CRIU's stats-dump file (its two magics, a length, a stats_entry) read
/// for the pages a pre-dump wrote, and the check record's key and reading.
@Suite struct CRIUDumpStatsTests {
    static func file(_ build: (inout ProtobufWriter) -> Void, magic: UInt32 = CRIUDumpStats.statsMagic) -> [UInt8] {
        var entry = ProtobufWriter()
        entry.message(1, build)
        func word(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        return word(CRIUDumpStats.serviceMagic) + word(magic) + word(UInt32(entry.bytes.count)) + entry.bytes
    }

    @Test func aPreDumpsPagesAndFrozenTimeAreRead() {
        let bytes = CRIUDumpStatsTests.file { dump in
            dump.uint32(1, 1200)
            dump.uint32(2, 35000)
            dump.uint32(5, 900)
            dump.uint32(6, 600)
            dump.uint32(7, 300)
            dump.uint32(9, 0)
        }
        var expected = CRIUDumpStats(pagesWritten: 300)
        expected.freezingMicroseconds = 1200
        expected.frozenMicroseconds = 35000
        expected.pagesScanned = 900
        expected.pagesSkippedParent = 600
        #expect(CRIUDumpStats.decode(bytes) == expected)
    }

    @Test func anythingElseIsNoStats() {
        let good = CRIUDumpStatsTests.file { $0.uint32(7, 1) }
        #expect(CRIUDumpStats.decode([]) == nil)
        #expect(CRIUDumpStats.decode(Array(good.prefix(good.count - 1))) == nil)
        #expect(CRIUDumpStats.decode(CRIUDumpStatsTests.file({ $0.uint32(7, 1) }, magic: 0x1234_5678)) == nil)
        #expect(CRIUDumpStats.decode(good)?.pagesWritten == 1)
    }

    @Test func aCheckRecordCountsOnlyForItsBootAndCRIUBinary() {
        let binary = Syscall.FileVersion(device: 2049, inode: 77, size: 4096, modified: 5)
        let key = CRIU.checkKey(bootID: "b1", program: "/usr/sbin/criu", binary: binary)
        #expect(key == "boot b1 criu /usr/sbin/criu 2049:77:4096:5")
        #expect(CRIU.recordedVersion(key + "\n3.17.1\n", key: key) == "3.17.1")
        let otherBoot = CRIU.checkKey(bootID: "b2", program: "/usr/sbin/criu", binary: binary)
        #expect(CRIU.recordedVersion(key + "\n3.17.1\n", key: otherBoot) == nil)
        var upgraded = binary
        upgraded.modified = 6
        #expect(CRIU.recordedVersion(key + "\n3.17.1\n", key: CRIU.checkKey(bootID: "b1", program: "/usr/sbin/criu", binary: upgraded)) == nil)
        #expect(CRIU.recordedVersion(key + "\n\n", key: key) == nil)
        #expect(CRIU.recordedVersion("", key: key) == nil)
    }
}
