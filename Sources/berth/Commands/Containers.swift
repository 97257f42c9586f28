import ArgumentParser
import FoundationEssentials
import Journal
import Engine
import Kernel
import Logging
import Model
import Runtime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The runtime for the instance the global options name.
enum RuntimeContext {
    /// Every event (info and up) goes to journald as a structured entry,
    /// without ever blocking; people read notices and worse on stderr (see
    /// ConsoleLog), but not when stderr is the journal already (under systemd).
    /// Without journald, the agent's stderr is its only record: it shows
    /// informational events there too.
    /// Every journal event names its instance (BERTH_STATE_DIR,
    /// BERTH_CGROUP_PARENT): `berth events` shows one instance's history.
    static func bootstrapLogging(_ instance: Instance, agent: Bool) {
        let verbosity = instance.verbosity
        ConsoleLog.quiet = verbosity == .quiet
        let fields = Events.instanceMetadata(instance)
        let socketPath = Instance.journalSocket
        let journald = Syscall.exists(socketPath)
        let sink = JournalSink(socketPath: socketPath, fallback: false)
        let console: Logger.Level? =
            journald && JournalStream.isStandardError
            ? nil
            : ConsoleLog.level(
                verbosity, environment: Instance.environment("BERTH_LOG_LEVEL"), fallback: agent && !journald ? .info : .notice)
        LoggingSystem.bootstrap { label in
            var journal = JournalLogHandler(label: label, sink: sink)
            journal.logLevel = .info
            for (key, value) in fields { journal.metadata[key] = "\(value)" }
            guard let console else { return journal }
            return MultiplexLogHandler([ConsoleLogHandler(level: console), journal])
        }
    }

    private static let bootstrapped = Mutex(false)

    static func runtime(_ global: GlobalOptions, agent: Bool = false) throws -> ContainerRuntime {
        try runtime(Instance(global), agent: agent)
    }

    static func runtime(_ instance: Instance, agent: Bool = false) throws -> ContainerRuntime {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first { bootstrapLogging(instance, agent: agent) }
        var runtime = ContainerRuntime(paths: instance.paths, cgroups: try CgroupDrivers.detect(), logger: Logger(label: "berth"))
        // Where berth's events go is where its containers' journal relays send too.
        runtime.journalSocket = Instance.journalSocket
        return runtime
    }
}

/// An optional that JSON shows as `null` rather than by leaving its key out
/// (synthesized Encodable skips nil), so every object has the same keys.
@propertyWrapper
struct NullWhenAbsent<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

/// One container as `list` and `status` show it. In JSON every key is
/// always there (null when it does not apply, as for a stopped container's
/// pid), so scripts need not guess.
struct ContainerSummary: Encodable {
    var name: String
    var state: String
    @NullWhenAbsent var pid: Int32? = nil
    var hostname: String
    /// The manifest's metadata.labels.
    var labels: [String: String]
    /// Seconds since its init started; nil when it does not run.
    @NullWhenAbsent var uptimeSeconds: UInt64? = nil
    var addresses: [String]
    @NullWhenAbsent var cpuSeconds: Double?
    var memory: Usage
    var pids: Usage
    /// The init's exit code once it ended by itself (where berth saw it).
    @NullWhenAbsent var exitCode: Int32?
    /// Where `berth checkpoint` dumped it and when (state "checkpointed").
    @NullWhenAbsent var checkpoint: CheckpointMark? = nil
    /// Starts after its init ended (restartPolicy), since the last boot.
    var restarts: Int
    var cgroup: String
    var rootfs: Rootfs
    /// The state dir's record, as berth keeps it.
    var record: ContainerRecord

    struct Usage: Encodable {
        @NullWhenAbsent var current: UInt64?
        @NullWhenAbsent var limit: UInt64?
    }

    /// The overlay's layers: the shared template (lower), the private layer
    /// (upper, with overlayfs's work directory), on a disk image when it has a quota.
    struct Rootfs: Encodable {
        var mountpoint: String
        var lower: String
        var upper: String
        var work: String
        @NullWhenAbsent var diskImage: String?
        var inMemory: Bool
    }

