import Kernel

extension ContainerRuntime {
    /// Whether the record's init still runs: same pid and start time, not a zombie
    /// (what `status(_:)` checks, without loading the record again).
    public func isRunning(_ record: ContainerRecord) -> Bool {
        guard let pid = record.pid, let recordedStart = record.startTime, let stat = ProcessStat.read(pid) else { return false }
        return stat.startTime == recordedStart && stat.isAlive
    }
}
