import ArgumentParser
import FoundationEssentials
import Journal
import Kernel
import Model

#if canImport(Glibc)
    import Glibc
#endif

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show berth's history of applies, drifts and execs from the journal.",
        discussion: """
            Reads the local journal with sd_journal: the events of this instance only (its --state-dir \
            and --cgroup-parent). Examples: berth events web1 --since 1h; berth events --follow; \
            berth events --since 2026-12-03T08:00:00Z.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: OutputOptions
    @Option(
        help: ArgumentHelp(
            "Only events since a time: a duration ago (90s, 10m, 2h, 1h30m, or as journalctl writes it: '5 min ago', "
                + "'2 hours ago'; a bare number is seconds) or a timestamp "
                + "(2026-12-03T08:00:00Z in UTC, 2026-12-03 08:00:00 or 2026-12-03 in local time).", valueName: "when"))
    var since: String?
    @Flag(name: [.customShort("f"), .long], help: "Print events as they come, until interrupted.") var follow = false
    @Argument(help: "Object name: a container or Kind/name (default: all).", completion: Completion.containerName) var name: String?

    func validate() throws {
        if let since {
            do { _ = try Events.microseconds(since: since, now: Events.now()) } catch { throw ValidationError("--since: \(error.message)") }
        }
    }

    func run() throws {
        let since = try self.since.map { try Events.microseconds(since: $0, now: Events.now()) }
        // A bare name matches Container/NAME too.
        var objects = name.map { [$0] } ?? []
        if let name, !name.contains("/") { objects.append("Container/\(name)") }
        let fields = Events.instanceFields(Instance(global))
        let json = format.output == .json
        // Without journald, berth's events were never kept: say so rather
        // than print an empty history.
        let socket = Instance.journalSocket
        if !Syscall.exists(socket) && !json && global.verbosity != .quiet {
            Console.error(
                "note: systemd-journald is not running here (no \(socket)): berth's events are not kept; "
                    + "-v prints them on stderr as they happen")
        }
        if json && !follow {
            print(try JSONOutput.encode(try JournalReader().entries(objects: objects, sinceMicroseconds: since, fields: fields)))
            return
        }
        try JournalReader().read(objects: objects, sinceMicroseconds: since, fields: fields, follow: follow) { entry in
            // Following, JSON is one object per line (as journalctl -o json).
            print(json ? (try? JSONOutput.line(entry)) ?? "" : Events.line(entry))
            fflush(nil)
            return true
        }
    }

    static func line(_ entry: JournalReader.Entry) -> String {
        let details = entry.fields.filter { !instanceKeys.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return "\(iso8601(microseconds: entry.time))  \(entry.message)  \(details.joined(separator: " "))"
    }
}

extension Events {
    /// The fields every event of an instance carries (see RuntimeContext),
    /// as metadata keys and as journal matches.
    static let instanceKeys: Set<String> = ["state_dir", "cgroup_parent"]

    static func instanceMetadata(_ instance: Instance) -> [String: String] {
        ["state_dir": absolute(instance.stateDir), "cgroup_parent": instance.cgroupParent]
    }

    static func instanceFields(_ instance: Instance) -> [String: String] {
        ["BERTH_STATE_DIR": absolute(instance.stateDir), "BERTH_CGROUP_PARENT": instance.cgroupParent]
    }

    /// The state dir as an absolute path, so `--state-dir s` and
    /// `--state-dir $PWD/s` are one instance.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }

    static func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1_000_000) }

    /// `--since`: a duration ago, or a timestamp; microseconds since the epoch.
    static func microseconds(since text: String, now: UInt64) throws(ValueError) -> UInt64 {
        if let seconds = UInt64(text) { return now - min(now, seconds.multipliedReportingOverflow(by: 1_000_000).partialValue) }
        if let interval = (try? Interval(parsing: text)) ?? durationAgo(text) {
            return now - min(now, interval.milliseconds.multipliedReportingOverflow(by: 1000).partialValue)
        }
        if let seconds = timestamp(text) { return UInt64(max(0, seconds)) * 1_000_000 }
        throw ValueError(
            "'\(text)' is neither a duration nor a timestamp",
            hint: "write 10m, 2h, '5 min ago', 2026-12-03T08:00:00Z or '2026-12-03 08:00:00'")
    }

    /// A duration ago as journalctl writes it: "5 min ago", "2 hours ago",
    /// "1h 30min ago", "1 day ago" (a number, its unit spelled out or
    /// short, with or without a space between; nil otherwise).
    static func durationAgo(_ text: String) -> Interval? {
        guard text.hasSuffix(" ago") else { return nil }
        let units: [String: (unit: String, times: UInt64)] = [
            "ms": ("ms", 1), "msec": ("ms", 1), "s": ("s", 1), "sec": ("s", 1), "secs": ("s", 1), "second": ("s", 1),
            "seconds": ("s", 1), "m": ("m", 1), "min": ("m", 1), "mins": ("m", 1), "minute": ("m", 1), "minutes": ("m", 1),
            "h": ("h", 1), "hr": ("h", 1), "hrs": ("h", 1), "hour": ("h", 1), "hours": ("h", 1), "d": ("h", 24), "day": ("h", 24),
            "days": ("h", 24), "w": ("h", 168), "week": ("h", 168), "weeks": ("h", 168),
        ]
        var words = text.dropLast(4).split(separator: " ")[...]
        var compact = ""
        while let word = words.popFirst() {
            let digits = word.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let number = UInt64(digits) else { return nil }
            var unit = word.dropFirst(digits.count)
            if unit.isEmpty {
                guard let next = words.popFirst() else { return nil }
                unit = next
            }
            guard let (short, times) = units[String(unit)] else { return nil }
            let (scaled, overflow) = number.multipliedReportingOverflow(by: times)
            guard !overflow else { return nil }
            compact += "\(scaled)\(short)"
        }
        return compact.isEmpty ? nil : try? Interval(parsing: compact)
    }

    /// Seconds since the epoch of YYYY-MM-DD, optionally followed by
    /// (T or a space) HH:MM or HH:MM:SS: with a final Z in UTC, else local time.
    static func timestamp(_ text: String) -> Int? {
        let utc = text.hasSuffix("Z")
        let body = Array((utc ? text.dropLast() : Substring(text)).utf8)
        // Positions of the numbers and the separators between them.
        let layouts: [(count: Int, separators: [Int: [UInt8]])] = [
            (10, [4: [45], 7: [45]]),
            (16, [4: [45], 7: [45], 10: [84, 32], 13: [58]]),
            (19, [4: [45], 7: [45], 10: [84, 32], 13: [58], 16: [58]]),
        ]
        guard let layout = layouts.first(where: { $0.count == body.count }) else { return nil }
        var numbers: [Int32] = []
        var current: Int32 = 0
        for (index, byte) in body.enumerated() {
            if let allowed = layout.separators[index] {
                guard allowed.contains(byte) else { return nil }
                numbers.append(current)
                current = 0
            } else {
                guard byte >= 48 && byte <= 57 else { return nil }
                current = current * 10 + Int32(byte - 48)
            }
        }
        numbers.append(current)
        while numbers.count < 6 { numbers.append(0) }
        guard (1...12).contains(numbers[1]), (1...31).contains(numbers[2]), numbers[3] < 24, numbers[4] < 60, numbers[5] < 61 else {
            return nil
        }
        var parts = tm()
        parts.tm_year = numbers[0] - 1900
        parts.tm_mon = numbers[1] - 1
        parts.tm_mday = numbers[2]
        parts.tm_hour = numbers[3]
        parts.tm_min = numbers[4]
        parts.tm_sec = numbers[5]
        parts.tm_isdst = -1
        let seconds = utc ? timegm(&parts) : mktime(&parts)
        return seconds == -1 ? nil : Int(seconds)
    }

    /// 2026-11-26T08:12:00Z (UTC), from microseconds since the epoch.
    static func iso8601(microseconds: UInt64) -> String {
        var seconds = time_t(microseconds / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension JSONOutput {
    /// One compact line (for a stream: `events --follow -o json`).
    static func line<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