    /// The columns `list` can show (`--columns`), in their default order.
    enum Column: String, CaseIterable, ExpressibleByArgument {
        case name, state, pid, hostname, uptime, restarts, labels, addresses, cpu, memory, pids, cgroup

        static let defaults: [Column] = [.name, .state, .pid, .hostname, .uptime, .restarts, .addresses, .cpu, .memory, .pids]

        /// Every column's name, comma-separated, for `list`'s help. Written
        /// out: ArgumentParser reads every command's configuration on every
        /// call, and a generic `joined` costs a fresh process ~0.1 ms.
        static var names: String {
            var text = ""
            for column in allCases {
                if !text.isEmpty { text += ", " }
                text += column.rawValue
            }
            return text
        }

        var header: String { self == .cpu ? "CPU(s)" : rawValue.uppercased() }
    }

    init(record: ContainerRecord, status: ContainerRuntime.Status, usage: CgroupObservation?) {
        name = record.name
        self.record = record
        switch status {
        case .running(let pid):
            state = usage?.frozen == true ? "frozen" : "running"
            self.pid = pid
            uptimeSeconds = record.startTime.flatMap { ProcessStat.secondsRunning(startTime: $0) }
        case .stopped, .unknown:
            // An init file without a living init: it ended by itself.
            state = record.checkpoint != nil ? "checkpointed" : record.pid == nil ? "stopped" : "exited"
            checkpoint = record.checkpoint
        }
        hostname = record.spec?.hostname ?? record.name
        labels = record.labels ?? [:]
        exitCode = record.pid == nil ? nil : record.exitCode
        restarts = record.restarts ?? 0
        addresses = (record.spec?.networks ?? []).flatMap { $0.addresses.map(\.address.description) }
        cpuSeconds = usage?.cpuUsageNanos.map { Double($0) / 1e9 }
        memory = Usage(current: usage?.memoryCurrent, limit: usage?.limits.memoryMax)
        pids = Usage(current: usage?.pidsCurrent.map(UInt64.init), limit: usage?.limits.pidsMax.map(UInt64.init))
        cgroup = record.cgroup
        rootfs = Rootfs(
            mountpoint: record.rootfs, lower: record.lower, upper: record.upper, work: record.work, diskImage: record.diskImage,
            inMemory: record.privateLayerInMemory == true)
    }

    /// The text of one column.
    func cell(_ column: Column) -> String {
        switch column {
        case .name: return name
        case .state: return state + (exitCode.map { " (\($0))" } ?? "")
        case .pid: return pid.map(String.init) ?? "-"
        case .hostname: return hostname
        case .uptime: return uptimeSeconds.map { Table.duration($0) } ?? "-"
        case .restarts: return "\(restarts)"
        case .labels: return labels.isEmpty ? "-" : labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        case .addresses: return addresses.isEmpty ? "-" : addresses.joined(separator: ",")
        case .cpu: return cpuSeconds.map { Table.fixed($0, digits: 2) } ?? "-"
        case .memory: return "\(Table.size(memory.current))/\(Table.size(memory.limit))"
        case .pids: return "\(pids.current.map(String.init) ?? "-")/\(pids.limit.map(String.init) ?? "-")"
        case .cgroup: return cgroup
        }
    }
}

enum Table {
    /// Left-aligned columns separated by two spaces.
    static func render(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) } }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[index] - cell.count))
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `value` with `digits` decimals, rounded ("%.2f" without Foundation's formatter).
    static func fixed(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let whole = scaled / Int64(scale)
        let fraction = String(scaled % Int64(scale))
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard digits > 0 else { return sign + "\(whole)" }
        return sign + "\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    /// An age as kubectl prints one: 45s, 12m, 5h3m, 2d4h.
    static func duration(_ seconds: UInt64) -> String {
        let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86400)
        if days > 0 { return "\(days)d" + (hours % 24 > 0 ? "\(hours % 24)h" : "") }
        if hours > 0 { return "\(hours)h" + (minutes % 60 > 0 ? "\(minutes % 60)m" : "") }
        if minutes > 0 { return "\(minutes)m" + (seconds % 60 > 0 && minutes < 10 ? "\(seconds % 60)s" : "") }
        return "\(seconds)s"
    }

    static func size(_ bytes: UInt64?) -> String {
        guard let bytes else { return "-" }
        return ByteSize(bytes: bytes).humanReadable
    }
}

