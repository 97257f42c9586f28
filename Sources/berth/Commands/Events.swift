import ArgumentParser
import Foundation
import Journal

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
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
        let formatter = ISO8601DateFormatter()
        for entry in entries {
            let time = formatter.string(from: Date(timeIntervalSince1970: Double(entry.time) / 1_000_000))
            let details = entry.fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            print("\(time)  \(entry.message)  \(details)")
        }
    }
}
