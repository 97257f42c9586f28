import FoundationEssentials
import Kernel
import Logging
import Model

#if canImport(Glibc)
    import Glibc
#endif

/// Checkpoint and restore through CRIU (swrk RPC): the container's process
/// tree with its namespaces, memory, open files and established TCP
/// connections; its cgroup under berth's parent; its veths made again on
/// their bridges; and berth's record, so a restored container is managed
/// like any other.
extension ContainerRuntime {
    /// Where CRIU's logs of a container's checkpoints and restores go.
    public func criuWorkDirectory(_ name: String) -> String { state.runDirectory(name) + "/criu" }

    /// Where a passing `criu check` of this boot is recorded (CRIU.checkedVersion).
    public var criuCheckRecord: String { paths.runDirectory.string + "/criu-check" }

    /// The options of a dump of `record`'s init (pure: tested without root).
    public static func dumpOptions(pid: pid_t, leaveRunning: Bool, hostFiles: [String]) -> CRIUOptions {
        var options = CRIUOptions()
        options.pid = pid
        options.leaveRunning = leaveRunning
        options.tcpEstablished = true
        options.fileLocks = true
        options.manageCgroups = true
        options.cgroupMode = .soft
        // Debian's criu is built with libnftables; the host has no iptables.
        options.networkLock = .nftables
        options.external = hostFiles
        return options
    }

    /// The options of a restore into `root` (the container's root mounted
    /// by berth) and cgroup `cgroup` (made by berth, its limits applied).
    public static func restoreOptions(root: String, cgroup: String, veths: [CheckpointManifest.Veth]) -> CRIUOptions {
        var options = CRIUOptions()
        options.root = root
        options.tcpEstablished = true
        options.fileLocks = true
        options.manageCgroups = true
        options.cgroupMode = .soft
        options.cgroupRoots = [CRIUOptions.CgroupRoot(path: "/" + cgroup)]
        options.restoreSibling = true
        options.networkLock = .nftables
        options.external = veths.map(\.external)
        return options
    }

    /// `berth checkpoint NAME --to DIR`: dumps the running container into
    /// `directory` (absent or empty), with its manifest. Unless
    /// `leaveRunning`, the container is stopped once dumped (CRIU ends its
    /// processes; berth removes its cgroup).
    @discardableResult
    public func checkpoint(_ name: String, to directory: String, leaveRunning: Bool, berthVersion: String, parent: String? = nil) throws
        -> CheckpointManifest
    {
        var phases = CheckpointPhases()
        guard let record = state.load(name), isRunning(record), let pid = record.pid else {
            throw CheckpointError("container \(name) is not running")
        }
        if record.privateLayerInMemory == true {
            throw CheckpointError("container \(name) runs in the foreground (berth run): its private layer is in memory")
        }
        if record.sysinfoVirtualized == true {
            // Its sysinfo(2) goes to a responder outside it (a seccomp
            // listener), which CRIU cannot carry over; nor LXCFS's binds.
            throw CheckpointError(
                "container \(name) runs with a virtualized /proc (LXCFS and its sysinfo responder), which CRIU cannot checkpoint: "
                    + "set proc.virtualize: false and restart it first")
        }
        let veths = try vethsOf(record)
        if Syscall.exists(directory) {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            guard entries.isEmpty else { throw CheckpointError("\(directory) is not empty (a checkpoint goes into a new directory)") }
        } else {
            try Syscall.makeDirectories(directory, mode: 0o700)
        }
        let criu = CRIU(workDirectory: criuWorkDirectory(name))
        let version = try criu.checkedVersion(cache: criuCheckRecord)
        phases.mark("check")
        let group = try CgroupPath(record.cgroup)
        let pids = try cgroups.processes(in: group)
        let hostFiles = ProcessFiles.outside(try ProcessFiles.mountIDs(of: pid), pids: pids)
        // berth's record beside the images, before the dump: it is part of
        // what the checksums cover.
        try Syscall.writeAtomically(try RecordJSON.encode(record), to: directory + "/" + CheckpointManifest.recordFileName)
        var options = ContainerRuntime.dumpOptions(pid: pid, leaveRunning: leaveRunning, hostFiles: hostFiles.map(\.key))
        if let parent {
            // Only the pages that changed since the pre-dump `parent` (berth migrate).
            options.parentImage = parent
            options.trackMemory = true
        }
        phases.mark("prepare")
        try criu.dump(into: directory, options: options)
        phases.mark("dump")
        let manifest = CheckpointManifest(
            container: name, berthVersion: berthVersion, kernel: HostIdentity.kernelRelease(), criu: version,
            initPID: pid, leftRunning: leaveRunning, spec: record.spec, veths: veths,
            hostFiles: hostFiles.map { CheckpointManifest.HostFile(key: $0.key, path: $0.path, flags: $0.flags) },
            checksums: try CheckpointManifest.checksums(of: directory),
            disk: diskQuota(record).map { CheckpointManifest.Disk(backend: $0.backend, size: $0.size, inodes: $0.inodes, project: $0.project) })
        try Syscall.writeAtomically(try RecordJSON.encode(manifest), to: directory + "/" + CheckpointManifest.fileName)
        phases.mark("checksums")
        if !leaveRunning {
            // CRIU ended its processes; what is left of it goes as with a stop.
            _ = Reaper.poll(pid)
            try drain(group)
            try cgroups.remove(group)
            // Marked, so that no plan starts it afresh until it is restored.
            var marked = record.stopped
            marked.checkpoint = CheckpointMark(directory: directory, time: Int64(time(nil)))
            try state.save(marked)
        }
        phases.mark("stop")
        logger.info(
            "checkpointed",
            metadata: ["container": "\(name)", "directory": "\(directory)", "running": "\(leaveRunning)", "phases": "\(phases)"])
        return manifest
    }

