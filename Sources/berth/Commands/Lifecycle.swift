import ArgumentParser
import Journal
import Kernel
import Manifest
import Model
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// The instance options as plain values (GlobalOptions parsed, or the fast
/// path's); its defaults are GlobalOptions' defaults: BERTH_STATE_DIR,
/// BERTH_RUN_DIR and BERTH_CGROUP_PARENT when set, else berth's own. A flag
/// beats the environment, which beats the default.
struct Instance: Equatable {
    static let defaults = Instance()

    var stateDir = Instance.environment("BERTH_STATE_DIR") ?? "/var/lib/berth"
    var runDir = Instance.environment("BERTH_RUN_DIR") ?? "/run/berth"
    var cgroupParent = Instance.environment("BERTH_CGROUP_PARENT") ?? "berth"
    /// Who places containers' cgroups: cgroupfs (berth) or systemd (scopes).
    var cgroupDriver = Instance.environment("BERTH_CGROUP_DRIVER") ?? CgroupManager.cgroupfs.rawValue
    /// The host's LXCFS mountpoint (a host setting, not per instance).
    var lxcfsDir = Instance.environment("BERTH_LXCFS_DIR") ?? "/var/lib/lxcfs"
    /// How much berth says on stderr (-q, -v).
    var verbosity = Verbosity.normal

    init() {}
    init(_ global: GlobalOptions) {
        stateDir = global.stateDir
        runDir = global.runDir
        cgroupParent = global.cgroupParent
        cgroupDriver = global.cgroupDriver
        verbosity = global.verbosity
    }

    /// A variable's value; unset and empty are the same.
    /// (getenv, not ProcessInfo: its set-up costs every container start.)
    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// Where berth's events (and its containers' relays) go: journald's
    /// socket, or BERTH_JOURNAL_SOCKET (the tests' own journald, or none).
    static var journalSocket: String { environment("BERTH_JOURNAL_SOCKET") ?? JournalSink.defaultSocket }

    var paths: RuntimePaths {
        var paths = RuntimePaths(
            stateDirectory: .init(stateDir), runDirectory: .init(runDir), cgroupParent: cgroupParent, lxcfsDirectory: .init(lxcfsDir))
        // Checked by GlobalOptions.validate and the fast path before any use.
        paths.cgroupManager = CgroupManager(rawValue: cgroupDriver) ?? .cgroupfs
        return paths
    }
}

/// The container lifecycle commands that must start fast (`run`, `start`,
/// `stop`), as values: what ArgumentParser parsed and what the fast path
/// parsed run through the same code.
enum Lifecycle: Equatable {
    case run(RunRequest)
    case start(instance: Instance, name: String)
    case stop(instance: Instance, timeout: Interval?, name: String)

    /// Does it; the process's exit code.
    func perform() throws -> Int32 {
        switch self {
        case .run(let request):
            return try request.perform()
        case .start(let instance, let name):
            let runtime = try RuntimeContext.runtime(instance)
            let record = try runtime.restart(name)
            NetworkAttacher.deleteSetAside(cgroupParent: runtime.paths.cgroupParent)
            if instance.verbosity != .quiet { print("started \(name) (pid \(record.pid.map(String.init) ?? "?"))") }
        case .stop(let instance, let timeout, let name):
            let runtime = try RuntimeContext.runtime(instance)
            try runtime.stop(name, timeout: timeout ?? runtime.state.load(name)?.spec?.stopTimeout ?? Interval(milliseconds: 10_000))
            if instance.verbosity != .quiet { print("stopped \(name)") }
        }
        return 0
    }
}

/// `stop --timeout`: seconds (30), or a duration (500ms, 1m30s), as
/// everywhere berth takes a time; nil when it is neither.
func stopTimeout(_ text: String) -> Interval? {
    if let seconds = UInt64(text), seconds <= 86_400 * 365 { return Interval(milliseconds: seconds * 1000) }
    return try? Interval(parsing: text)
}

/// `berth run`: a container in the foreground.
struct RunRequest: Equatable {
    var instance = Instance()
    var name: String?
    var template: String?
    var rootfs: String?
    var hostname: String?
    var env: [String] = []
    var workdir: String?
    /// Limits, as a manifest writes them ("256Mi", "0.5", 100).
    var memory: String?
    var cpus: String?
    var pids: String?
    /// A pseudo-terminal for the init, relayed to berth's own stdio.
    var tty = false
    var command: [String] = []

    /// A refused flag value, named by its option: "--cpus: must be at least
    /// 1m (one thousandth of a CPU)", control characters escaped as
    /// `berth validate` escapes them.
    static func refused(_ option: String, _ error: ValueError) -> ValidationError {
        ValidationError(TextCheck.escaped("\(option): \(error.message)\(error.hint.map { " (\($0))" } ?? "")"))
    }

