import Kernel

extension ContainerRuntime {
    /// What planning needs of every container: each record read once, and
    /// only limits and state read from its cgroup (no usage counters), so a
    /// no-op reconcile of many containers stays cheap.
    public func observeForPlanning() -> [(record: ContainerRecord, running: Bool, cgroup: CgroupObservation?)] {
        state.names().compactMap { name in
            guard let record = state.load(name) else { return nil }
            let running = isRunning(record)
            var cgroup: CgroupObservation?
            if running, let group = try? CgroupPath(record.cgroup) { cgroup = try? cgroups.observe(group, usage: false) }
            return (record, running, cgroup)
        }
    }

    /// Whether the record's init still runs: same pid and start time, not a zombie
    /// (what `status(_:)` checks, without loading the record again).
    public func isRunning(_ record: ContainerRecord) -> Bool {
        guard let pid = record.pid, let recordedStart = record.startTime, let stat = ProcessStat.read(pid) else { return false }
        return stat.startTime == recordedStart && stat.isAlive
    }
}