    /// `berth restore NAME --from DIR`: checks the image against its
    /// manifest, makes the container's cgroup (its limits applied) and
    /// root, has CRIU restore the tree into them, and records the new init.
    @discardableResult
    public func restore(_ name: String, from directory: String) throws -> ContainerRecord {
        var phases = CheckpointPhases()
        try Names.checkDNSLabel(name)
        if case .running(let pid) = status(name) {
            throw CheckpointError("container \(name) is running (pid \(pid)): stop it before restoring it")
        }
        let manifest = try CheckpointManifest.load(directory, for: name)
        phases.mark("checksums")
        let saved: ContainerRecord
        do {
            saved = try JSONDecoder().decode(
                ContainerRecord.self, from: Data(try Syscall.readFile(directory + "/" + CheckpointManifest.recordFileName)))
        } catch {
            throw CheckpointError("\(directory)/\(CheckpointManifest.recordFileName): unreadable record: \(error)")
        }
        guard let spec = saved.spec else { throw CheckpointError("\(directory): the record has no spec") }
        if paths.cgroupManager == .systemd {
            // CRIU restores into a cgroup that exists; a scope exists only with a process in it.
            throw CheckpointError("berth restore with --cgroup-driver systemd is not supported yet: restore with --cgroup-driver cgroupfs")
        }
        let criu = CRIU(workDirectory: criuWorkDirectory(name))
        _ = try criu.checkedVersion(cache: criuCheckRecord)
        phases.mark("check")
        let container = ContainerObject(
            metadata: ObjectMeta(name: name, labels: saved.labels ?? [:]), spec: spec,
            source: SourceLocation(file: directory, line: 1, column: 1))
        // The record as this host's berth keeps it: its own paths.
        var record = saved
        record.pid = nil
        record.startTime = nil
        record.exitCode = nil
        record.checkpoint = nil
        record.lower = try lowerLayer(container)
        let disk = try privateDisk(container, owner: try mappedRoot(container) ?? (0, 0))
        let privateDirectory = disk?.directory ?? state.containerDirectory(name)
        record.upper = privateDirectory + "/upper"
        record.work = privateDirectory + "/work"
        record.diskImage = disk?.image
        // This host's project ID (a migrate's target takes one of its own).
        record.diskProject = disk?.project
        record.rootfs = state.runDirectory(name) + "/rootfs"
        record.cgroup = try cgroupPath(name).description
        record.scope = nil
        for path in [record.upper, record.work, record.rootfs] { try Syscall.makeDirectories(path) }

        let group = try CgroupPath(record.cgroup)
        try state.save(record)
        try cgroups.create(group)
        if !(try cgroups.processes(in: group)).isEmpty { try cgroups.killAll(group) }
        var limits = try CgroupLimits(spec.resources)
        if !spec.security.privileged { limits.devices = deviceRules(try deviceNodes(spec)) }
        _ = try cgroups.apply(limits, to: group)

        // The root CRIU restores the mount namespace on: the overlay, mounted
        // here for the restore only (the container's namespace keeps its own).
        do {
            try Syscall.mountOverlay(lower: record.lower, upper: record.upper, work: record.work, on: record.rootfs)
        } catch {
            try? cgroups.remove(group)
            throw error
        }
        defer { try? Syscall.detachMount(record.rootfs) }
        var opened: [(key: String, fd: Int32)] = []
        var unlocked: [String] = []
        defer { for item in opened { Syscall.close(item.fd) } }
        do {
            for file in manifest.hostFiles {
                // The console log is this host's; any other file must exist.
                let path = file.path.hasSuffix("/console.log") ? state.containerDirectory(name) + "/console.log" : file.path
                let access = file.flags & O_ACCMODE
                let flags = access | (file.flags & O_APPEND) | O_CLOEXEC | (path.hasSuffix("/console.log") ? O_CREAT : 0)
                opened.append((file.key, try Syscall.open(path, flags, mode: 0o640)))
            }
            phases.mark("prepare")
            let pid = try criu.restore(
                from: directory, options: ContainerRuntime.restoreOptions(root: record.rootfs, cgroup: record.cgroup, veths: manifest.veths),
                inherited: opened)
            record.pid = pid
            record.startTime = ProcessStat.read(pid)?.startTime
            try state.saveInit(record)
            // The dump's network lock, restored with the namespace's ruleset.
            unlocked = try CRIUNetworkLock.removeLeftovers(pid: pid)
            phases.mark("restore")
        } catch {
            try? cgroups.killAll(group)
            _ = try? drain(group)
            try? cgroups.remove(group)
            throw error
        }
        // The host ends CRIU made: up, on their bridges, as berth sets them.
        if let pid = record.pid, !(record.networks ?? []).isEmpty {
            let byName = Dictionary((record.networks ?? []).map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
            try NetworkAttacher(logger: logger, state: state).converge(
                pid: pid, container: container, networks: byName, ipv6: record.ipv6 ?? spec.usesIPv6)
        }
        phases.mark("networks")
        var metadata: Logger.Metadata = [
            "container": "\(name)", "pid": "\(record.pid ?? 0)", "directory": "\(directory)", "phases": "\(phases)",
        ]
        if !unlocked.isEmpty { metadata["networkLockRemoved"] = "\(unlocked.joined(separator: ", "))" }
        logger.info("restored", metadata: metadata)
        return record
    }

    /// A memory pre-dump (`criu pre-dump`, berth migrate) into `directory`
    /// (made), on top of the pre-dump `parent` (relative to it): the
    /// container keeps running; the next dump copies only what changed.
    /// Returns how many memory pages it wrote (CRIU's stats; nil when
    /// they cannot be read).
    @discardableResult
    public func preDump(_ name: String, into directory: String, parent: String?) throws -> UInt64? {
        guard let record = state.load(name), isRunning(record), let pid = record.pid else {
            throw CheckpointError("container \(name) is not running")
        }
        try Syscall.makeDirectories(directory, mode: 0o700)
        let criu = CRIU(workDirectory: criuWorkDirectory(name))
        _ = try criu.checkedVersion(cache: criuCheckRecord)
        var options = CRIUOptions()
        options.pid = pid
        options.trackMemory = true
        options.parentImage = parent
        options.manageCgroups = true
        options.cgroupMode = .soft
        // A stale stats file must not speak for this pre-dump.
        try? Syscall.removeFile(criu.workDirectory + "/" + CRIUDumpStats.fileName, missingOK: true)
        try criu.dump(into: directory, options: options, preDump: true)
        return criu.lastDumpStats()?.pagesWritten
    }

    /// The container's veths: inside name, host end, bridge.
    func vethsOf(_ record: ContainerRecord) throws -> [CheckpointManifest.Veth] {
        guard let spec = record.spec else { return [] }
        let networks = Dictionary((record.networks ?? []).map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        let container = ContainerObject(
            metadata: ObjectMeta(name: record.name), spec: spec, source: SourceLocation(file: "state", line: 1, column: 1))
        return try container.interfaceLayout(networks: networks).compactMap { interface in
            guard let network = networks[interface.network] else { return nil }
            guard network.spec.driver == .bridge else {
                // CRIU makes veths again at a restore; a macvlan it would
                // have to make on the network's lower end, which berth does
                // not hand it.
                throw CheckpointError(
                    "container \(record.name) is attached to network \(network.metadata.name), driver \(network.spec.driver.rawValue), "
                        + "which berth cannot restore: checkpoint and migrate need driver bridge")
            }
            return CheckpointManifest.Veth(
                inside: interface.interface,
                host: NetworkAttacher.hostInterfaceName(container: record.name, network: network.metadata.name), bridge: network.spec.bridge)
        }
    }
}