extension ByteSize {
    /// 12.3Mi style, for tables.
    var humanReadable: String {
        let units = ["", "Ki", "Mi", "Gi", "Ti"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes)" : Table.fixed(value, digits: 1) + units[unit]
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List containers: name, state, init pid, hostname, uptime, restarts, addresses, cpu, memory, pids.",
        discussion: """
            --columns picks and orders the columns (\(ContainerSummary.Column.names)). \
            -l key=value shows only containers with that label (repeat it: all must match). -q prints the names alone. -o json gives every container with its cgroup, its root filesystem's layers \
            and its record; every key is there for a stopped container too (null when it does not apply).
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: OutputOptions
    @Option(
        help: ArgumentHelp("Columns to show, comma-separated (name,state,uptime).", valueName: "columns"),
        transform: List.columns)
    var columns: [[ContainerSummary.Column]] = []
    @Option(
        name: [.customShort("l"), .long],
        help: ArgumentHelp("Only containers with this label (repeatable: all must match).", valueName: "key=value"),
        transform: List.selector)
    var selector: [LabelSelector] = []

    /// One `key=value` a container's labels must hold.
    struct LabelSelector: Equatable {
        var key: String
        var value: String
        func matches(_ labels: [String: String]) -> Bool { labels[key] == value }
    }

    static func selector(_ text: String) throws -> LabelSelector {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw ValidationError("-l: '\(text)' is not key=value")
        }
        return LabelSelector(key: String(text[..<equals]), value: String(text[text.index(after: equals)...]))
    }

    /// "name,state" → [.name, .state]; an unknown one names the choices.
    static func columns(_ text: String) throws -> [ContainerSummary.Column] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let column = ContainerSummary.Column(rawValue: String(part).trimmingWhitespace.lowercased()) else {
                let choices = ContainerSummary.Column.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("unknown column '\(part)' (choose from \(choices))")
            }
            return column
        }
    }

    func run() throws {
        let runtime = try RuntimeContext.runtime(global)
        let summaries = runtime.list().map { ContainerSummary(record: $0.record, status: $0.status, usage: $0.usage) }.filter { summary in
            selector.allSatisfy { $0.matches(summary.labels) }
        }
        if format.output == .json {
            print(try JSONOutput.encode(summaries))
            return
        }
        if global.quiet {
            for summary in summaries { print(summary.name) }
            return
        }
        let chosen = columns.isEmpty ? ContainerSummary.Column.defaults : columns.flatMap { $0 }
        print(Table.render([chosen.map(\.header)] + summaries.map { summary in chosen.map(summary.cell) }))
        // Deleted containers' files not yet removed (two readdirs when there are none).
        let trash = runtime.state.trash
        if !trash.isEmpty {
            let entries = trash.entries().count
            Console.error(
                "note: \(entries) deleted container director\(entries == 1 ? "y" : "ies") (\(Table.size(trash.pendingBytes()))) "
                    + "waiting in the trash (\(trash.stateDirectory), \(trash.runDirectory)); an emptier removes them")
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show one container's state and resources.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: OutputOptions
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String

    func run() throws {
        let runtime = try RuntimeContext.runtime(global)
        guard let entry = runtime.entry(name) else {
            throw CLIFailure("no container named '\(name)'")
        }
        let summary = ContainerSummary(record: entry.record, status: entry.status, usage: entry.usage)
        if format.output == .json {
            print(try JSONOutput.encode(summary))
            return
        }
        let restartPolicy = (entry.record.spec?.restartPolicy ?? Defaults.restartPolicy).rawValue
        var rows: [[String]] = [
            ["name:", summary.name], ["state:", summary.state + (summary.exitCode.map { ", exit code \($0)" } ?? "")],
            ["pid:", summary.pid.map(String.init) ?? "-"],
        ]
        if let mark = summary.checkpoint { rows.append(["checkpoint:", "\(mark.directory) (\(CheckpointMark.utc(mark.time)))"]) }
        rows += [
            ["hostname:", summary.hostname],
            ["uptime:", summary.uptimeSeconds.map { Table.duration($0) } ?? "-"],
            ["restarts:", "\(summary.restarts) (restartPolicy \(restartPolicy))"],
            ["addresses:", summary.addresses.isEmpty ? "-" : summary.addresses.joined(separator: ", ")],
            ["cgroup:", entry.record.cgroup],
            [
                "rootfs:",
                entry.record.lower + " (private layer " + (entry.record.privateLayerInMemory == true ? "in memory" : entry.record.upper)
                    + ")",
            ],
            ["layers:", "lower \(summary.rootfs.lower), upper \(summary.rootfs.upper), work \(summary.rootfs.work)"],
            ["memory:", "\(Table.size(summary.memory.current)) of \(Table.size(summary.memory.limit))"],
            ["pids:", "\(summary.pids.current.map(String.init) ?? "-") of \(summary.pids.limit.map(String.init) ?? "max")"],
            ["disk:", Status.disk(entry.record, runtime: runtime)],
        ]
        print(Table.render(rows))
    }

    /// The disk quota: its backend, size, inode limit and use.
    static func disk(_ record: ContainerRecord, runtime: ContainerRuntime) -> String {
        guard let quota = runtime.diskQuota(record) else { return "no quota (the private layer shares the state dir's filesystem)" }
        func inodes(_ used: UInt64?, of total: UInt64?) -> String {
            "\(used.map(String.init) ?? "-") of \(total.map(String.init) ?? "unlimited") inodes"
        }
        switch quota.backend {
        case .projectQuota:
            return "\(Table.size(quota.usedBytes)) of \(Table.size(quota.size)) used, \(inodes(quota.usedInodes, of: quota.inodes)) "
                + "(project quota \(quota.project.map(String.init) ?? "-") on the state dir's filesystem, \(runtime.state.diskImage(record.name).mountPoint))"
        case .image:
            let disk = runtime.state.diskImage(record.name)
            let image = record.diskImage ?? disk.image
            guard let usage = disk.usage() else { return "image \(image) (\(Table.size(disk.size)), not mounted)" }
            let inodeText = quota.inodeLimitLive ? inodes(quota.usedInodes, of: quota.inodes) : inodes(usage.usedInodes, of: usage.inodes)
            // Its quota's block limit where it has one (the image is a slack larger).
            let space = quota.spaceQuota ? (quota.usedBytes, quota.size) : (usage.usedBytes, usage.capacityBytes)
            return "\(Table.size(space.0)) of \(Table.size(space.1)) used, \(inodeText) "
                + "(image \(image), \(Table.size(usage.size)), loop-mounted ext4\(quota.inodeLimitLive ? " with a project quota" : "")"
                + "\(quota.userQuota == true ? ", user and group quotas inside (berth quota)" : ""))"
        }
    }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command inside a container.",
        discussion: "Example: berth exec web1 -- ps. Exits with the command's exit code; signals berth gets (Ctrl-C, SIGTERM) go on to the command.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.customShort("t"), .long], help: "Allocate a pseudo-terminal for the command.")
    var tty = false
    @Option(name: [.customShort("w"), .long], help: ArgumentHelp("Working directory inside.", valueName: "dir"))
    var workdir: String = "/"
    @Option(name: [.customShort("e"), .long], help: ArgumentHelp("Set an environment variable.", valueName: "key=value"))
    var env: [String] = []
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

    func run() throws {
        let arguments = command.first == "--" ? Array(command.dropFirst()) : command
        guard !arguments.isEmpty else { throw ValidationError("give a command: berth exec \(name) -- CMD...") }
        let code = try RuntimeContext.runtime(global).exec(
            name, command: arguments, workingDirectory: workdir, environment: env, tty: tty, passesSignals: true)
        throw ExitCode(code)
    }
}

struct Enter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enter", abstract: "Open an interactive shell inside a container.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String

    func run() throws {
        let term = ProcessInfo.processInfo.environment["TERM"] ?? "xterm"
        let code = try RuntimeContext.runtime(global).exec(
            name, command: ["/bin/sh", "-l"], workingDirectory: "/root", environment: ["TERM=\(term)", "PS1=\(name):\\w# "],
            tty: true, passesSignals: true)
        throw ExitCode(code)
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Start a stopped container again from its last spec.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String

    var request: Lifecycle { .start(instance: Instance(global), name: name) }
    func run() throws { _ = try request.perform() }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a container: SIGTERM to init, then SIGKILL of its cgroup after the timeout.")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("How long to wait before SIGKILL: seconds (30) or a duration (500ms, 1m).", valueName: "time"))
    var timeout: String?
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String

    func validate() throws {
        if let timeout, stopTimeout(timeout) == nil {
            throw ValidationError("--timeout: '\(timeout)' is neither seconds nor a duration (500ms, 30s, 1m)")
        }
    }

    var request: Lifecycle { .stop(instance: Instance(global), timeout: timeout.flatMap(stopTimeout), name: name) }
    func run() throws { _ = try request.perform() }
}

struct Suspend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suspend", abstract: "Freeze every process of a container.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String
    func run() throws { try RuntimeContext.runtime(global).setFrozen(name, true) }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Thaw a suspended container.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String
    func run() throws { try RuntimeContext.runtime(global).setFrozen(name, false) }
}

struct UBC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ubc",
        abstract: "Beancounters as OpenVZ's /proc/user_beancounters: held, maxheld, barrier, limit, failcnt.",
        discussion: """
            Units are OpenVZ's: pages (of this system's page size) for *pages, bytes for kmemsize, 1K blocks for \
            diskspace, counts for the rest; 9223372036854775807 is unlimited. -o json names the kernel source of \
            every figure and whether maxheld is the kernel's peak or the largest value berth saw.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: OutputOptions
    @Argument(help: "Container names (default: all running).", completion: Completion.containerName) var names: [String] = []

