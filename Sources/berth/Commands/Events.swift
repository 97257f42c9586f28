import ArgumentParser
import FoundationEssentials
import Journal

#if canImport(Glibc)
    import Glibc
#endif

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show berth's history of applies, drifts and execs from the journal.",
        discussion: "Reads the local journal with sd_journal. Example: berth events web1 --since 3600")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: OutputOptions
    @Option(help: ArgumentHelp("Only events of the last N seconds.", valueName: "seconds")) var since: UInt64?
    @Argument(help: "Object name: a container or Kind/name (default: all).") var name: String?

    func run() throws {
        let reader = JournalReader()
        let since = self.since.map { seconds in
            UInt64(Date().timeIntervalSince1970 * 1_000_000) - min(seconds * 1_000_000, UInt64(Date().timeIntervalSince1970 * 1_000_000))
        }
        var entries = try reader.entries(object: name, sinceMicroseconds: since)
        if let name, !name.contains("/") {
            // A bare name matches Container/NAME too.
            entries += try reader.entries(object: "Container/\(name)", sinceMicroseconds: since)
            entries.sort { $0.time < $1.time }
        }
        if format.output == .json {
            print(try JSONOutput.encode(entries))
            return
        }
        for entry in entries {
            let time = Events.iso8601(microseconds: entry.time)
            let details = entry.fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            print("\(time)  \(entry.message)  \(details)")
        }
    }
}

extension Events {
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
