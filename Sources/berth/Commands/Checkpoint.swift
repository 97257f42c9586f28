import ArgumentParser
import Kernel
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// An image directory given on the command line, made absolute (CRIU and
/// the manifest see the same path whatever berth's working directory).
func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: 4097)
    guard getcwd(&buffer, 4096) != nil else { return path }
    let directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return directory + "/" + path
}

struct Checkpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Checkpoint a running container to disk with CRIU.",
        discussion: """
            Dumps its processes (memory, open files, established TCP connections), namespaces \
            and cgroup into a new directory, with berth-checkpoint.json: the container's spec, \
            the berth, kernel and CRIU versions, and a SHA-256 of every image file. The \
            container stops unless --leave-running. berth restore NAME --from DIR brings it back. \
            A container on a network with driver macvlan is refused (CRIU makes veths again, not \
            macvlans).
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: [.customLong("to"), .customLong("image-dir")], help: ArgumentHelp("New image directory.", valueName: "dir"))
    var directory: String
    @Flag(help: "Keep the container running after the dump.") var leaveRunning = false
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String

    func run() throws {
        let manifest = try RuntimeContext.runtime(global).checkpoint(
            name, to: absolutePath(directory), leaveRunning: leaveRunning, berthVersion: Version.number)
        if global.verbosity != .quiet {
            print("checkpointed \(name) to \(absolutePath(directory)) (criu \(manifest.criu), \(manifest.checksums.count) files)")
        }
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a checkpointed container with CRIU.",
        discussion: """
            Refuses an image whose files do not match the checksums of its manifest. The \
            container comes back with the same processes (the same pids inside), its open \
            files and connections, in its cgroup with its limits, on its networks.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: [.customLong("from"), .customLong("image-dir")], help: ArgumentHelp("Image directory.", valueName: "dir"))
    var directory: String
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String

    func run() throws {
        let record = try RuntimeContext.runtime(global).restore(name, from: absolutePath(directory))
        if global.verbosity != .quiet { print("restored \(name) (pid \(record.pid.map(String.init) ?? "?"))") }
    }
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Move a running container to another host (CRIU over ssh).",
        discussion: """
            With the ssh client: the private layer is copied while the container runs, then its \
            memory is pre-dumped (criu pre-dump) and copied, --pre-dumps times; then the freeze: \
            the final dump, what changed copied, and berth restore on the target. The container \
            is deleted here only once the target's berth reports it running; on any failure it \
            runs here again and the target keeps nothing of it. Prints the freeze time and the \
            placement change to commit to the manifests. The target needs the container's \
            networks and template; a container on a macvlan network is refused, as by \
            checkpoint. A container with a disk quota (resources.disk) gets the \
            same quota on the target, made before its layer is copied: a project quota where \
            the target's state dir enforces them, else a disk image; it prints which.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("to"), help: ArgumentHelp("The target host, as ssh takes it ([user@]host).", valueName: "host"))
    var host: String
    @Option(name: .customLong("ssh-option"), help: ArgumentHelp("An ssh -o option (Port=2222); repeatable.", valueName: "option"))
    var sshOptions: [String] = []
    @Option(name: .customLong("remote-berth"), help: ArgumentHelp("berth's path on the target.", valueName: "path"))
    var remoteBerth = "berth"
    @Option(name: .customLong("remote-state-dir"), help: ArgumentHelp("The target's --state-dir.", valueName: "dir"))
    var remoteStateDirectory = "/var/lib/berth"
    @Option(name: .customLong("remote-run-dir"), help: ArgumentHelp("The target's --run-dir (default: its own).", valueName: "dir"))
    var remoteRunDirectory: String?
    @Option(name: .customLong("remote-cgroup-parent"), help: ArgumentHelp("The target's --cgroup-parent (default: its own).", valueName: "name"))
    var remoteCgroupParent: String?
    @Option(help: ArgumentHelp("Memory pre-dumps while it runs (0-10).", valueName: "n")) var preDumps = 2
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String

    func validate() throws {
        guard (0...10).contains(preDumps) else { throw ValidationError("--pre-dumps: \(preDumps) is not within 0-10") }
        guard !host.isEmpty, !host.hasPrefix("-") else { throw ValidationError("--to: '\(host)' is no host") }
    }

    func run() throws {
        let runtime = try RuntimeContext.runtime(global)
        guard case .running = runtime.status(name) else { throw CLIFailure("container \(name) is not running") }
        // One ssh connection for every step: its socket in a new directory
        // of ours (mkdtemp: a crashed run's is no obstacle), short enough
        // for sun_path.
        let control = try Syscall.makeTemporaryDirectory(prefix: "/tmp/berth-ssh-")
        let target = RemoteBerth(
            host: host, sshOptions: sshOptions, binary: remoteBerth, stateDirectory: remoteStateDirectory, runDirectory: remoteRunDirectory,
            cgroupParent: remoteCgroupParent, controlDirectory: control)
        let transport = SSHTransport(target: target)
        defer { transport.close() }
        let migration = Migration(name: name, target: target, workDirectory: runtime.migrationDirectory(name), preDumps: preDumps)
        let quiet = global.verbosity == .quiet
        let started = MonotonicClock.milliseconds()
        let report = try migration.run(source: runtime, transport: transport, clock: MonotonicClock.milliseconds) { step in
            guard global.verbosity == .verbose else { return }
            // When each step began: where a slow migration spends its time.
            let elapsed = MonotonicClock.milliseconds() &- started
            print("migrate \(name): \(step) (at \(elapsed / 1000).\(elapsed % 1000 / 100) s)")
        }
        if !quiet {
            print("migrated \(name) to \(host) (freeze \(report.freezeMilliseconds) ms)")
            if let backend = report.targetDisk { print("its disk quota on \(host): \(backend.rawValue)") }
            let source = (try? HostIdentity.hostname()) ?? "this host"
            let targetName = String(host.split(separator: "@").last ?? Substring(host))
            print("commit the placement change: Container/\(name) spec.placement.hostnames: [\(source)] → [\(targetName)]")
        }
    }
}

/// The target's side of `berth migrate` for a container with a disk quota
/// (the source's berth runs it over ssh): the backend made before the
/// layer comes, or removed when the migration fails.
struct MigrateReceive: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-receive", abstract: "Prepare (or discard) a migrating container's disk quota (berth migrate's target side).",
        shouldDisplay: false)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("The container's record, sent by the source.", valueName: "file")) var record: String?
    @Flag(help: "Remove what a failed migration made here.") var discard = false
    @Argument(help: "Container name.") var name: String

    func validate() throws {
        guard (record != nil) != discard else { throw ValidationError("give one of --record FILE and --discard") }
    }

    func run() throws {
        let runtime = try RuntimeContext.runtime(global)
        if let record {
            let backend = try runtime.receiveDisk(name, record: absolutePath(record))
            print(Migration.receivedPrefix + backend.rawValue)
        } else {
            try runtime.discardReceivedDisk(name)
        }
    }
}
