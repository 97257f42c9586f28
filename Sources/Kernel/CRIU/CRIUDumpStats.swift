/// What CRIU reports of a dump or pre-dump in its `stats-dump` file (in
/// the work directory; images/stats.proto): how many memory pages it wrote
/// and how long the tasks were frozen. `berth migrate` stops pre-dumping
/// once a pre-dump wrote few pages (the memory no longer changes much).
public struct CRIUDumpStats: Equatable, Sendable {
    /// Microseconds the tasks were frozen (freezing_time, frozen_time).
    public var freezingMicroseconds: UInt64 = 0
    public var frozenMicroseconds: UInt64 = 0
    public var pagesScanned: UInt64 = 0
    /// Pages left out because the parent pre-dump holds them unchanged.
    public var pagesSkippedParent: UInt64 = 0
    public var pagesWritten: UInt64 = 0

    public init(pagesWritten: UInt64 = 0) { self.pagesWritten = pagesWritten }

    /// The file's name in CRIU's work directory.
    public static let fileName = "stats-dump"
    /// CRIU's image magics (criu/include/magic.h): the head of a service
    /// image, and the stats image's own.
    static let serviceMagic: UInt32 = 0x5510_5940
    static let statsMagic: UInt32 = 0x5709_3306

    /// Decodes the file: the two magics, a 32-bit length, a stats_entry
    /// whose field 1 is the dump_stats_entry. Nil for anything else.
    public static func decode(_ bytes: [UInt8]) -> CRIUDumpStats? {
        func word(_ at: Int) -> UInt32? {
            guard bytes.count >= at + 4 else { return nil }
            return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
        }
        guard word(0) == serviceMagic, word(4) == statsMagic, let length = word(8).map(Int.init), bytes.count >= 12 + length else {
            return nil
        }
        var entry = ProtobufReader(Array(bytes[12..<(12 + length)]))
        guard let fields = try? entry.fields(), let dump = fields.first(where: { $0.number == 1 })?.data else { return nil }
        var reader = ProtobufReader(dump)
        guard let values = try? reader.fields() else { return nil }
        var stats = CRIUDumpStats()
        for field in values {
            guard case .varint(let value) = field.value else { continue }
            switch field.number {
            case 1: stats.freezingMicroseconds = value
            case 2: stats.frozenMicroseconds = value
            case 5: stats.pagesScanned = value
            case 6: stats.pagesSkippedParent = value
            case 7: stats.pagesWritten = value
            default: break
            }
        }
        return stats
    }
}

extension CRIU {
    /// The stats of the last dump or pre-dump made with this work
    /// directory (nil when CRIU wrote none or it cannot be read).
    public func lastDumpStats() -> CRIUDumpStats? {
        (try? Syscall.readFile(workDirectory + "/" + CRIUDumpStats.fileName, limit: 1 << 16)).flatMap(CRIUDumpStats.decode)
    }
}
