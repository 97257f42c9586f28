#if canImport(Glibc)
    import Glibc
#endif

/// Named points in berth's multi-step changes where a test can make berth
/// die with SIGKILL (`BERTH_FAILPOINT=NAME`), to prove that the next run
/// converges and nothing leaks, whatever step an apply was killed at.
/// Unset, a failpoint costs one comparison.
public enum Failpoint: String, CaseIterable, Sendable {
    // Creating a network. A record's temp file written, not yet renamed
    // (it must never be read as a record); the bridge made, before the
    // request that marks it with berth's alias.
    case networkRecordRenaming = "network.record-renaming"
    case bridgeRecorded = "network.bridge-recorded"
    case bridgeUnmarked = "network.bridge-unmarked"
    case bridgeCreated = "network.bridge-created"
    // Starting a container.
    case recordSaved = "start.record-saved"
    case cgroupCreated = "start.cgroup-created"
    case limitsApplied = "start.limits-applied"
    case cloned = "start.cloned"
    case networkAttached = "start.network-attached"
    case firewallApplied = "start.firewall-applied"
    case initReleased = "start.init-released"
    // The init runs and its record, written without a sync, is not yet
    // durable: a crash leaves it lost (no file) or torn (an empty one).
    case recordLost = "start.record-lost"
    case recordTorn = "start.record-torn"
    // A plan that deletes nothing: its inventory written ahead, synced,
    // while its containers may not be made yet (InventoryWriteAhead).
    case inventoryAhead = "apply.inventory-ahead"
    // Changing a running container.
    case resourcesWritten = "update.resources-written"
    case networksConverged = "update.networks-converged"
    // NAT and port forwards.
    case natApplied = "nat.applied"
    // Deleting.
    case containerStopped = "delete.stopped"
    case runFilesRemoved = "delete.run-files-removed"
    // Its directories moved into the trash, not yet emptied (Trash).
    case containerTrashed = "delete.trashed"
    case bridgeDeleted = "network.bridge-deleted"

    static let armed: String? = {
        guard let value = getenv("BERTH_FAILPOINT") else { return nil }
        return String(cString: value)
    }()

    /// Dies here, at once and without cleanup, when this point is armed;
    /// `before`, when armed, first does what the crash would have done too.
    public func hit(before: () -> Void = {}) {
        guard let armed = Failpoint.armed, armed == rawValue else { return }
        before()
        let line = "berth: failpoint \(rawValue): killed\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        kill(getpid(), SIGKILL)
    }
}
