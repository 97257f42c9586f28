import Foundation
import Kernel

/// Prints, as a slow test goes, how long each of its steps took: the VM
/// lane's log then shows where the CRIU suites spend their time under qemu
/// (a reading, never an assertion).
final class StepTimer {
    let name: String
    private let start = MonotonicClock.milliseconds()
    private var last: UInt64

    init(_ name: String) {
        self.name = name
        last = start
    }

    /// "NAME +12.3 s (2.1 s) STEP": since the start, and since the last mark.
    func mark(_ step: String) {
        let now = MonotonicClock.milliseconds()
        print("\(name) +\(StepTimer.seconds(now &- start)) (\(StepTimer.seconds(now &- last))) \(step)")
        last = now
    }

    /// The lines of a `berth --verbose` output that give its phases' times
    /// (the checkpointed and restored events).
    static func phases(_ output: String) -> String {
        output.split(separator: "\n").filter { $0.contains("phases") }.joined(separator: "; ")
    }

    static func seconds(_ milliseconds: UInt64) -> String { String(format: "%.1f s", Double(milliseconds) / 1000) }

    /// How long each CRIU request under `directory` ran, by its log's last
    /// timestamp (CRIU stamps each line with the seconds since it started);
    /// the logs of a container's last check, dump and restore.
    static func criuDurations(under directory: String) -> [String] {
        let logs = (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".log") }
        return logs.sorted().compactMap { path in
            guard let text = try? String(contentsOfFile: directory + "/" + path, encoding: .utf8) else { return nil }
            let stamps = text.split(separator: "\n").compactMap { line -> Double? in
                guard line.hasPrefix("("), let end = line.firstIndex(of: ")") else { return nil }
                return Double(line[line.index(after: line.startIndex)..<end].trimmingCharacters(in: .whitespaces))
            }
            guard let total = stamps.last else { return nil }
            return "\(path): \(String(format: "%.1f s", total))"
        }
    }
}
