import CLinux
import FoundationEssentials
import Kernel
import Model
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What berth keeps about a container it created: how it was made in
/// `STATE/containers/NAME/container.json` (written when that changes, and
/// synced), and its running init in `RUN/containers/NAME/init` (pid plus
/// start time, re-checked against /proc). The run directory is a tmpfs on
/// real hosts: like the processes, it does not outlive a reboot, so the
/// init file needs no sync. A `berth run` container's record is written once
/// (StateStore.saveForeground), with its init in it where the init is cloned
/// first (cgroup v1).
public struct ContainerRecord: Codable, Equatable, Sendable {
    public var name: String
    /// The init's pid in berth's pid namespace; nil when stopped.
    public var pid: Int32?
    /// /proc/PID/stat start time, to tell a recycled pid from our init.
    public var startTime: UInt64?
    /// Its cgroup, relative to the hierarchy's root (`berth/web1`, or
    /// `berth.slice/berth-web1.scope/payload` with the systemd driver): every
    /// operation on a container with a record uses this path.
    public var cgroup: String
    /// The systemd scope holding `cgroup` (systemd driver); nil: berth made
    /// the cgroup itself (cgroupfs driver, and every record before the driver).
    public var scope: String?
    public var rootfs: String
    public var lower: String
    public var upper: String
    public var work: String
    public var keepPrivateLayer: Bool
    /// The private layer is a tmpfs in the container's mount namespace
    /// (berth run): `upper`, `work` and `rootfs` are paths inside it.
    public var privateLayerInMemory: Bool?
    /// What `berth exec` applies to commands it runs inside.
    public var capabilities: UInt64?
    public var noNewPrivileges: Bool?
    public var seccomp: Bool?
    public var nestedUserNamespaces: Bool?
    /// sysinfo(2) is answered by a responder from the container's cgroup
    /// (its /proc is LXCFS's): so are the commands `berth exec` runs.
    public var sysinfoVirtualized: Bool?
    public var environment: [String]?
    /// Whether IPv6 is on in its network namespace (decided at start).
    public var ipv6: Bool?
    /// The fingerprint of its firewall table as the kernel listed it right
    /// after berth applied it (nil: no table).
    public var firewallFingerprint: String?
    /// Where its namespace's nftables ruleset stood when that listing was
    /// made (RulesetGeneration); nil: listed at every observe.
    public var firewallGeneration: String?
    /// Where its namespace's ruleset stood when berth last knew its
    /// connection limit table to be exactly `spec.resources.numtcpsock`'s
    /// (none: no table); nil: listed at every observe.
    public var connectionLimitGeneration: String?
    /// The spec it was started from, so `berth start` can start it again.
    public var spec: ContainerConfig?
    /// The networks it was attached to, for `berth start`.
    public var networks: [NetworkObject]?
    /// Started by `berth run`: the pid and start time of the berth that
    /// waits for it and deletes it. Reconcile leaves it alone while that
    /// berth lives (no manifest names it, yet it is not to be pruned).
    public var foregroundOwner: [UInt64]?
    /// The init's exit code once it ended by itself, where berth reaped it
    /// (kept in the init file, like the pid: gone with a reboot).
    public var exitCode: Int32?
    /// How often it was started again after its init ended (restartPolicy).
    public var restarts: Int?
    /// Its private layer's disk image (resources.disk), mounted on the
    /// directory that holds `upper` and `work`; nil: the layer is a
    /// directory of the state dir.
    public var diskImage: String?
    /// The project ID of its private layer when a project quota of the
    /// state dir's filesystem holds its disk quota (the layer is then the
    /// directory `disk` of its state directory, marked with that ID).
    public var diskProject: UInt32?
    /// The manifest's metadata.labels (for `list -l` and `-o json`); nil
    /// when it has none or the record predates labels.
    public var labels: [String: String]?
    /// Dumped by `berth checkpoint` (without --leave-running): where its
    /// image is and when it was taken. Cleared by `berth restore` and
    /// `berth stop`; a plan leaves a checkpointed container alone.
    public var checkpoint: CheckpointMark?
}

/// Values read from files, each kept with the version of its file (a
/// rename over it or a write changes that version, and the value is read
/// again): StateStore's decoded records (bounded by the number of
/// containers), TemplateStore's busybox applets.
final class FileVersionCache<Value: Sendable>: Sendable {
    private let entries = Mutex<[String: (version: Syscall.FileVersion, value: Value)]>([:])

