#if canImport(Glibc)
    import Glibc
#endif

/// A process as /proc/PID/stat shows it: enough to tell that a recorded pid
/// is still the same, living process (pid reuse, zombies).
public struct ProcessStat: Equatable, Sendable {
    /// R, S, D, Z (zombie), X (dead), T, t, I, ...
    public var state: Character
    /// Clock ticks after boot: with the pid, identifies the process.
    public var startTime: UInt64

    /// A zombie init is dead even though kill(pid, 0) succeeds.
    public var isAlive: Bool { state != "Z" && state != "X" }

    public static func read(_ pid: pid_t, procRoot: String = "/proc") -> ProcessStat? {
        // One record (single_open): one read (Syscall.readAll).
        guard let bytes = try? Syscall.readFile("\(procRoot)/\(pid)/stat", limit: 4096, oneRecord: true) else { return nil }
        return parse(bytes)
    }

    /// Parses a stat line; the command may contain spaces and ')', so fields
    /// are counted after the last ')'.
    public static func parse(_ line: String) -> ProcessStat? { parse(Array(line.utf8)) }

    /// The same on the bytes as read (every start and status check reads
    /// one: no String searching).
    public static func parse(_ line: [UInt8]) -> ProcessStat? {
        guard let close = line.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = line[(close + 1)...].split(separator: UInt8(ascii: " "))
        // fields[0] is state (field 3); starttime is field 22 → index 19.
        guard fields.count > 19, let state = fields[0].first, fields[0].count == 1,
            let start = UInt64(String(decoding: fields[19], as: UTF8.self))
        else { return nil }
        return ProcessStat(state: Character(Unicode.Scalar(state)), startTime: start)
    }

    /// The pid inside the process's innermost pid namespace (NSpid's last value).
    public static func namespacePID(_ pid: pid_t, procRoot: String = "/proc") -> pid_t? {
        guard let bytes = try? Syscall.readFile("\(procRoot)/\(pid)/status", limit: 65536) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("NSpid:") {
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last.flatMap { pid_t($0) }
        }
        return nil
    }

    /// Whole seconds since a process with this stat start time started:
    /// /proc/uptime minus starttime / sysconf(_SC_CLK_TCK); nil if unreadable.
    public static func secondsRunning(startTime: UInt64, procRoot: String = "/proc") -> UInt64? {
        guard let bytes = try? Syscall.readFile("\(procRoot)/uptime", limit: 256) else { return nil }
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        return uptime(String(decoding: bytes, as: UTF8.self), startTime: startTime, ticksPerSecond: ticks > 0 ? UInt64(ticks) : 100)
    }

    /// The same from /proc/uptime's text ("12345.67 890.12").
    public static func uptime(_ procUptime: String, startTime: UInt64, ticksPerSecond: UInt64) -> UInt64? {
        guard let first = procUptime.split(separator: " ").first, let boot = Double(first), boot.isFinite, boot >= 0, boot < 1e15, ticksPerSecond > 0
        else { return nil }
        let started = Double(startTime) / Double(ticksPerSecond)
        return boot > started ? UInt64(boot - started) : 0
    }
}
