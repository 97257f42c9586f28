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
    /// `object`, only those naming it (BERTH_OBJECT or BERTH_CONTAINER);
    /// `sinceMicroseconds` skips older ones.
    public func entries(object: String? = nil, sinceMicroseconds: UInt64? = nil, limit: Int = 10_000) throws -> [Entry] {
        var journal: OpaquePointer?
        let opened = berth_sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY))
        guard opened >= 0, let journal else { throw Failure(call: "sd_journal_open", code: opened) }
        defer { berth_sd_journal_close(journal) }
        func match(_ text: String) throws {
            let result = text.withCString { berth_sd_journal_add_match(journal, $0, 0) }
            if result < 0 { throw Failure(call: "sd_journal_add_match", code: result) }
        }
        if let object {
            // (identifier AND object) OR (identifier AND container)
            try match("SYSLOG_IDENTIFIER=berth")
            try match("BERTH_OBJECT=\(object)")
            _ = berth_sd_journal_add_disjunction(journal)
            try match("SYSLOG_IDENTIFIER=berth")
            try match("BERTH_CONTAINER=\(object)")
        } else {
            try match("SYSLOG_IDENTIFIER=berth")
        }
        if let sinceMicroseconds { _ = berth_sd_journal_seek_realtime_usec(journal, sinceMicroseconds) }
        var entries: [Entry] = []
        while entries.count < limit, berth_sd_journal_next(journal) > 0 {
            var time: UInt64 = 0
            _ = berth_sd_journal_get_realtime_usec(journal, &time)
            if let sinceMicroseconds, time < sinceMicroseconds { continue }
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
            entries.append(entry)
        }
        return entries
    }
}