    /// One row of `-o json`: the container, the beancounter, its unit.
    struct Row: Encodable {
        var container: String
        var resource: String
        var unit: String
        var held: UInt64
        var maxheld: UInt64
        var barrier: UInt64
        var limit: UInt64
        var failcnt: UInt64
        var maxheldFrom: String
        var source: Beancounter.Sources
    }

    /// Why `ubc` needs root: what it reads is root's alone.
    static let needsRoot =
        "ubc reads root's container records (0600), the containers' processes (/proc/PID/fd, /proc/PID/status) "
        + "and network namespaces (sock_diag): run it as root"

    func run() throws {
        let runtime = try RuntimeContext.runtime(global)
        let known = runtime.state.names()
        for name in names where !known.contains(name) { throw CLIFailure("no container named '\(name)'") }
        var tables: [(name: String, counters: [Beancounter])] = []
        for name in known.sorted() where names.isEmpty || names.contains(name) {
            // Refused in words rather than shown as "not running" or with
            // rows it cannot fill (a stopped container of a state dir the
            // user owns needs no root).
            let record = runtime.state.load(name)
            if geteuid() != 0 && (record.map(runtime.isRunning) ?? runtime.state.recordForbidden(name)) {
                throw CLIFailure("\(name): \(UBC.needsRoot)")
            }
            guard let record, let counters = runtime.beancounters(record) else {
                if names.contains(name) { Console.error("\(name): not running (no beancounters)") }
                continue
            }
            tables.append((name, counters))
        }
        if format.output == .json {
            let rows = tables.flatMap { name, counters in
                counters.map { counter in
                    Row(
                        container: name, resource: counter.resource.rawValue, unit: counter.resource.unit.rawValue, held: counter.held,
                        maxheld: counter.maxheld, barrier: counter.barrier, limit: counter.limit, failcnt: counter.failcnt,
                        maxheldFrom: counter.peak.rawValue, source: counter.sources)
                }
            }
            print(try JSONOutput.encode(rows))
            return
        }
        print(BeancounterTable.render(tables), terminator: "")
    }
}