    func value(_ file: String, _ version: Syscall.FileVersion) -> Value? {
        entries.withLock { entries in entries[file].flatMap { $0.version == version ? $0.value : nil } }
    }

    func keep(_ value: Value, _ file: String, _ version: Syscall.FileVersion) {
        entries.withLock { entries in entries[file] = (version, value) }
    }

    /// Drops every value (and the table's storage): the next read decodes again.
    func removeAll() {
        entries.withLock { entries in entries = [:] }
    }
}

extension ContainerRecord {
    /// Whether the `berth run` that owns this container is still there.
    public var hasLiveForegroundOwner: Bool {
        guard let owner = foregroundOwner, owner.count == 2, let pid = Int32(exactly: owner[0]), let stat = ProcessStat.read(pid)
        else { return false }
        return stat.isAlive && stat.startTime == owner[1]
    }

    /// The same record without a running init.
    var stopped: ContainerRecord {
        var copy = self
        copy.pid = nil
        copy.startTime = nil
        copy.exitCode = nil
        copy.restarts = nil
        return copy
    }

    /// The firewall table ContainerFirewall.apply left: its fingerprint and
    /// the generation it was listed at (none: no table). The connection
    /// limit, known right before that commit, is known after it when it was
    /// the namespace's only change.
    mutating func keepFirewall(_ applied: ContainerFirewall.Applied) {
        firewallFingerprint = applied.fingerprint
        firewallGeneration = applied.fingerprint == nil ? nil : applied.step.after?.description
        connectionLimitGeneration = applied.step.carried(connectionLimitGeneration)
    }

    /// The connection limit ConnectionLimit.apply set (spec.resources.numtcpsock,
    /// which the caller records with it): known at the generation after its
    /// commit when that was the namespace's only change. The firewall, known
    /// right before, is then known after it too.
    mutating func keepConnectionLimit(_ step: RulesetStep) {
        connectionLimitGeneration = step.isSole ? step.after?.description : nil
        firewallGeneration = step.carried(firewallGeneration)
    }

    /// What `berth exec` needs of how the init was launched.
    mutating func keep(_ launch: ContainerLaunch) {
        capabilities = launch.capabilities.mask
        noNewPrivileges = launch.noNewPrivileges
        seccomp = launch.seccomp
        nestedUserNamespaces = launch.nestedUserNamespaces ? true : nil
        environment = launch.environment
        ipv6 = !launch.disableIPv6
    }
}

/// The state directory's layout and atomic reads and writes.
public struct StateStore: Sendable {
    public let paths: RuntimePaths
    /// Decoded records by file version: container.json changes only when
    /// the container's definition does, so a pass that loads a record
    /// several times (observe, apply, the agent's checks) decodes it once.
    private let decoded = FileVersionCache<DecodedRecord>()

    /// A decoded record, and whether its `networks` were decoded too.
    struct DecodedRecord: Sendable {
        var record: ContainerRecord
        var networks: Bool
    }

    public init(paths: RuntimePaths) { self.paths = paths }

    /// Forgets the decoded records (the agent between passes: its idle
    /// memory); the next `load` decodes each record again.
    public func forgetDecoded() { decoded.removeAll() }

    public var containersDirectory: String { paths.stateDirectory.string + "/containers" }

    /// The containers directory, made and marked a top directory
    /// (FS_TOPDIR_FL, `chattr +T`) once per process, before a container's
    /// directory is made in it: ext4 then places each container's tree in
    /// a block group of its own choosing, as it does top-level directories,
    /// not all of them beside their parent. Where ext4 has no journal, its
    /// inode allocator passes over every inode freed in the last minute (5
    /// with its block not yet written), one by one; a thousand containers
    /// deleted then made again, all in one group, made the create 1.5-2x
    /// slower (berth-bench scale: 5.8-8.2 s against 3.9 s rested; a CPU
    /// profile gave 22% to recently_deleted). Spread, each group holds a
    /// few. Another filesystem, or one without the flag, is left as it is.
    public func prepareContainersDirectory() throws {
        let directory = containersDirectory
        guard StateStore.prepared.withLock({ $0.insert(directory).inserted }) else { return }
        try Syscall.makeDirectories(directory)
        let fd = try Syscall.openReadOnly(directory)
        defer { Syscall.close(fd) }
        _ = berth_set_top_directory(fd)
    }
    static let prepared = Mutex<Set<String>>([])
    public var templatesDirectory: String { paths.stateDirectory.string + "/templates" }
    public func containerDirectory(_ name: String) -> String { containersDirectory + "/" + name }
    /// The disk image of a container with a disk quota, and where it is mounted.
    public func diskImage(_ name: String) -> DiskImage {
        DiskImage(image: containerDirectory(name) + "/disk.img", mountPoint: containerDirectory(name) + "/disk")
    }
    public func runDirectory(_ name: String) -> String { paths.runDirectory.string + "/containers/" + name }

