/// A container dumped by `berth checkpoint` without --leave-running: its
/// processes live in an image directory, not on the host. berth's record
/// keeps the mark until `berth restore` brings the container back (or
/// `berth stop` forgets it); meanwhile the planner and the agent leave the
/// container alone rather than start it afresh.
public struct CheckpointMark: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The image directory (absolute).
    public var directory: String
    /// When the dump finished: seconds since the epoch.
    public var time: Int64

    public init(directory: String, time: Int64) {
        self.directory = directory
        self.time = time
    }

    /// "checkpointed to /srv/images/web1 at 2026-12-03T21:48:00Z".
    public var description: String { "checkpointed to \(directory) at \(CheckpointMark.utc(time))" }

    /// Seconds since the epoch as ISO 8601 UTC (days to civil date:
    /// H. Hinnant's algorithm; no time zone data or libc needed).
    public static func utc(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay % 3600 / 60)):\(two(secondOfDay % 60))Z"
    }
}
