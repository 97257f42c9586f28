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

    public init(_ bytes: some Collection<UInt8>) {
        let space = UInt8(ascii: " ")
        let dashField: [UInt8] = [UInt8(ascii: "-")]
        entries = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: space)
            guard fields.count > 4, let dash = fields.firstIndex(where: { $0.elementsEqual(dashField) }), dash >= 5,
                dash + 3 < fields.count
            else { continue }
            entries.append(
                Entry(
                    mountPoint: String(decoding: fields[4], as: UTF8.self), type: String(decoding: fields[dash + 1], as: UTF8.self),
                    superOptions: String(decoding: fields[dash + 3], as: UTF8.self)))
        }
    }

    public init(_ text: String) { self.init(text.utf8) }
}