    /// The container the flags describe. Every flag value is checked by the
    /// rule `berth validate` applies to the manifest field it fills
    /// (Manifest's ValueRules) before anything is created and before root is
    /// needed.
    func containerSpec() throws -> ContainerSpec {
        var spec = ContainerSpec()
        if template != nil && rootfs != nil { throw ValidationError("give --template or --rootfs, not both") }
        if let rootfs {
            do { try ValueRules.checkPath(rootfs) } catch { throw RunRequest.refused("--rootfs", error) }
            spec.rootfs = RootfsSpec(source: .directory(rootfs))
        } else {
            let template = self.template ?? "busybox"
            do { try ValueRules.checkTemplate(template) } catch { throw RunRequest.refused("--template", error) }
            spec.rootfs = RootfsSpec(source: .template(template))
        }
        if let workdir {
            do { try ValueRules.checkPath(workdir) } catch { throw RunRequest.refused("--workdir", error) }
        }
        spec.`init` = InitSpec(command: command.isEmpty ? nil : command, workingDir: workdir)
        spec.hostname = hostname
        var variables: [String: String] = [:]
        for item in env {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError(TextCheck.escaped("--env: '\(item)' is not KEY=VALUE"))
            }
            variables[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        spec.env = variables.isEmpty ? nil : variables
        spec.resources = try resources()
        return spec
    }

    /// The limits given, or nil for none: the in-memory private layer counts
    /// against the memory limit.
    func resources() throws -> ResourcesSpec? {
        guard memory != nil || cpus != nil || pids != nil else { return nil }
        var resources = ResourcesSpec()
        if let memory {
            do {
                let max = try ByteSize(parsing: memory)
                try ValueRules.checkMemoryMax(max, written: memory)
                resources.memory = MemorySpec(max: max)
            } catch { throw RunRequest.refused("--memory", error) }
        }
        if let cpus {
            do {
                let limit = try CPUQuantity(parsing: cpus)
                try ValueRules.checkCPULimit(limit)
                resources.cpu = CPUSpec(limit: limit)
            } catch { throw RunRequest.refused("--cpus", error) }
        }
        if let pids {
            guard let count = Int64(pids) else {
                throw ValidationError(TextCheck.escaped("--pids: '\(pids)' is not a positive whole number"))
            }
            do { try ValueRules.checkPidsMax(count) } catch { throw RunRequest.refused("--pids", error) }
            resources.pids = PidsSpec(max: Int(count))
        }
        return resources
    }

    func perform() throws -> Int32 {
        let name = self.name ?? "run-\(getpid())"
        // Defaults, once, as for a manifest's container (the rootfs is always set above).
        guard let spec = try containerSpec().resolved(name: name) else { throw ValidationError("berth run: no root filesystem") }
        let container = ContainerObject(
            metadata: ObjectMeta(name: name), spec: spec, source: SourceLocation(file: "berth run", line: 1, column: 1))
        let exit = try RuntimeContext.runtime(instance).runForeground(container, terminal: tty)
        if exit.oomKills > 0 {
            let limit = spec.resources.memory?.max.map { " (memory limit \($0))" } ?? ""
            let count = exit.oomKills == 1 ? "a process" : "\(exit.oomKills) processes"
            Console.error("berth: the kernel's OOM killer ended \(count) of container \(name)\(limit)")
        }
        return exit.code
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a one-off container in the foreground, like runc run or systemd-nspawn.",
        discussion: """
            Example: berth run -- /bin/sh -c 'echo hello'. The container gets berth's stdin, \
            stdout and stderr; berth passes signals on to its init and exits with the init's \
            exit code. A second Ctrl-C (or SIGTERM) kills the container: an init without \
            handlers ignores them. The container and its private layer are deleted when it \
            exits. It needs no manifest, and reconcile leaves it alone while it runs.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Container name (default: run-PID).", valueName: "name")) var name: String?
    @Option(help: ArgumentHelp("Root filesystem template (default: busybox).", valueName: "name")) var template: String?
    @Option(help: ArgumentHelp("A directory to use as the read-only lower layer instead of a template.", valueName: "dir"))
    var rootfs: String?
    @Option(help: ArgumentHelp("Hostname inside (default: the container name).", valueName: "name")) var hostname: String?
    @Option(name: [.customShort("e"), .long], help: ArgumentHelp("Set an environment variable.", valueName: "key=value"))
    var env: [String] = []
    @Option(name: [.customShort("w"), .long], help: ArgumentHelp("Working directory inside.", valueName: "dir"))
    var workdir: String?
    @Option(help: ArgumentHelp("Memory limit, its private layer included (e.g. 256Mi).", valueName: "size")) var memory: String?
    @Option(help: ArgumentHelp("CPU time limit in CPUs (e.g. 0.5).", valueName: "cpus")) var cpus: String?
    @Option(help: ArgumentHelp("Process limit.", valueName: "count")) var pids: String?
    @Flag(
        name: [.customShort("t"), .long], help: "Give the init a terminal: a pseudo-terminal berth relays to its own (job control and Ctrl-C inside)."
    )
    var tty = false
    @Argument(parsing: .postTerminator, help: "-- and the command (default: the template's /sbin/init).")
    var command: [String] = []

    var request: RunRequest {
        RunRequest(
            instance: Instance(global), name: name, template: template, rootfs: rootfs, hostname: hostname, env: env, workdir: workdir,
            memory: memory, cpus: cpus, pids: pids, tty: tty, command: command)
    }

    func run() throws { throw ExitCode(try Lifecycle.run(request).perform()) }
}