    /// The record of a container in the state dir (what survives a reboot).
    func recordFile(_ name: String) -> String { containerDirectory(name) + "/container.json" }
    /// A `berth run` container's record: in its run directory, as runc's and
    /// crun's state is in /run (it never outlives a reboot, nor the berth
    /// that waits for it), and nothing of the container is in the state dir.
    func foregroundRecordFile(_ name: String) -> String { runDirectory(name) + "/container.json" }
    /// Where `record` is kept: the run directory's for a `berth run`
    /// container (it has a foreground owner), else the state dir's.
    func recordFile(of record: ContainerRecord) -> String {
        record.foregroundOwner != nil ? foregroundRecordFile(record.name) : recordFile(record.name)
    }

    /// Whether the container's record is there and this process may not
    /// read it (root's, 0600: a non-root reader of the real state dir).
    public func recordForbidden(_ name: String) -> Bool {
        func forbidden(_ file: String) -> Bool { access(file, R_OK) != 0 && errno == EACCES }
        return forbidden(recordFile(name)) || forbidden(foregroundRecordFile(name))
    }
    func initFile(_ name: String) -> String { runDirectory(name) + "/init" }

    /// Writes the record: container.json only when its content changed (and
    /// synced unless not `durable`), the init file (or its removal) always.
    /// A `berth run` container's is in its run directory and never synced.
    public func save(_ record: ContainerRecord, durable: Bool = true) throws {
        let bytes = try RecordJSON.encode(record: record.stopped)
        let file = recordFile(of: record)
        if (try? Syscall.readFile(file)) != bytes {
            let foreground = record.foregroundOwner != nil
            try Syscall.makeDirectories(foreground ? runDirectory(record.name) : containerDirectory(record.name))
            try Syscall.writeAtomically(bytes, to: file, durable: durable && !foreground)
        }
        try saveInit(record)
    }

    /// A `berth run` container's record: in its run directory (no
    /// directory or file in the state dir), written once and not synced (it
    /// is deleted when that berth exits; a killed berth's is pruned by the
    /// next apply), and without the read-back of an earlier record (there
    /// is none). With its init in container.json when `record` has one
    /// (as berth wrote records before init files existed; load, stop and
    /// prune still read those): no init file is made, then removed.
    public func saveForeground(_ record: ContainerRecord) throws {
        try Syscall.makeDirectories(runDirectory(record.name))
        try Syscall.writeAtomically(try RecordJSON.encode(record: record), to: foregroundRecordFile(record.name), durable: false)
        // An init file an earlier container of the name left would be read over the record's.
        try Syscall.removeFile(initFile(record.name), missingOK: true)
    }

    /// Makes a record written with `save(durable: false)` durable: its file,
    /// its directory and the containers directory (which holds a new
    /// container's directory) synced. A start overlaps this with the
    /// container's set-up and waits for it before it reports the container
    /// started (hardening.md 27); until then a crash may leave the record
    /// lost or torn, and the next apply adopts the running init or re-creates.
    public func makeDurable(_ name: String) throws {
        for path in [recordFile(name), containerDirectory(name), containersDirectory] {
            let fd = try Syscall.openReadOnly(path)
            defer { Syscall.close(fd) }
            try Syscall.fsync(fd, subject: path)
        }
    }

    /// What a crash may leave of a record that was not yet durable, for
    /// the failpoints of that window: no file, or an empty one.
    func simulateCrashLoss(_ name: String, torn: Bool) {
        if torn { _ = truncate(recordFile(name), 0) } else { _ = unlink(recordFile(name)) }
    }

    /// Writes the init file alone (or removes it when `record` has no pid).
    public func saveInit(_ record: ContainerRecord) throws {
        guard let pid = record.pid else { return try forgetInit(record.name) }
        try Syscall.makeDirectories(runDirectory(record.name))
        var line = "\(pid) \(record.startTime.map(String.init) ?? "-")"
        if record.exitCode != nil || (record.restarts ?? 0) > 0 {
            line += " \(record.exitCode.map(String.init) ?? "-") \(record.restarts ?? 0)"
        }
        line += "\n"
        try Syscall.writeAtomically(Array(line.utf8), to: initFile(record.name), durable: false)
    }

