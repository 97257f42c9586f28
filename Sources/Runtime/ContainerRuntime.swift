import FoundationEssentials
import Kernel
import Logging
import Model

#if canImport(Glibc)
    import Glibc
#endif

/// Starts, finds and stops containers on this host. Containers are detached:
/// no process of berth's stays with them, and a new ContainerRuntime (a
/// restarted berth) finds them again from the state dir, re-checked in /proc.
public struct ContainerRuntime: Sendable {
    public let paths: RuntimePaths
    public let cgroups: any CgroupDriver
    public let state: StateStore
    public let templates: TemplateStore
    public let logger: Logger
    /// The berth binary a journal relay (`berth journal-relay`) and a
    /// sysinfo responder (`berth sysinfo-responder`) run: this
    /// process's own, unless it is not berth (a test runner).
    public var relayExecutable = "/proc/self/exe"
    /// journald's native socket, for the journal relays.
    public var journalSocket = JournalRelay.journalSocket
    /// The systemd manager's cgroup (systemd driver), once asked.
    let managerCgroup: ManagerCgroupCache

    public init(paths: RuntimePaths, cgroups: any CgroupDriver, logger: Logger) {
        self.paths = paths
        self.cgroups = cgroups
        self.logger = logger
        state = StateStore(paths: paths)
        templates = TemplateStore(directory: state.templatesDirectory)
        managerCgroup = ManagerCgroupCache()
    }

    private init(
        paths: RuntimePaths, cgroups: any CgroupDriver, state: StateStore, templates: TemplateStore, managerCgroup: ManagerCgroupCache,
        logger: Logger
    ) {
        self.paths = paths
        self.cgroups = cgroups
        self.state = state
        self.templates = templates
        self.managerCgroup = managerCgroup
        self.logger = logger
    }

    /// The same runtime (sharing its decoded records) logging with `logger`.
    public func with(logger: Logger) -> ContainerRuntime {
        var copy = ContainerRuntime(
            paths: paths, cgroups: cgroups, state: state, templates: templates, managerCgroup: managerCgroup, logger: logger)
        copy.relayExecutable = relayExecutable
        copy.journalSocket = journalSocket
        return copy
    }

    public enum Status: Equatable, Sendable {
        case running(pid: Int32)
        case stopped
        /// No record: berth does not know this container.
        case unknown
    }

    public struct RuntimeError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The cgroup a container without a record is looked for in, and a new
    /// one is made in (by this instance's layout); a recorded container's
    /// is its record's `cgroup`.
    func cgroupPath(_ name: String) throws -> CgroupPath {
        try cgroupLayout().group(name)
    }

    /// Where deleted containers wait to be removed: their directories
    /// (StateStore.trash), and their cgroups set aside under the cgroup
    /// parent (with the cgroupfs manager, on cgroup v1; a systemd scope
    /// goes with its unit).
    public var trash: Trash { Trash(paths: paths, cgroups: cgroupTrash) }

    /// Where a delete sets its container's cgroup aside (nil: removed at
    /// once, as on cgroup v2, which renames no cgroup, and under systemd).
    var cgroupTrash: CgroupTrash? {
        guard paths.cgroupManager == .cgroupfs, cgroups.version == .v1, let parent = try? paths.cgroupLayout().containersParent() else {
            return nil
        }
        return CgroupTrash(driver: cgroups, parent: parent)
    }

    /// Running, stopped or unknown, from the record checked against /proc:
    /// the pid must still be our init (same start time) and not a zombie.
    public func status(_ name: String) -> Status {
        guard let record = state.load(name) else { return .unknown }
        return status(of: record)
    }

    /// Running or stopped, from a record already loaded.
    func status(of record: ContainerRecord) -> Status {
        guard isRunning(record), let pid = record.pid else { return .stopped }
        return .running(pid: pid)
    }

