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
        var entries: [Entry] = []
        MountInfo.forEachLine(bytes) { fields in
            guard fields.count > 4,
                let dash = fields.firstIndex(where: { $0.count == 1 && bytes[$0.lowerBound] == UInt8(ascii: "-") }), dash >= 5,
                dash + 3 < fields.count
            else { return }
            entries.append(MountInfo.entry(bytes, mountPoint: fields[4], type: fields[dash + 1], superOptions: fields[dash + 3]))
        }
        self.entries = entries
    }

    /// An entry from the bounds of its three fields in `bytes`.
    static func entry(_ bytes: [UInt8], mountPoint: Range<Int>, type: Range<Int>, superOptions: Range<Int>) -> Entry {
        func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        return Entry(mountPoint: text(mountPoint), type: text(type), superOptions: text(superOptions))
    }

    /// The space-separated fields of each line, at most `limit` of them,
    /// as bounds into `bytes` (one array reused from line to line).
    static func forEachLine(_ bytes: [UInt8], limit: Int = .max, _ body: ([Range<Int>]) -> Void) {
        var lineStart = 0
        var fields: [Range<Int>] = []
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            fields.removeAll(keepingCapacity: true)
            var index = lineStart
            while index < lineEnd && fields.count < limit {
                while index < lineEnd && bytes[index] == UInt8(ascii: " ") { index += 1 }
                let start = index
                while index < lineEnd && bytes[index] != UInt8(ascii: " ") { index += 1 }
                if index > start { fields.append(start..<index) }
            }
            lineStart = lineEnd + 1
            body(fields)
        }
    }

    public init(_ text: String) { self.init(Array(text.utf8)) }

    /// The same entries from /proc/PID/mounts (`SOURCE MOUNTPOINT TYPE
    /// OPTIONS 0 0`), whose options are the mount's flags followed by its
    /// superblock's options (what `superOptions` holds here). Observe reads
    /// it instead of mountinfo: the kernel writes it for the same mounts
    /// (those reachable from the process's root), with the same escapes,
    /// without each mount's root, ids and propagation, about a quarter less
    /// kernel time per read (7-8 us of ~31 us at 20 mounts, every running
    /// container on every pass). Its readers look for a mount point and
    /// type and a `max=` among the options, which the mount's flags never
    /// spell.
    public init(mounts bytes: [UInt8]) {
        var entries: [Entry] = []
        MountInfo.forEachLine(bytes, limit: 4) { fields in
            guard fields.count == 4 else { return }
            entries.append(MountInfo.entry(bytes, mountPoint: fields[1], type: fields[2], superOptions: fields[3]))
        }
        self.entries = entries
    }
}