struct DiskQuotaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota",
        abstract: "Per-user and per-group disk quotas inside a container (resources.disk.userQuota): list them, or set one.",
        discussion: """
            berth quota NAME lists every user and group with use or limits inside; berth quota NAME set --user ID \
            --blocks N --inodes N sets one user's hard limits (--group ID: a group's), live. IDs are the container's \
            (mapped through its user namespace). --blocks counts 1 KiB blocks as setquota does, or takes a size \
            (512Mi); 0 is no limit. Run on the host: container root cannot set quotas itself.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: OutputOptions
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String
    @Argument(help: "set: set a user's or group's limits.") var action: String?
    @Option(help: ArgumentHelp("The user (the container's uid).", valueName: "uid")) var user: UInt32?
    @Option(help: ArgumentHelp("The group (the container's gid).", valueName: "gid")) var group: UInt32?
    @Option(help: ArgumentHelp("Space limit: 1 KiB blocks, or a size such as 512Mi; 0: none.", valueName: "n")) var blocks: String?
    @Option(help: ArgumentHelp("Inode limit; 0: none.", valueName: "n")) var inodes: UInt64?

    /// One row of `-o json`.
    struct Row: Encodable {
        var type: String
        var id: UInt32
        var hostID: UInt32
        var blocksLimitKiB: UInt64?
        var inodesLimit: UInt64?
        var usedBytes: UInt64
        var usedInodes: UInt64
    }

    /// --blocks as bytes (nil: no limit): a bare number counts 1 KiB blocks.
    static func bytes(blocks text: String) throws -> UInt64? {
        if let kib = UInt64(text) { return kib == 0 ? nil : ProjectQuota.bytes(kib: kib) }
        let size = try ByteSize(parsing: text)
        return size.bytes == 0 ? nil : size.bytes
    }

    func validate() throws {
        switch action {
        case nil:
            guard user == nil && group == nil && blocks == nil && inodes == nil else {
                throw ValidationError("--user, --group, --blocks and --inodes set a quota: berth quota \(name) set --user ID ...")
            }
        case "set":
            guard (user == nil) != (group == nil) else { throw ValidationError("give --user ID or --group ID") }
            guard blocks != nil || inodes != nil else { throw ValidationError("give --blocks, --inodes or both") }
        case let other?:
            throw ValidationError("unknown action '\(other)': berth quota NAME [set --user ID|--group ID --blocks N --inodes N]")
        }
    }

    func run() throws {
        let runtime = try RuntimeContext.runtime(global)
        if action == "set" {
            let kind: Quota.Kind = user != nil ? .user : .group
            let id = user ?? group ?? 0
            // A limit not given is kept.
            let held = try runtime.userQuotas(name).first { $0.kind == kind && $0.id == id }?.usage
            let space = try blocks.map { try DiskQuotaCommand.bytes(blocks: $0) } ?? held?.bytesLimit
            let files = inodes.map { $0 == 0 ? nil : $0 } ?? held?.inodesLimit
            try runtime.setUserQuota(name, kind: kind, id: id, bytes: space, inodes: files)
            return
        }
        let entries = try runtime.userQuotas(name)
        if format.output == .json {
            let rows = entries.map { entry in
                Row(
                    type: entry.kind.name, id: entry.id, hostID: entry.hostID,
                    blocksLimitKiB: entry.usage.bytesLimit.map { ProjectQuota.kib(bytes: $0) },
                    inodesLimit: entry.usage.inodesLimit, usedBytes: entry.usage.usedBytes, usedInodes: entry.usage.usedInodes)
            }
            print(try JSONOutput.encode(rows))
            return
        }
        let rows =
            [["TYPE", "ID", "USED", "LIMIT", "INODES", "INODE LIMIT"]]
            + entries.map { entry in
                [
                    entry.kind.name, "\(entry.id)", Table.size(entry.usage.usedBytes), entry.usage.bytesLimit.map { Table.size($0) } ?? "none",
                    "\(entry.usage.usedInodes)", entry.usage.inodesLimit.map(String.init) ?? "none",
                ]
            }
        print(Table.render(rows))
    }
}
