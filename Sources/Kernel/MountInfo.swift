/// The lines of a /proc/PID/mountinfo, split once over its bytes:
/// `ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [TAGS...] - TYPE SOURCE SUPEROPTIONS`.
///
/// Observe reads every running init's mountinfo on each pass (numpty's
/// devpts, proc.virtualize's LXCFS files): split as Characters, with
/// grapheme breaking, it cost 13-17% of a no-op plan's CPU at 1000
/// containers (berth-bench scale 1000); over bytes it is noise.
public struct MountInfo: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var mountPoint: String
        public var type: String
        public var superOptions: String
    }

    /// The lines that have every field, in the file's order.
    public var entries: [Entry]

    public init(_ bytes: [UInt8]) {
        entries = []
        var lineStart = 0
        // Field bounds of the current line, reused.
        var fields: [Range<Int>] = []
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            fields.removeAll(keepingCapacity: true)
            var index = lineStart
            while index < lineEnd {
                while index < lineEnd && bytes[index] == UInt8(ascii: " ") { index += 1 }
                let start = index
                while index < lineEnd && bytes[index] != UInt8(ascii: " ") { index += 1 }
                if index > start { fields.append(start..<index) }
            }
            lineStart = lineEnd + 1
            guard fields.count > 4,
                let dash = fields.firstIndex(where: { $0.count == 1 && bytes[$0.lowerBound] == UInt8(ascii: "-") }), dash >= 5,
                dash + 3 < fields.count
            else { continue }
            func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
            entries.append(Entry(mountPoint: text(fields[4]), type: text(fields[dash + 1]), superOptions: text(fields[dash + 3])))
        }
    }

    public init(_ text: String) { self.init(Array(text.utf8)) }
}
