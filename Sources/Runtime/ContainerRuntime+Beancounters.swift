import FoundationEssentials
import Kernel
import Model
import Netlink

#if canImport(Glibc)
    import Glibc
#endif

extension ContainerRuntime {
    /// The beancounters of a running container (nil when it does not run):
    /// its cgroup's counters, its processes' descriptors and locked memory,
    /// the sockets of its network namespace (sock_diag), its
    /// pseudo-terminals, firewall rules and disk image. Peaks the kernel
    /// does not keep are recorded in its run directory between observations.
    public func beancounters(_ record: ContainerRecord) -> [Beancounter]? {
        guard isRunning(record), let pid = record.pid, let group = try? CgroupPath(record.cgroup),
            let cgroup = try? cgroups.observe(group, usage: true)
        else { return nil }
        var sample = Beancounters.Sample(version: cgroups.version, cgroup: cgroup, pageSize: KernelUnits.systemPageSize)
        if let processes = try? cgroups.processes(in: group) {
            var files: UInt64 = 0
            var locked: UInt64 = 0
            var privateWritable: UInt64 = 0
            for process in processes {
                files += UInt64((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process)/fd"))?.count ?? 0)
                guard let bytes = try? Syscall.readFile("/proc/\(process)/status", limit: 64 << 10) else { continue }
                let status = String(decoding: bytes, as: UTF8.self)
                locked += Beancounters.statusBytes(status, ["VmLck"])
                privateWritable += Beancounters.statusBytes(status, ["VmData", "VmStk"])
            }
            sample.openFiles = files
            sample.lockedBytes = locked
            sample.privateWritableBytes = privateWritable
        }
        if let namespaceFD = try? Syscall.open("/proc/\(pid)/ns/net", O_RDONLY) {
            defer { Syscall.close(namespaceFD) }
            if let socket = try? NetlinkSocket(protocol: SocketDiagnostics.NETLINK_SOCK_DIAG, networkNamespaceFD: namespaceFD),
                let counts = try? SocketDiagnostics.count(socket)
            {
                sample.sockets = (counts.tcp, counts.other)
            }
        }
        sample.connectionLimit = try? ConnectionLimit.observe(pid: pid)
        // The init's own devpts instance, seen through its root.
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/root/dev/pts") {
            sample.pseudoTerminals = UInt64(entries.filter { $0 != "ptmx" }.count)
        }
        sample.pseudoTerminalLimit = PseudoTerminalLimit.observe(pid: pid)
        sample.firewallRules = (try? ContainerFirewall.ruleCount(pid: pid)) ?? 0
        if record.spec?.resources.numfile != nil {
            sample.openFilesLimit = OpenFilesLimit.observe(pid: pid) ?? record.spec?.resources.numfile
        }
        sample.disk = beancounterDisk(record)
        if quotaWarningsCounted { sample.disk?.refusals = diskRefusals(record) }

        let file = state.runDirectory(record.name) + "/beancounters.json"
        let recorded = Beancounters.RecordedPeaks.load(file, for: record)
        let (rows, peaks) = Beancounters.rows(sample, recorded: recorded.peaks)
        // Best effort: a reader without write access still gets its table.
        if peaks != recorded.peaks { Beancounters.RecordedPeaks(initIdentity: recorded.initIdentity, peaks: peaks).save(file) }
        return rows
    }
}

extension ContainerRuntime {
    /// diskspace and diskinodes of its disk quota, from either backend.
    func beancounterDisk(_ record: ContainerRecord) -> Beancounters.Disk? {
        let disk = state.diskImage(record.name)
        if let id = record.diskProject {
            guard let usage = try? ProjectQuota.usage(of: id, on: disk.mountPoint) else { return nil }
            return Beancounters.Disk(
                source: .projectQuota, usedBytes: usage.usedBytes, usedInodes: usage.usedInodes, sizeLimit: usage.bytesLimit,
                inodeLimit: usage.inodesLimit)
        }
        guard record.diskImage != nil, let usage = disk.usage() else { return nil }
        // The space and inode limits are project 1's quota inside the image
        // where it has them (an image made before berth limited its space
        // so has only an inode limit there); else the image's own capacity
        // and inodes are the limits.
        let quota = disk.hasProjectQuota ? try? ProjectQuota.usage(of: DiskImage.projectID, on: disk.mountPoint) : nil
        let space = quota?.bytesLimit.map { (used: quota?.usedBytes ?? 0, limit: $0) }
        let inodes = quota?.inodesLimit.map { (used: quota?.usedInodes ?? 0, limit: $0) }
        return Beancounters.Disk(
            source: .image(spaceQuota: space != nil, inodeQuota: inodes != nil), usedBytes: space?.used ?? usage.usedBytes,
            usedInodes: inodes?.used ?? usage.usedInodes, sizeLimit: space?.limit ?? usage.capacityBytes, inodeLimit: inodes?.limit ?? usage.inodes)
    }
}

/// A beancounter whose failcnt rose since berth last reported it.
public struct BeancounterFailure: Equatable, Sendable {
    public var container: String
    public var resource: Beancounter.Resource
    public var failcnt: UInt64
    public var previous: UInt64
}

extension ContainerRuntime {
    /// The failcnts that rose since the last call for the same init (the
    /// agent reports each rise once, also across its own restarts: what it
    /// reported is kept in the container's run directory).
    public func risenFailcnts(_ record: ContainerRecord, _ rows: [Beancounter]) -> [BeancounterFailure] {
        guard record.pid != nil else { return [] }
        let file = state.runDirectory(record.name) + "/failcnt-reported.json"
        var reported = Beancounters.RecordedPeaks.load(file, for: record)
        var failures: [BeancounterFailure] = []
        for row in rows {
            let previous = reported.peaks[row.resource.rawValue] ?? 0
            guard row.failcnt > previous else { continue }
            failures.append(BeancounterFailure(container: record.name, resource: row.resource, failcnt: row.failcnt, previous: previous))
            reported.peaks[row.resource.rawValue] = row.failcnt
        }
        if !failures.isEmpty { reported.save(file) }
        return failures
    }
}

extension Beancounters.RecordedPeaks {
    /// The figures kept in `file` for the record's running init (empty for
    /// another init: a restarted container starts over).
    static func load(_ file: String, for record: ContainerRecord) -> Self {
        let identity = [UInt64(record.pid ?? 0), record.startTime ?? 0]
        guard let bytes = try? Syscall.readFile(file, limit: 64 << 10),
            let saved = try? JSONDecoder().decode(Self.self, from: Data(bytes)), saved.initIdentity == identity
        else { return Self(initIdentity: identity) }
        return saved
    }

    /// Written atomically, not synced: the run dir does not outlive a reboot,
    /// nor do the inits these figures belong to.
    func save(_ file: String) {
        guard let data = try? JSONEncoder().encode(self) else { return }
        try? Syscall.writeAtomically(Array(data), to: file, durable: false)
    }
}
