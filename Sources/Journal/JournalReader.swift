import CLibraries

/// berth's own history, read back from the journal with libsystemd's
/// sd_journal API: the timeline of applies, drifts and execs of an object.
public struct JournalReader {
    public struct Entry: Sendable, Equatable, Codable {
        /// Microseconds since the epoch.
        public var time: UInt64
        public var message: String
        /// BERTH_* fields, without the prefix, lowercased: object, action, ...
        public var fields: [String: String]
    }

    public struct Failure: Error, CustomStringConvertible {
        public var call: String
        public var code: Int32
        public var description: String { "\(call) failed (\(-code))" }
    }

    public init() {}

    /// Entries berth wrote (SYSLOG_IDENTIFIER=berth), oldest first; with
    /// `objects`, only those naming one of them (BERTH_OBJECT or BERTH_CONTAINER);
    /// `fields` (BERTH_STATE_DIR=..., ...) must all match; `sinceMicroseconds`
    /// skips older ones.
    public func entries(
        objects: [String] = [], sinceMicroseconds: UInt64? = nil, fields: [String: String] = [:], limit: Int = 10_000
    ) throws -> [Entry] {
        var entries: [Entry] = []
        try read(objects: objects, sinceMicroseconds: sinceMicroseconds, fields: fields, follow: false) { entry in
            entries.append(entry)
            return entries.count < limit
        }
        return entries
    }

    /// Hands `handle` each matching entry, oldest first; with `follow`, then
    /// waits for new ones (sd_journal_wait) until `handle` returns false.
    public func read(
        objects: [String], sinceMicroseconds: UInt64?, fields: [String: String], follow: Bool, _ handle: (Entry) -> Bool
    ) throws {
        var journal: OpaquePointer?
        let opened = berth_sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY))
        guard opened >= 0, let journal else { throw Failure(call: "sd_journal_open", code: opened) }
        defer { berth_sd_journal_close(journal) }
        func match(_ text: String) throws {
            let result = text.withCString { berth_sd_journal_add_match(journal, $0, 0) }
            if result < 0 { throw Failure(call: "sd_journal_add_match", code: result) }
        }
        // Matches on one field are ORed, on different fields ANDed; a
        // disjunction starts another group: (berth AND instance AND object)
        // OR (berth AND instance AND container), for each object.
        func group(_ extra: String?) throws {
            try match("SYSLOG_IDENTIFIER=berth")
            for (name, value) in fields.sorted(by: { $0.key < $1.key }) { try match("\(name)=\(value)") }
            if let extra { try match(extra) }
        }
        if objects.isEmpty { try group(nil) }
        for (index, object) in objects.enumerated() {
            if index > 0 { _ = berth_sd_journal_add_disjunction(journal) }
            try group("BERTH_OBJECT=\(object)")
            _ = berth_sd_journal_add_disjunction(journal)
            try group("BERTH_CONTAINER=\(object)")
        }
        if let sinceMicroseconds { _ = berth_sd_journal_seek_realtime_usec(journal, sinceMicroseconds) }
        while true {
            while berth_sd_journal_next(journal) > 0 {
                guard let entry = JournalReader.entry(journal, since: sinceMicroseconds) else { continue }
                if !handle(entry) { return }
            }
            guard follow else { return }
            let waited = berth_sd_journal_wait(journal, UInt64.max)
            if waited < 0 { throw Failure(call: "sd_journal_wait", code: waited) }
        }
    }

    /// The entry at the journal's position, or nil when it is older than `since`.
    static func entry(_ journal: OpaquePointer, since: UInt64?) -> Entry? {
        var time: UInt64 = 0
        _ = berth_sd_journal_get_realtime_usec(journal, &time)
        if let since, time < since { return nil }
        var entry = Entry(time: time, message: "", fields: [:])
        berth_sd_journal_restart_data(journal)
        var data: UnsafeRawPointer?
        var length = 0
        while berth_sd_journal_enumerate_data(journal, &data, &length) > 0 {
            guard let data else { continue }
            let field = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
            guard let equals = field.firstIndex(of: "=") else { continue }
            let name = String(field[..<equals])
            let value = String(field[field.index(after: equals)...])
            if name == "MESSAGE" {
                entry.message = value
            } else if name.hasPrefix("BERTH_") {
                entry.fields[name.dropFirst("BERTH_".count).lowercased()] = value
            }
        }
        return entry
    }
}

extension JournalReader {
    /// A container's output in journal mode (its relay's entries: the
    /// CONTAINER_NAME and the instance's `fields` must match), each
    /// MESSAGE handed to `handle` oldest first. `tail`: only the last so
    /// many; `follow`: then waits for new ones while `keepGoing` holds
    /// (asked every second and after each batch).
    public func containerOutput(
        name: String, fields: [String: String], tail: Int?, follow: Bool, keepGoing: () -> Bool, _ handle: ([UInt8]) throws -> Void
    ) throws {
        var journal: OpaquePointer?
        let opened = berth_sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY))
        guard opened >= 0, let journal else { throw Failure(call: "sd_journal_open", code: opened) }
        defer { berth_sd_journal_close(journal) }
        for match in ["CONTAINER_NAME=\(name)"] + fields.sorted(by: { $0.key < $1.key }).map({ "\($0.key)=\($0.value)" }) {
            let result = match.withCString { berth_sd_journal_add_match(journal, $0, 0) }
            if result < 0 { throw Failure(call: "sd_journal_add_match", code: result) }
        }
        func message() -> [UInt8]? {
            var data: UnsafeRawPointer?
            var length = 0
            guard berth_sd_journal_get_data(journal, "MESSAGE", &data, &length) >= 0, let data, length >= 8 else { return nil }
            return Array(UnsafeRawBufferPointer(start: data, count: length).dropFirst("MESSAGE=".count))
        }
        if let tail {
            // Positioned on the tail-th entry from the end (journalctl -n):
            // that one first, then the ones after it.
            _ = berth_sd_journal_seek_tail(journal)
            let skipped = berth_sd_journal_previous_skip(journal, UInt64(max(1, tail)))
            if tail > 0 && skipped > 0, let line = message() { try handle(line) }
        }
        while true {
            while berth_sd_journal_next(journal) > 0 {
                if let line = message() { try handle(line) }
            }
            guard follow, keepGoing() else { return }
            let waited = berth_sd_journal_wait(journal, 1_000_000)
            if waited < 0 { throw Failure(call: "sd_journal_wait", code: waited) }
        }
    }
}
