import Kernel
import Model
import Netlink

/// The quota a warning names: a project quota on one filesystem (device).
public struct DiskQuotaIdentity: Hashable, Sendable {
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    public var project: UInt64

    public init(deviceMajor: UInt32, deviceMinor: UInt32, project: UInt64) {
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.project = project
    }

    /// The project quota a warning is about (nil: a user or group quota,
    /// which are the containers' own second level, not berth's limits).
    public init?(_ warning: QuotaWarning) {
        guard warning.type == .project else { return nil }
        self.init(deviceMajor: warning.deviceMajor, deviceMinor: warning.deviceMinor, project: warning.id)
    }
}

/// How often a container's disk quota refused a write, as the agent
/// counted the kernel's quota warnings, for one init (a restarted container
/// starts over, as its cgroup's counters do).
public struct DiskRefusals: Equatable, Sendable {
    public var space: UInt64
    public var inodes: UInt64
    public init(space: UInt64 = 0, inodes: UInt64 = 0) {
        self.space = space
        self.inodes = inodes
    }

    /// Where these are counted, as `ubc -o json` names it.
    public static let source = "quota warnings of VFS_DQUOT, counted while berth agent runs"
    public static let notCounted = "not counted: no berth agent runs to count the quota warnings of VFS_DQUOT"
}

extension ContainerRuntime {
    /// The lock the agent holds while it listens to quota warnings: `ubc`
    /// (another process) tells "not counted" from "never refused" by it.
    public var quotaListenerLockPath: String { paths.runDirectory.string + "/quota-warnings.lock" }

    /// Whether an agent counts quota warnings now.
    public var quotaWarningsCounted: Bool { RunLock.isHeld(quotaListenerLockPath) }

    /// The project quota that limits the container's disk, as warnings name
    /// it: the project-quota backend's project on the state dir's
    /// filesystem, or project 1 inside its mounted disk image (which has
    /// one when it has an inode limit). nil: none that warns.
    public func diskQuotaIdentity(_ record: ContainerRecord) -> DiskQuotaIdentity? {
        let disk = state.diskImage(record.name)
        let project: UInt32
        if let id = record.diskProject {
            project = id
        } else if record.diskImage != nil, disk.isMounted, disk.hasProjectQuota {
            project = DiskImage.projectID
        } else {
            return nil
        }
        guard let device = Syscall.device(of: disk.mountPoint) else { return nil }
        return DiskQuotaIdentity(deviceMajor: device.major, deviceMinor: device.minor, project: UInt64(project))
    }

    /// Counts refusals among `warnings` for the containers whose quota they
    /// name (one per hard-limit warning: see docs/beancounters.md for what
    /// one count means on ext4 and XFS); returns the containers counted.
    @discardableResult
    public func countQuotaWarnings(_ warnings: [QuotaWarning]) -> Set<String> {
        let refused = warnings.compactMap { warning in
            warning.kind.refused.flatMap { resource in DiskQuotaIdentity(warning).map { ($0, resource) } }
        }
        guard !refused.isEmpty else { return [] }
        var owners: [DiskQuotaIdentity: ContainerRecord] = [:]
        for name in state.names() {
            guard let record = state.load(name), record.pid != nil, let identity = diskQuotaIdentity(record) else { continue }
            owners[identity] = record
        }
        var counted: Set<String> = []
        for (identity, resource) in refused {
            guard let record = owners[identity] else { continue }
            var refusals = diskRefusals(record)
            switch resource {
            case .space: refusals.space += 1
            case .inodes: refusals.inodes += 1
            }
            saveDiskRefusals(refusals, record)
            counted.insert(record.name)
        }
        return counted
    }

    /// The file of the container's counted refusals (state dir, beside its
    /// record, not in it: a record write is durable and slow).
    func diskRefusalsFile(_ name: String) -> String { state.containerDirectory(name) + "/disk-refusals.json" }

    /// The refusals counted for the record's running init.
    public func diskRefusals(_ record: ContainerRecord) -> DiskRefusals {
        let saved = Beancounters.RecordedPeaks.load(diskRefusalsFile(record.name), for: record)
        return DiskRefusals(
            space: saved.peaks[Beancounter.Resource.diskspace.rawValue] ?? 0,
            inodes: saved.peaks[Beancounter.Resource.diskinodes.rawValue] ?? 0)
    }

    func saveDiskRefusals(_ refusals: DiskRefusals, _ record: ContainerRecord) {
        var saved = Beancounters.RecordedPeaks.load(diskRefusalsFile(record.name), for: record)
        saved.peaks[Beancounter.Resource.diskspace.rawValue] = refusals.space
        saved.peaks[Beancounter.Resource.diskinodes.rawValue] = refusals.inodes
        saved.save(diskRefusalsFile(record.name))
    }
}
