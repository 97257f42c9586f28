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
        guard let bytes = try? Syscall.readFile("\(procRoot)/\(pid)/stat", limit: 4096) else { return nil }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Parses a stat line; the command may contain spaces and ')', so fields
    /// are counted after the last ')'.
    public static func parse(_ line: String) -> ProcessStat? {
        guard let close = line.lastIndex(of: ")") else { return nil }
        let fields = line[line.index(after: close)...].split(separator: " ")
        // fields[0] is state (field 3); starttime is field 22 → index 19.
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return ProcessStat(state: state, startTime: start)
    }

    /// The pid inside the process's innermost pid namespace (NSpid's last value).
    public static func namespacePID(_ pid: pid_t, procRoot: String = "/proc") -> pid_t? {
        guard let bytes = try? Syscall.readFile("\(procRoot)/\(pid)/status", limit: 65536) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("NSpid:") {
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last.flatMap { pid_t($0) }
        }
        return nil
    }
}
