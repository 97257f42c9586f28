import Kernel

/// How long each phase of a checkpoint or restore took, for its event
/// ("phases": "check 0 ms, dump 812 ms, checksums 40 ms, ..."): where a
/// freeze's time goes, on a host as in the VM lane.
struct CheckpointPhases: CustomStringConvertible {
    private var last = MonotonicClock.milliseconds()
    private var phases: [(name: String, milliseconds: UInt64)] = []

    /// Ends the phase `name` (begun at the last mark, or at creation).
    mutating func mark(_ name: String) {
        let now = MonotonicClock.milliseconds()
        phases.append((name, now &- last))
        last = now
    }

    var description: String { phases.map { "\($0.name) \($0.milliseconds) ms" }.joined(separator: ", ") }
}