    /// Creates the container's cgroup and private layer and starts its init.
    /// A `foreground` container (berth run) gets berth's stdin, stdout and
    /// stderr, and is deleted once it exits: its record is not synced to disk.
    /// `ranBefore`: the container ran before under this name, in this boot,
    /// though its record is gone (a replace); a kept record and run
    /// directory, or a restart count, say so too. Its macvlans then
    /// announce their new hardware addresses as they come up.
    public func start(
        _ container: ContainerObject, networks: [NetworkObject] = [], foreground: Bool = false, terminal: PseudoTerminal? = nil,
        restarts: Int = 0, ranBefore: Bool = false
    ) throws -> ContainerRecord {
        PhaseTimes.mark("create: queued")
        let name = container.metadata.name
        try Names.checkDNSLabel(name)
        let previous = status(name)
        if case .running(let pid) = previous {
            throw RuntimeError(description: "container \(name) is already running (pid \(pid))")
        }
        // A stopped container ran in this boot when its run directory is
        // still there (a tmpfs: a stop keeps it, a reboot does not). After a
        // reboot no neighbour on this host knew its MACs: a thousand
        // containers started again by the agent do not announce.
        let again = ranBefore || restarts > 0 || (previous == .stopped && Syscall.exists(state.runDirectory(name)))
        let spec = container.spec
        try checkProc(spec)
        // Where its cgroup goes (the systemd driver asks the bus): before anything is made.
        let cgroup = try cgroupPath(name)
        let scope = try cgroupLayout().scope(name)
        let lower = try lowerLayer(container)
        // A foreground container's private layer is in memory: a tmpfs its
        // child mounts on its run directory (seen only in its own mount
        // namespace). Any other's is on disk, in the state dir.
        let runDirectory = state.runDirectory(name)
        let mappedRoot = try mappedRoot(container)
        if !foreground { try state.prepareContainersDirectory() }
        // With a disk quota the private layer is on the container's own disk image.
        let disk = foreground ? nil : try privateDisk(container, owner: mappedRoot ?? (0, 0))
        let privateDirectory = foreground ? runDirectory : disk?.directory ?? state.containerDirectory(name)
        let onDisk = foreground ? [] : [privateDirectory + "/upper", privateDirectory + "/work"]
        for directory in onDisk + [runDirectory + (foreground ? "" : "/rootfs")] { try Syscall.makeDirectories(directory) }
        var idMaps: (uid: String, gid: String)?
        if let userNamespace = spec.userNamespace, let (rootUID, rootGID) = mappedRoot {
            // The private layer owned by the container's root (one in memory
            // is made by the child, as that root).
            let gidMap = userNamespace.gidMap
            for directory in onDisk {
                guard chown(directory, rootUID, rootGID) == 0 else { throw SystemError(call: "chown", errno: errno, subject: directory) }
            }
            func text(_ map: [IDRange]) -> String { map.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined() }
            idMaps = (text(userNamespace.uidMap), text(gidMap))
        }
        var record = ContainerRecord(
            name: name, pid: nil, startTime: nil, cgroup: cgroup.description, scope: scope, rootfs: runDirectory + (foreground ? "/root" : "/rootfs"),
            lower: lower,
            upper: privateDirectory + "/upper", work: privateDirectory + "/work", keepPrivateLayer: spec.persistent)
        record.privateLayerInMemory = foreground ? true : nil
        record.diskImage = disk?.image
        record.diskProject = disk?.project
        record.spec = spec
        record.labels = container.metadata.labels.isEmpty ? nil : container.metadata.labels
        record.restarts = restarts > 0 ? restarts : nil
        record.networks = ContainerRuntime.attached(spec, of: networks)
        if foreground, let me = ProcessStat.read(getpid()) { record.foregroundOwner = [UInt64(getpid()), me.startTime] }
        let devices = try deviceNodes(spec)
        var launch = try launchConfiguration(container, record: record)
        launch.devices = devices.map(\.node)
        launch.idMaps = idMaps
        launch.inheritsStdio = foreground
        launch.terminal = terminal?.slave
        // Recorded once, before anything durable is made; only the init file follows.
        record.keep(launch)
        var limits = try CgroupLimits(spec.resources)
        // A privileged container may use every device (the cgroup's device
        // controller is left as its parent has it: allow all).
        limits.devices = spec.security.privileged ? nil : deviceRules(devices)
        let group = try CgroupPath(record.cgroup)
        // The systemd driver's init enters its scope when systemd moves it
        // there (then berth moves it into the payload): it is cloned in berth's.
        let entry: CgroupEntry? = record.scope == nil ? cgroups.entry(group) : nil
        launch.cgroup = entry
        // A container whose /proc is LXCFS's gets sysinfo(2) from its cgroup too.
        var sysinfoSocket: Int32?
        defer { if let sysinfoSocket { Syscall.close(sysinfoSocket) } }
        if !launch.procBinds.isEmpty, let responder = sysinfoResponder(group) {
            sysinfoSocket = try responder.start(executable: relayExecutable, startedNanoseconds: SysinfoResponder.bootTimeNow())
            launch.sysinfoSocket = sysinfoSocket
            record.sysinfoVirtualized = true
        }
        // Journal mode: the FIFOs and their relay before the init, which
        // then writes into them (berth's copies close when start returns).
        var output: (stdout: Int32, stderr: Int32)?
        defer { if let output { Syscall.close(output.stdout); Syscall.close(output.stderr) } }
        if spec.logDriver == .journal && !foreground && terminal == nil {
            guard JournalRelay.journaldListens(journalSocket) else { throw JournalRelay.notRunning(name, socket: journalSocket) }
            let relay = journalRelay(name)
            try Syscall.makeDirectories(state.containerDirectory(name))
            try Syscall.makeDirectories(runDirectory)
            output = try relay.openForInit()
            try relay.start(executable: relayExecutable, fields: JournalRelay.fields(container: name, paths: paths), socket: journalSocket)
            launch.output = output
        }
        // The record is written before the cgroup (a crash after leaves a
        // record that names it) but synced on a thread of its own while the
        // container starts; the start waits for that sync before it reports
        // the container started (hardening.md 27; failpoints start.record-lost
        // and start.record-torn: the next apply adopts or re-creates).
        var durable: BackgroundThread?
        defer { try? durable?.wait() }
        func prepare(pid: pid_t?) throws {
            if foreground {
                // Once, with its init when it is cloned already (v1).
                if let pid {
                    record.pid = pid
                    record.startTime = ProcessStat.read(pid)?.startTime
                }
                try state.saveForeground(record)
            } else {
                try state.save(record, durable: false)
                // Superseded: the record of an earlier `berth run` container
                // of the name whose berth was killed (`berth start` of it).
                try Syscall.removeFile(state.foregroundRecordFile(name), missingOK: true)
                let (state, name) = (state, name)
                durable = BackgroundThread { try state.makeDurable(name) }
            }
            PhaseTimes.mark("create: record write")
            Failpoint.recordSaved.hit()
            if let unit = record.scope, let pid {
                try enterScope(record, unit: unit, pid: pid, limits: limits)
            } else {
                try cgroups.create(group)
                // Leftovers of a start that was interrupted (the record has no live
                // init, so nothing in this cgroup is the container any more).
                if !(try cgroups.processes(in: group)).isEmpty { try cgroups.killAll(group) }
            }
            Failpoint.cgroupCreated.hit()
            let writes = try cgroups.apply(ContainerRuntime.payloadLimits(limits, scope: record.scope), to: group)
            Failpoint.limitsApplied.hit()
            PhaseTimes.mark("create: cgroup and limits")
            logger.debug("cgroup limits", metadata: ["container": "\(name)", "writes": "\(writes)"])
        }
        // v2 clones the child into its cgroup, which must exist first; on v1
        // berth makes it while the child builds its root (a process dies with
        // berth before the go, so the record still comes before the cgroup).
        PhaseTimes.mark("create: layers, directories, launch config")
        do {
            if entry?.isNeededAtClone == true { try prepare(pid: nil) }
            let byName = Dictionary(networks.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
            let attacher = NetworkAttacher(logger: logger, state: state)
            var firewall: ContainerFirewall.Applied?
            var connectionLimit: RulesetStep?
            launch.netlinkFromChild = !container.spec.networks.isEmpty
            let pid = try launch.start { pid, netlink, cgroupMade in
                PhaseTimes.mark("create: clone")
                if entry?.isNeededAtClone != true { try prepare(pid: pid) }
                // In its cgroup (or its scope) with its limits: the child
                // finishes its own set-up while its network is made.
                cgroupMade()
                Failpoint.cloned.hit()
                // The child waits in its new network namespace: its network is
                // ready before init runs.
                try attacher.attach(pid: pid, container: container, networks: byName, inside: netlink?.socket(), announce: again)
                PhaseTimes.mark("create: network")
                Failpoint.networkAttached.hit()
                // The connection limit's commit first: the firewall's
                // listing is then the namespace's last, and both tables are
                // known at its generation (RulesetStep).
                if let limit = spec.resources.numtcpsock { connectionLimit = try ConnectionLimit.apply(limit, pid: pid) }
                if spec.firewall != nil { firewall = try ContainerFirewall.apply(spec.firewall, pid: pid) }
                Failpoint.firewallApplied.hit()
            }
            PhaseTimes.mark("create: firewall, release, init running")
            Failpoint.initReleased.hit()
            // A foreground run's record holds its init already (prepare, v1).
            let initRecorded = foreground && record.pid == pid
            record.pid = pid
            if !initRecorded { record.startTime = ProcessStat.read(pid)?.startTime }
            if let connectionLimit { record.keepConnectionLimit(connectionLimit) }
            if let firewall { record.keepFirewall(firewall) }
            if firewall != nil || connectionLimit != nil {
                try state.save(record)
            } else if !initRecorded {
                try state.saveInit(record)  // container.json is as written above
            }
            Failpoint.recordLost.hit { state.simulateCrashLoss(name, torn: false) }
            Failpoint.recordTorn.hit { state.simulateCrashLoss(name, torn: true) }
            try durable?.wait()
            PhaseTimes.mark("create: init record, record durable")
            logger.info("started", metadata: ["container": "\(name)", "pid": "\(pid)"])
            PhaseTimes.mark("create: log line")
            if !foreground { registerMachine(record) }
            PhaseTimes.mark("create: machined registration")
            return record
        } catch {
            try? cgroups.killAll(group)
            _ = try? drain(group)
            try? cgroups.remove(group)
            if let unit = record.scope, let scope = scopePath(record) { try? stopScope(unit, path: scope) }
            throw error
        }
    }

    /// The read-only lower layer of the container's overlay: its template,
    /// directory or unpacked tarball; with a user namespace, the copy whose
    /// owners are shifted into the map (made once per map).
    func lowerLayer(_ container: ContainerObject) throws -> String {
        let spec = container.spec
        var lower: String
        switch spec.rootfs {
        case .template(let template): lower = try templates.path(of: template, logger: logger)
        case .directory(let directory): lower = directory
        case .tarball(let tarball): lower = try templates.path(ofTarball: tarball, logger: logger)
        }
        if let userNamespace = spec.userNamespace {
            _ = try mappedRoot(container)
            lower = try templates.shifted(
                lower, uidMap: userNamespace.uidMap, gidMap: userNamespace.gidMap, logger: logger)
        }
        return lower
    }

    /// The host uid and gid of the container's root under its user
    /// namespace (nil without one); container id 0 must be mapped.
    func mappedRoot(_ container: ContainerObject) throws -> (uid: UInt32, gid: UInt32)? {
        guard let userNamespace = container.spec.userNamespace else { return nil }
        guard let uid = IDShift.host(0, in: userNamespace.uidMap), let gid = IDShift.host(0, in: userNamespace.gidMap)
        else {
            throw RuntimeError(description: "container \(container.metadata.name): spec.userNamespace must map container id 0 (its root)")
        }
        return (uid, gid)
    }

    /// The networks a spec attaches to, for its record (a later start uses them).
    static func attached(_ spec: ContainerConfig, of networks: [NetworkObject]) -> [NetworkObject] {
        networks.filter { network in spec.networks.contains { $0.network == network.metadata.name } }
    }

    /// The v1 allow-list: the standard nodes and the manifest's. berth makes
    /// the nodes itself, so mknod ("m") is always granted.
    func deviceRules(_ devices: [(node: ContainerLaunch.DeviceNode, access: String)]) -> [CgroupLimits.DeviceRule] {
        CgroupLimits.DeviceRule.standard
            + devices.map { device, access in
                CgroupLimits.DeviceRule(
                    kind: device.isBlock ? .block : .char, major: device.major, minor: device.minor,
                    access: access.contains("m") ? access : access + "m")
            }
    }

    /// The manifest's devices: host nodes, their numbers and the access granted.
    func deviceNodes(_ spec: ContainerConfig) throws -> [(node: ContainerLaunch.DeviceNode, access: String)] {
        try spec.devices.map { device in
            guard let info = try Syscall.deviceNode(device.path) else {
                throw RuntimeError(description: "\(device.path) is not a device node")
            }
            let node = ContainerLaunch.DeviceNode(
                path: String(device.path.dropFirst("/dev/".count)), isBlock: info.isBlock, major: info.major, minor: info.minor)
            return (node, device.access)
        }
    }

    /// LXCFS's files over the container's /proc, when `proc.virtualize`
    /// says so or (unset) LXCFS is live.
    func procBinds(_ spec: ContainerConfig) -> [ContainerLaunch.BindMount] {
        let lxcfs = paths.lxcfs
        guard spec.procVirtualize != false, lxcfs.isLive() else { return [] }
        return lxcfs.binds()
    }

    /// The responder that answers a container's sysinfo(2) from `group`.
    func sysinfoResponder(_ group: CgroupPath) -> SysinfoResponder? {
        guard let memory = cgroups.directory(of: "memory", group), let pids = cgroups.directory(of: "pids", group) else { return nil }
        return SysinfoResponder(memoryDirectory: memory, pidsDirectory: pids, v1: cgroups.version == .v1)
    }

    /// `proc.virtualize: true` needs LXCFS live (plan refuses it first).
    func checkProc(_ spec: ContainerConfig) throws {
        let lxcfs = paths.lxcfs
        if spec.procVirtualize == true && !lxcfs.isLive() {
            throw RuntimeError(
                description: "proc.virtualize is true but LXCFS is not mounted at \(lxcfs.directory) (start lxcfs.service, or set BERTH_LXCFS_DIR)")
        }
    }

    func launchConfiguration(_ container: ContainerObject, record: ContainerRecord) throws -> ContainerLaunch {
        let spec = container.spec
        var environment = [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME=\(spec.hostname)", "HOME=/root", "TERM=xterm",
        ]
        for (key, value) in spec.env.sorted(by: { $0.key < $1.key }) {
            environment.removeAll { $0.hasPrefix(key + "=") }
            environment.append("\(key)=\(value)")
        }
        var binds: [ContainerLaunch.BindMount] = []
        for mount in spec.mounts {
            if mount.type == .tmpfs {
                binds.append(.tmpfs(destination: mount.destination, size: mount.size?.bytes, readOnly: mount.readOnly))
                continue
            }
            guard let source = mount.source else {
                throw RuntimeError(description: "bind mount on \(mount.destination) has no source")
            }
            var info = stat()
            guard fstatat(AT_FDCWD, source, &info, 0) == 0 else {
                throw RuntimeError(description: "bind mount source \(source) does not exist")
            }
            binds.append(
                ContainerLaunch.BindMount(
                    source: source, destination: mount.destination, readOnly: mount.readOnly,
                    isFile: info.st_mode & S_IFMT != S_IFDIR))
        }
        let capabilities = try CapabilitySet.resolve(
            add: spec.capabilities.add, drop: spec.capabilities.drop, privileged: spec.security.privileged)
        var launch = ContainerLaunch(
            rootfs: record.rootfs, overlay: (record.lower, record.upper, record.work),
            hostname: spec.hostname, arguments: spec.command, environment: environment,
            workingDirectory: spec.workingDir, bindMounts: binds, capabilities: capabilities,
            noNewPrivileges: spec.security.noNewPrivileges,
            consoleLog: state.containerDirectory(container.metadata.name) + "/console.log")
        if record.privateLayerInMemory == true { launch.volatileDirectory = state.runDirectory(container.metadata.name) }
        launch.seccomp = spec.security.filtered
        launch.nestedUserNamespaces = spec.security.nestedUserNamespaces
        launch.disableIPv6 = !spec.usesIPv6
        launch.pseudoTerminalLimit = spec.resources.numpty
        launch.openFilesLimit = spec.resources.numfile
        launch.procBinds = procBinds(spec)
        return launch
    }

    /// Applies new resource limits to a running container, live, and records
    /// them; returns what the kernel now holds. Every cgroup value can change
    /// while the container runs.
    @discardableResult
    public func updateResources(_ name: String, _ resources: ResourcesSpec) throws -> [CgroupWrite] {
        guard var record = state.load(name) else { throw RuntimeError(description: "no container \(name)") }
        var limits = try CgroupLimits(resources)
        if let spec = record.spec, !spec.security.privileged { limits.devices = deviceRules(try deviceNodes(spec)) }
        let writes = try cgroups.apply(ContainerRuntime.payloadLimits(limits, scope: record.scope), to: try CgroupPath(record.cgroup))
        try setScopeWeights(record, limits)
        if let disk = resources.disk { try updateDisk(record, disk) }
        // numtcpsock: a connection limit in its network namespace (none: the table goes).
        // numpty: the max= of its devpts instance (none: the kernel's ceiling).
        if isRunning(record), let pid = record.pid {
            record.keepConnectionLimit(try ConnectionLimit.apply(resources.numtcpsock, pid: pid))
            try PseudoTerminalLimit.apply(resources.numpty, pid: pid)
            try OpenFilesLimit.apply(resources.numfile, pid: pid)
        }
        Failpoint.resourcesWritten.hit()
        record.spec?.resources = resources
        try state.save(record)
        logger.info("resources updated live", metadata: ["container": "\(name)", "writes": "\(writes.count)"])
        return writes
    }

    /// Takes a spec whose changes concern only berth's record (restart
    /// policy, stop timeout, persistence; or anything while it is stopped).
    public func updateRecord(_ name: String, _ spec: ContainerConfig, labels: [String: String] = [:]) throws {
        guard var record = state.load(name) else { throw RuntimeError(description: "no container \(name)") }
        // The connection limit is known as the recorded spec's: another
        // one in the record is listed at the next observe.
        if record.spec?.resources.numtcpsock != spec.resources.numtcpsock { record.connectionLimitGeneration = nil }
        record.spec = spec
        record.labels = labels.isEmpty ? nil : labels
        record.keepPrivateLayer = spec.persistent
        try state.save(record)
        logger.info("record updated", metadata: ["container": "\(name)"])
    }

    /// Keeps the exit code of an init that ended by itself (for list,
    /// status and restartPolicy on-failure).
    public func recordExit(_ name: String, code: Int32) throws {
        guard var record = state.load(name), record.pid != nil, record.exitCode == nil else { return }
        record.exitCode = code
        try state.saveInit(record)
        logger.notice("container exited", metadata: ["container": "\(name)", "code": "\(code)"])
    }

    /// Replaces the container's own firewall, live.
    public func updateFirewall(_ name: String, _ firewall: ContainerConfig.Firewall?) throws {
        let (found, pid) = try runningRecord(name)
        var record = found
        record.keepFirewall(try ContainerFirewall.apply(firewall, pid: pid))
        record.spec?.firewall = firewall
        try state.save(record)
        logger.info("firewall updated live", metadata: ["container": "\(name)"])
    }

    /// Attaches, detaches and readdresses a running container's networks
    /// live, and records the new attachments for its next start.
    public func updateNetworks(_ container: ContainerObject, networks: [NetworkObject]) throws {
        let name = container.metadata.name
        let (found, pid) = try runningRecord(name)
        var record = found
        let byName = Dictionary(networks.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        try NetworkAttacher(logger: logger, state: state).converge(
            pid: pid, container: container, networks: byName, ipv6: record.ipv6 ?? container.spec.usesIPv6)
        Failpoint.networksConverged.hit()
        record.spec?.networks = container.spec.networks
        record.networks = ContainerRuntime.attached(container.spec, of: networks)
        try state.save(record)
        logger.info("networks updated live", metadata: ["container": "\(name)"])
    }

    /// Containers running under berth's cgroup parent without a record (the
    /// state dir was lost or wiped): container name → its init's pid. An
    /// init is the process that is PID 1 of its own pid namespace.
    /// `known`: the names that have a record (one directory read, then
    /// only the unknown cgroups are looked into).
    public func unrecorded(known: Set<String>) -> [String: pid_t] {
        guard let layout = try? cgroupLayout(), let parent = try? layout.containersParent() else { return [:] }
        var result: [String: pid_t] = [:]
        for child in cgroups.children(of: parent) {
            guard let name = layout.containerName(child: child), !known.contains(name) else { continue }
            if let pid = initInCgroup(name) { result[name] = pid }
        }
        return result
    }

    /// The living init in the container's cgroup, if any.
    public func initInCgroup(_ name: String) -> pid_t? {
        guard let group = try? cgroupPath(name), let pids = try? cgroups.processes(in: group) else { return nil }
        return pids.first { pid in ProcessStat.namespacePID(pid) == 1 && ProcessStat.read(pid)?.isAlive == true }
    }

    /// Takes a running container found by `unrecorded()` back under berth's
    /// management without restarting it: a record is written from the
    /// manifest (the kernel's values are then compared as for any other
    /// container, so drift shows and is repaired live).
    @discardableResult
    public func adopt(_ container: ContainerObject, pid: pid_t, networks: [NetworkObject]) throws -> ContainerRecord {
        let name = container.metadata.name
        try Names.checkDNSLabel(name)
        guard state.load(name) == nil else { throw RuntimeError(description: "container \(name) already has a record") }
        guard let stat = ProcessStat.read(pid), stat.isAlive, ProcessStat.namespacePID(pid) == 1 else {
            throw RuntimeError(description: "pid \(pid) is not a running container init")
        }
        let spec = container.spec
        let lower = try lowerLayer(container)
        // Its disk image, when it has one, is mounted (its init uses it);
        // a private layer with a project quota has its project ID.
        let disk = spec.resources.disk != nil && state.diskImage(name).isMounted ? state.diskImage(name) : nil
        let directory = state.diskImage(name).mountPoint
        let project = spec.resources.disk != nil && disk == nil ? (try? ProjectQuota.project(of: directory))?.id : nil
        let privateDirectory = disk?.mountPoint ?? (project.map { $0 != 0 } == true ? directory : state.containerDirectory(name))
        var record = ContainerRecord(
            name: name, pid: pid, startTime: stat.startTime, cgroup: try cgroupPath(name).description,
            scope: try cgroupLayout().scope(name), rootfs: state.runDirectory(name) + "/rootfs", lower: lower, upper: privateDirectory + "/upper",
            work: privateDirectory + "/work",
            keepPrivateLayer: spec.persistent)
        let launch = try launchConfiguration(container, record: record)
        record.spec = spec
        record.labels = container.metadata.labels.isEmpty ? nil : container.metadata.labels
        record.diskImage = disk?.image
        record.diskProject = project.flatMap { $0 == 0 ? nil : $0 }
        record.networks = ContainerRuntime.attached(spec, of: networks)
        record.keep(launch)
        // Its firewall table is replaced (live) so that berth knows what the kernel holds.
        if spec.firewall != nil { record.keepFirewall(try ContainerFirewall.apply(spec.firewall, pid: pid)) }
        try state.save(record)
        logger.info("adopted", metadata: ["container": "\(name)", "pid": "\(pid)"])
        registerMachine(record)
        return record
    }

    /// Starts a stopped container again from the spec it last ran with.
    public func restart(_ name: String) throws -> ContainerRecord {
        guard let record = state.load(name), let spec = record.spec else {
            throw RuntimeError(description: "no container \(name) (or it was never started by this berth)")
        }
        if let mark = record.checkpoint {
            throw RuntimeError(
                description: "container \(name) is \(mark): berth restore \(name) --from \(mark.directory) brings it back "
                    + "(berth stop \(name) forgets the checkpoint, then berth start starts it afresh)")
        }
        return try start(
            ContainerObject(metadata: ObjectMeta(name: name), spec: spec, source: SourceLocation(file: "state", line: 1, column: 1)),
            networks: record.networks ?? [])
    }

    /// `berth run`: starts a new container in the foreground, passes berth's
    /// signals on to its init, waits for it to exit, then deletes it with its
    /// private layer. A second SIGINT or SIGTERM kills the whole container:
    /// an init without handlers for them (PID 1 of a pid namespace) ignores
    /// them. Returns the init's exit code (128 + signal when it was killed).
    /// Whatever fails once the container exists, it is deleted.
    public func runForeground(_ container: ContainerObject, networks: [NetworkObject] = [], terminal: Bool = false) throws -> ForegroundExit {
        let name = container.metadata.name
        try Names.checkDNSLabel(name)
        if let existing = state.load(name) {
            throw RuntimeError(
                description: isRunning(existing)
                    ? "container \(name) is running (choose another --name, or berth stop \(name))"
                    : "container \(name) already exists (berth start \(name) starts it again)")
        }
        let signals = try SignalPipe([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2])
        let pty = terminal ? try PseudoTerminal() : nil
        var record: ContainerRecord?
        do {
            let started = try start(container, networks: networks, foreground: true, terminal: pty)
            record = started
            guard let pid = started.pid else { throw RuntimeError(description: "container \(name) started without a pid") }
            pty?.closeSlave()  // the init holds it now: its end reads as EIO on the master
            let group = try CgroupPath(started.cgroup)
            let status = try waitForeground(name, pid: pid, group: group, signals: signals, terminal: pty)
            let code = Reaper.exitCode(status)
            logger.info("exited", metadata: ["container": "\(name)", "code": "\(code)"])
            // Read before the cgroup goes: a 137 is often the OOM killer's
            // (its count alone: one file, not the cgroup's every figure).
            let oomKills = cgroups.oomKills(group) ?? 0
            if let record { try delete(record, keepPrivateLayer: false, forgetsInit: false) }
            return ForegroundExit(code: code, oomKills: oomKills)
        } catch {
            if let record { try? delete(record, keepPrivateLayer: false) } else { try? delete(name, keepPrivateLayer: false) }
            throw error
        }
    }

    /// How a `berth run` container ended.
    public struct ForegroundExit: Sendable {
        /// The init's exit code (128 + signal when it was killed).
        public var code: Int32
        /// Processes the kernel's OOM killer ended in it (its memory limit).
        public var oomKills: UInt64
    }

    /// Waits for the foreground init `pid` to exit, passing signals on (with
    /// a terminal, relaying it meanwhile); its wait status.
    private func waitForeground(
        _ name: String, pid: pid_t, group: CgroupPath, signals: SignalPipe, terminal: PseudoTerminal?
    ) throws -> Int32 {
        let handle = try PidFD(pid: pid)
        var interrupts = 0
        // A terminal is relayed until every process of the container has let
        // go of it (its pid namespace ends with the init).
        try signals.passOn(until: handle, relaying: terminal, subject: "container \(name)") { signal in
            if signal == SIGINT || signal == SIGTERM { interrupts += 1 }
            if interrupts > 1 {
                logger.notice("killing the container", metadata: ["container": "\(name)", "signal": "\(signal)"])
                try? cgroups.killAll(group)
            } else {
                _ = try? handle.signal(signal)
            }
        }
        return Reaper.wait(pid) ?? 0
    }

    /// One container as `list` shows it: its record, its status and, while
    /// it runs, its cgroup figures.
    public struct Entry: Sendable {
        public var record: ContainerRecord
        public var status: Status
        public var usage: CgroupObservation?
    }

    /// Every container berth knows, in the state dir's order, each observed
    /// on the worker pool (a fleet's cgroup files are read side by side:
    /// `berth list`, the agent's metrics).
    public func list() -> [Entry] {
        let names = state.names()
        let runtime = self
        return WorkerPool.map(names.count, width: WorkerPool.defaultWidth) { runtime.entry(names[$0]) }.compactMap { $0 }
    }

    /// One container as `list` shows it (nil: no record of that name),
    /// without looking at any other (`berth status`).
    public func entry(_ name: String) -> Entry? {
        guard let record = state.load(name) else { return nil }
        let status = status(of: record)
        var usage: CgroupObservation?
        if case .running = status { usage = try? observeCgroup(record, usage: true) }
        return Entry(record: record, status: status, usage: usage)
    }

    /// The record of a running container; else an error that says whether
    /// it is stopped or unknown.
    func runningRecord(_ name: String) throws -> (ContainerRecord, pid_t) {
        guard let record = state.load(name) else {
            throw RuntimeError(description: "no container \(name) (berth list shows the containers)")
        }
        guard isRunning(record), let pid = record.pid else { throw RuntimeError(description: "container \(name) is not running") }
        return (record, pid)
    }

    /// Freezes (suspend) or thaws (resume) every process of the container.
    /// `recordState`: the record says so too (apply of `state: frozen`);
    /// `berth suspend` leaves the record alone, so a plan shows it as drift.
    public func setFrozen(_ name: String, _ frozen: Bool, recordState: Bool = false) throws {
        let (record, _) = try runningRecord(name)
        try cgroups.setFrozen(frozen, try CgroupPath(record.cgroup))
        // The record says which state berth put it in (frozen by hand is drift).
        if recordState, var spec = record.spec, spec.state != .stopped {
            spec.state = frozen ? .frozen : .running
            if spec != record.spec {
                var updated = record
                updated.spec = spec
                try state.save(updated)
            }
        }
        logger.info(frozen ? "suspended" : "resumed", metadata: ["container": "\(name)"])
    }

    /// Runs `command` inside the running container and returns its exit code.
    /// `passesSignals`: signals berth gets go on to the command (the CLI).
    public func exec(
        _ name: String, command: [String], workingDirectory: String = "/", environment: [String] = [], tty: Bool = false,
        passesSignals: Bool = false
    ) throws -> Int32 {
        let (record, pid) = try runningRecord(name)
        // A command joining a frozen cgroup would freeze too, and wait for ever.
        if (try? cgroups.observe(try CgroupPath(record.cgroup), usage: false))?.frozen == true {
            throw RuntimeError(description: "container \(name) is frozen (suspended): berth resume \(name) first")
        }
        var merged = record.environment ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        for variable in environment {
            let key = variable.split(separator: "=", maxSplits: 1).first.map(String.init) ?? variable
            merged.removeAll { $0.hasPrefix(key + "=") }
            merged.append(variable)
        }
        let group = try CgroupPath(record.cgroup)
        var exec = ContainerExec(
            initPID: pid, arguments: command, environment: merged, workingDirectory: workingDirectory,
            capabilities: CapabilitySet(mask: record.capabilities ?? 0), noNewPrivileges: record.noNewPrivileges ?? true,
            seccomp: record.seccomp ?? true)
        exec.nestedUserNamespaces = record.nestedUserNamespaces ?? false
        exec.openFilesLimit = record.spec?.resources.numfile
        exec.tty = tty
        exec.passesSignals = passesSignals
        exec.cgroup = cgroups.entry(group)
        var sysinfoSocket: Int32?
        defer { if let sysinfoSocket { Syscall.close(sysinfoSocket) } }
        if record.sysinfoVirtualized == true, let responder = sysinfoResponder(group), let started = ProcessStat.read(pid)?.startTime {
            sysinfoSocket = try responder.start(
                executable: relayExecutable, startedNanoseconds: SysinfoResponder.bootTime(ofStartTicks: started))
            exec.sysinfoSocket = sysinfoSocket
        }
        logger.info("exec", metadata: ["container": "\(name)", "command": "\(command)", "user": "\(getuid())", "tty": "\(tty)"])
        return try exec.run()
    }

    /// SIGTERM to init, then after `timeout` SIGKILL to everything in the
    /// container's cgroup; removes the cgroup. Idempotent.
    public func stop(_ name: String, timeout: Interval = Interval(milliseconds: 10_000)) throws {
        guard var record = state.load(name) else { throw RuntimeError(description: "no container \(name)") }
        try stop(record, timeout: timeout)
        if record.checkpoint != nil {
            // Stopped rather than checkpointed: the image stays where it is.
            record.checkpoint = nil
            try state.save(record.stopped)
        }
    }

    /// `stop` of a record in hand. Once nothing of it runs, `forget` makes
    /// it stopped on disk (nil: its init file goes, StateStore.forgetInit).
    /// `setAside`: its cgroup goes to that trash (a delete's) rather than
    /// being removed here.
    func stop(_ record: ContainerRecord, timeout: Interval, setAside: CgroupTrash? = nil, forget: ((String) throws -> Void)? = nil) throws {
        let name = record.name
        let group = try CgroupPath(record.cgroup)
        // Through a pidfd checked against the recorded start time: the signal
        // can only reach our init, and its exit is waited for with poll(2).
        if isRunning(record), let pid = record.pid, let handle = try? PidFD(pid: pid, startTime: record.startTime) {
            // A suspended container is thawed to stop: frozen, its init
            // neither handles SIGTERM nor dies of SIGKILL, and each wait
            // below ran to its end (a delete took 5 s). Thawed before
            // SIGTERM, for a clean shutdown; after SIGKILL, so that nothing
            // of it runs again.
            let frozen = cgroups.isFrozen(group)
            var thawed = false
            var exited = false
            if timeout.milliseconds > 0 {
                if frozen {
                    try cgroups.setFrozen(false, group)
                    thawed = true
                }
                exited = !(try handle.signal(SIGTERM)) || handle.waitForExit(milliseconds: Int32(clamping: timeout.milliseconds))
                if !exited { logger.info("stop timed out, killing", metadata: ["container": "\(name)"]) }
            }
            if !exited {
                // The init is PID 1 of the container's pid namespace: SIGKILL
                // to it kills every process there, and a dying namespace
                // forks nothing, so no freeze is needed (on cgroup v1 the
                // freezer costs a 5 ms wait per container; berth-bench scale,
                // teardown). What else is in the cgroup, drain kills.
                if !(try handle.signal(SIGKILL)) { try cgroups.killAll(group) }
                if frozen && !thawed { try cgroups.setFrozen(false, group) }
                _ = handle.waitForExit(milliseconds: 5000)
            }
            // Reaped here when this process started it (the agent, a benchmark).
            _ = Reaper.poll(pid)
        }
        let emptied = try drain(group)
        // Set aside only once empty: a cgroup something still runs in is
        // refused by the removal, and the delete fails as it should. (A
        // scope's payload cgroup is not directly under the parent: `take`
        // removes it.)
        if let setAside, emptied { try setAside.take(group, container: name) } else { try cgroups.remove(group) }
        // A `berth run` container has neither a machine nor a journal relay.
        let foreground = record.foregroundOwner != nil
        if record.pid != nil && !foreground { unregisterMachine(name) }
        // Its scope goes with it (empty now: systemd may have collected it already).
        if let unit = record.scope, let scope = scopePath(record) { try stopScope(unit, path: scope) }
        // Its journal relay sends what is left and ends with the container.
        if !foreground { journalRelay(name).waitForEnd(milliseconds: 2000) }
        if let forget { try forget(name) } else { try state.forgetInit(name) }
        logger.info("stopped", metadata: ["container": "\(name)"])
    }

    /// SIGKILL to the init of a container about to be deleted, through a
    /// pidfd checked against the recorded start time: sent to a whole batch
    /// before the first delete, the inits' exits overlap. `delete` waits
    /// for the exit and removes the rest; a crash in between leaves a
    /// stopped container that the next apply deletes again.
    /// The record of a container that runs, for a batch delete (killAhead,
    /// hostEnds); nil when it does not run. Without its networks: the
    /// record observe decoded serves.
    public func runningRecord(_ name: String) -> ContainerRecord? {
        guard let record = state.load(name, networks: false), record.pid != nil, isRunning(record) else { return nil }
        return record
    }

    /// SIGKILL to the init of `record` (runningRecord), through a pidfd
    /// checked against its start time.
    public func killAhead(_ record: ContainerRecord) {
        guard let pid = record.pid, let handle = try? PidFD(pid: pid, startTime: record.startTime) else { return }
        _ = try? handle.signal(SIGKILL)
    }

    /// The host ends of the veths of a running container (its spec's
    /// networks), for a batch delete (NetworkAttacher.groupHostEnds).
    public static func hostEnds(_ record: ContainerRecord) -> [String] {
        (record.spec?.networks ?? []).map { NetworkAttacher.hostInterfaceName(container: record.name, network: $0.network) }
    }

    /// Kills what is left in the cgroup until it is empty (the pid
    /// namespace dies with init; its processes go in the next moments).
    /// False when something was still in it after the last try.
    @discardableResult
    func drain(_ group: CgroupPath) throws -> Bool {
        // A while loop: `for ... where` would only filter, and go on reading
        // the cgroup all 400 times after it is empty.
        var pause: UInt32 = 100
        var attempts = 0
        while attempts < 400, cgroups.exists(group), !((try? cgroups.processes(in: group)) ?? []).isEmpty {
            try? cgroups.killAll(group)
            usleep(pause)
            pause = min(pause * 2, 20_000)
            attempts += 1
        }
        return attempts < 400
    }

    /// Stops the container and forgets it; its private layer goes unless it
    /// is kept (manifest `rootfs.persistent`, or `keepPrivateLayer`).
    /// With `trash`, its directories are moved into the trash (the name is
    /// free at once) for an emptier to remove later (Trash); else they are
    /// removed here.
    public func delete(_ name: String, keepPrivateLayer: Bool? = nil, trash: Bool = false) throws {
        // Without its networks (nothing here reads or saves them): the
        // record observe decoded serves (berth-bench scale, teardown).
        guard let record = state.load(name, networks: false) else {
            // No record: only what runs in its cgroup under berth's parent.
            let group = try cgroupPath(name)
            try drain(group)
            try cgroups.remove(group)
            if let unit = try cgroupLayout().scope(name), let scope = try? CgroupPath(group.components.dropLast().joined(separator: "/")) {
                try stopScope(unit, path: scope)
            }
            return
        }
        try delete(record, keepPrivateLayer: keepPrivateLayer, trash: trash)
    }

    /// `delete` of a record in hand. Not `forgetsInit` (berth run's own
    /// container, whose record holds its init): the stop leaves its record
    /// as it is, since its directories go next (a crash in between leaves
    /// the record of an init that is gone: a stopped container).
    func delete(_ record: ContainerRecord, keepPrivateLayer: Bool?, trash: Bool = false, forgetsInit: Bool = true) throws {
        let name = record.name
        let bin = state.trash
        if trash {
            // Its run directory goes to the trash with the init file in it,
            // one rename that leaves the container stopped on disk: no
            // unlink of the init file (on a run dir on ext4 with discard,
            // 2-4 ms each, waited for; berth-bench scale, teardown). What
            // could not be moved is removed, and the init file with it.
            let state = state
            try stop(record, timeout: Interval(milliseconds: 0), setAside: cgroupTrash) { name in
                try? bin.take(state.runDirectory(name), container: name, into: bin.runDirectory)
                try state.forgetInit(name)
            }
        } else {
            try stop(record, timeout: Interval(milliseconds: 0), forget: forgetsInit ? nil : { _ in })
        }
        Failpoint.containerStopped.hit()
        let keep = keepPrivateLayer ?? record.keepPrivateLayer
        // A `berth run` container's record is in its run directory, and
        // nothing of it in the state dir: its record, then its (then empty)
        // run directory, two calls instead of a walk of the directory.
        let foreground = record.foregroundOwner != nil
        if !trash {
            if foreground { try? Syscall.removeFile(state.foregroundRecordFile(name), missingOK: true) }
            try? Syscall.removeTree(state.runDirectory(name))
        }
        Failpoint.runFilesRemoved.hit()
        // (A `berth run` of an earlier berth kept its record in the state dir.)
        if foreground && record.diskImage == nil && !Syscall.exists(state.containerDirectory(name)) { return }
        // Its disk image is unmounted (the loop device goes with it); kept
        // with the private layer, else removed with the directory.
        try state.diskImage(name).unmount()
        if keep {
            // A persistent private layer is never trashed: only its record goes.
            try? Syscall.removeFile(state.recordFile(of: record), missingOK: true)
            return
        }
        // Its project's limits go first (a crash after this leaves the
        // container to delete again). The ID is not given to another
        // container while files in the trash still use it: freeProject
        // skips an ID with inodes in use.
        if let id = record.diskProject { try? ProjectQuota.setLimits(bytes: nil, inodes: nil, of: id, on: state.containersDirectory) }
        if trash {
            try bin.take(state.containerDirectory(name), container: name, into: bin.stateDirectory)
            Failpoint.containerTrashed.hit()
        } else {
            // A private layer in memory leaves only the record in the
            // state dir: two calls instead of a walk of the directory.
            if record.privateLayerInMemory == true { try Syscall.removeFile(state.recordFile(name), missingOK: true) }
            try Syscall.removeTree(state.containerDirectory(name))
        }
    }
}