    /// The container is stopped: its init file goes (container.json, which
    /// a stop does not change, is left as it is).
    public func forgetInit(_ name: String) throws {
        try Syscall.removeFile(initFile(name), missingOK: true)
        // Written by berth before init files existed, the record holds its
        // pid. Decoded only then (a quoted "pid" elsewhere only costs a read).
        // A `berth run` container's record is in its run directory (an
        // earlier berth's, in the state dir): rewritten where it was read.
        let key = Array("\"pid\"".utf8)
        var file = recordFile(name)
        var read = try? Syscall.readFile(file)
        if read == nil {
            file = foregroundRecordFile(name)
            read = try? Syscall.readFile(file)
        }
        guard let bytes = read, bytes.indices.contains(where: { bytes[$0...].starts(with: key) }) else { return }
        if let record = load(name), record.pid != nil {
            let durable = record.foregroundOwner == nil
            try Syscall.writeAtomically(try RecordJSON.encode(record: record.stopped), to: file, durable: durable)
        }
    }

    /// The record, or nil when there is none or it is unreadable (the kernel
    /// is then the truth to rebuild from). Without an init file the
    /// container is stopped (a record written before init files existed keeps
    /// its pid in container.json: that is still honoured).
    ///
    /// `networks: false` (observe): the record's `networks` (the networks
    /// it was attached to, for its teardown) may be left out, nil unless a
    /// full record was already decoded: a fifth of the record that observe
    /// and the planner never read (berth-bench scale: no-op plan and drift).
    ///
    /// A record not in the state dir is looked for in the run directory
    /// (a `berth run` container's).
    ///
    /// `initFile: false`: the init file is not read (pid, start time, exit
    /// code and restarts as container.json has them): for decoding records
    /// ahead of observe, which loads each again and reads its init file
    /// then (an open and a read per container less).
    public func load(_ name: String, networks: Bool = true, initFile readsInit: Bool = true) -> ContainerRecord? {
        var file = recordFile(name)
        // One open: its version and its bytes from the same descriptor (a
        // stat of the path before and after the read were two more lookups
        // per record; berth-bench scale, no-op plan and drift).
        let fd: Int32
        do {
            fd = try Syscall.openReadOnlyKeepingAccessTime(file)
        } catch {
            guard error.errno == ENOENT || error.errno == ENOTDIR else { return nil }
            file = foregroundRecordFile(name)
            guard let opened = try? Syscall.openReadOnlyKeepingAccessTime(file) else { return nil }
            fd = opened
        }
        defer { Syscall.close(fd) }
        guard let version = Syscall.version(of: fd) else { return nil }
        var record: ContainerRecord
        if let known = decoded.value(file, version), known.networks || !networks {
            record = known.record
        } else {
            // Replaced by rename, never written in place: a short read is its end.
            guard let bytes = try? Syscall.readAll(fd, upTo: 1 << 20, subject: file, oneRecord: true),
                var fresh = try? RecordJSON.decodeRecord(from: bytes, omitting: networks ? [] : ["networks"])
            else { return nil }
            // A spec recorded before defaults were resolved may name no
            // hostname: the container's name is the default one.
            if fresh.spec?.hostname.isEmpty == true { fresh.spec?.hostname = fresh.name }
            // Kept only when the file did not change while it was read
            // (records are replaced by rename: an open file keeps its bytes).
            if Syscall.version(of: fd) == version { decoded.keep(DecodedRecord(record: fresh, networks: networks), file, version) }
            record = fresh
        }
        if readsInit, let line = try? Syscall.readFile(initFile(name), limit: 128, oneRecord: true) {
            let fields = String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
            record.pid = fields.first.flatMap { Int32($0) }
            record.startTime = fields.dropFirst().first.flatMap { UInt64($0) }
            record.exitCode = fields.dropFirst(2).first.flatMap { Int32($0) }
            record.restarts = fields.dropFirst(3).first.flatMap { Int($0) }
        }
        return record
    }

    /// Every container with a record: the state dir's, and the `berth run`
    /// containers' in the run dir (there, only a directory that holds a
    /// record: a stopped container's run directory outlives its init).
    public func names() -> [String] {
        var names = Set(Syscall.entryNames(in: containersDirectory).filter { !$0.hasPrefix(".") })
        for name in Syscall.entryNames(in: paths.runDirectory.string + "/containers")
        where !name.hasPrefix(".") && !names.contains(name) && Syscall.exists(foregroundRecordFile(name)) {
            names.insert(name)
        }
        return names.sorted()
    }
}
