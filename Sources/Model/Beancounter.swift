/// One row of OpenVZ's user beancounter table (/proc/user_beancounters):
/// a resource, what the container holds of it, its peak, the barrier and
/// limit, and how often a limit refused it, in OpenVZ's units. Each row
/// says where the kernel keeps each figure, so a reader (`berth ubc -o
/// json`, metrics) can tell a kernel counter from one berth derives.
public struct Beancounter: Hashable, Sendable, Codable {
    /// OpenVZ's resources that berth can derive on a stock kernel, in the
    /// order /proc/user_beancounters lists them; diskspace and diskinodes
    /// (vzquota's) come last.
    public enum Resource: String, CaseIterable, Hashable, Sendable, Codable {
        case kmemsize, lockedpages, privvmpages, shmpages, numproc, physpages, swappages, oomguarpages
        case numtcpsock, numpty, numothersock, numfile, numiptent, diskspace, diskinodes

        /// The unit OpenVZ counted it in.
        public var unit: Unit {
            switch self {
            case .kmemsize: return .bytes
            case .lockedpages, .privvmpages, .shmpages, .physpages, .swappages, .oomguarpages: return .pages
            case .diskspace: return .kilobytes
            case .numproc, .numtcpsock, .numpty, .numothersock, .numfile, .numiptent, .diskinodes: return .count
            }
        }
    }

    public enum Unit: String, Hashable, Sendable, Codable {
        case bytes, pages, count
        /// 1024-byte blocks, as vzquota counted diskspace.
        case kilobytes
    }

    /// Where a peak comes from: a kernel file that keeps it, or the largest
    /// value berth saw between its observations (a peak in between is missed).
    public enum PeakOrigin: String, Hashable, Sendable, Codable {
        case kernel
        case berth
    }

    /// Where each figure is read: kernel files or interfaces, in words.
    public struct Sources: Hashable, Sendable, Codable {
        public var held: String
        public var maxheld: String
        public var limit: String
        public var failcnt: String
        public init(held: String, maxheld: String, limit: String, failcnt: String) {
            self.held = held
            self.maxheld = maxheld
            self.limit = limit
            self.failcnt = failcnt
        }
    }

    /// "No limit", as OpenVZ wrote it: LONG_MAX.
    public static let unlimited = UInt64(Int64.max)

    public var resource: Resource
    public var held: UInt64
    public var maxheld: UInt64
    public var barrier: UInt64
    public var limit: UInt64
    public var failcnt: UInt64
    public var peak: PeakOrigin
    public var sources: Sources

    public init(
        resource: Resource, held: UInt64, maxheld: UInt64, barrier: UInt64 = Beancounter.unlimited,
        limit: UInt64 = Beancounter.unlimited, failcnt: UInt64 = 0, peak: PeakOrigin, sources: Sources
    ) {
        self.resource = resource
        self.held = held
        self.maxheld = max(maxheld, held)
        self.barrier = barrier
        self.limit = limit
        self.failcnt = failcnt
        self.peak = peak
        self.sources = sources
    }
}

/// The beancounters of one container, rendered as OpenVZ's
/// /proc/user_beancounters: a "Version: 2.5" line, a header, then the first
/// row with "NAME:" in the uid column and the others with it blank.
public enum BeancounterTable {
    public static func render(_ containers: [(name: String, counters: [Beancounter])]) -> String {
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + fill : fill + text
        }
        var lines = ["Version: 2.5"]
        lines.append(
            pad("uid", 10) + "  " + pad("resource", 12, left: true)
                + ["held", "maxheld", "barrier", "limit", "failcnt"].map { " " + pad($0, 20) }.joined())
        for (name, counters) in containers {
            for (index, counter) in counters.enumerated() {
                let uid = index == 0 ? pad(name, 10) + ":" : pad("", 10) + " "
                let figures = [counter.held, counter.maxheld, counter.barrier, counter.limit, counter.failcnt]
                lines.append(uid + " " + pad(counter.resource.rawValue, 12, left: true) + figures.map { " " + pad(String($0), 20) }.joined())
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
