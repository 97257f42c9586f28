import ArgumentParser
import FoundationEssentials
import Engine
import Kernel
import Logging
import Manifest
import Model
import Netlink
import Reconcile
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// The CLI's side of the engine: manifests loaded, plans printed.
enum Reconciliation {
    static func reconciler(_ instance: Instance) throws -> Reconciler<LinuxHost> {
        // The runtime first: it sets up logging (journald, stderr), and a
        // logger made before that would print swift-log's default lines.
        let runtime = try RuntimeContext.runtime(instance)
        let logger = Logger(label: "berth")
        // BERTH_APPLY_WORKERS: creates and deletes carried out at once (1:
        // one after another); `berth-bench scale` compares the two.
        let workers = Instance.environment("BERTH_APPLY_WORKERS").flatMap { Int($0) }.map { max(1, $0) } ?? WorkerPool.defaultWidth
        return Reconciler(host: LinuxHost(runtime: runtime, logger: logger, parallelActions: workers), logger: logger)
    }

    /// The run dir's lock, held while apply plans and carries out. Apply
    /// changes the kernel: without root it is refused up front, in words
    /// (a dry run, like plan, goes on without the lock).
    ///
    /// While the agent's pass or another apply holds it, waits up to
    /// `timeout` (saying so once on stderr unless quiet): an apply made
    /// while the agent reconciles goes on once that pass ends.
    static func runLock(_ instance: Instance, dryRun: Bool, timeout: Interval) throws -> RunLock? {
        if geteuid() != 0 {
            if dryRun { return nil }
            throw CLIFailure("apply changes the kernel (namespaces, cgroups, links, nftables): run it as root")
        }
        try Syscall.makeDirectories(instance.runDir)
        return try RunLock(path: instance.runDir + "/berth.lock", waitMilliseconds: timeout.milliseconds) { holder in
            guard instance.verbosity != .quiet else { return }
            Console.error("note: waiting up to \(timeout) for the run lock: pid \(holder) holds it (another berth apply, or the agent's pass)")
        }
    }

    /// The run lock when it is free at once; nil when another process holds
    /// it, the run dir is not there yet (nothing is made before the
    /// manifests are found valid) or it cannot be taken: then `runLock`
    /// makes the dir, waits for the lock, or says why.
    static func runLockIfFree(_ instance: Instance) -> RunLock? {
        guard geteuid() == 0, Syscall.exists(instance.runDir) else { return nil }
        return try? RunLock(path: instance.runDir + "/berth.lock")
    }

    /// The manifests, resolved for `host`; invalid ones print every error
    /// (as JSON with -o json) and exit 1: nothing is planned or changed.
    ///
    /// With `runtime`, each container is also checked against the host's
    /// files (its init command and working directory in its root
    /// filesystem), before anything is created.
    static func desired(
        _ paths: [String], host: HostFacts, format: OutputFormat = .text, runtime: ContainerRuntime? = nil
    ) throws -> DesiredHost {
        try loaded(paths, host: host, format: format, runtime: runtime).desired
    }

    /// `desired(...)` and the manifest files it was read from.
    static func loaded(
        _ paths: [String], host: HostFacts, format: OutputFormat = .text, runtime: ContainerRuntime? = nil
    ) throws -> (desired: DesiredHost, files: [String]) {
        let outcome = ManifestPipeline.load(paths: paths, host: host, runtime: runtime)
        if format == .text, !ConsoleLog.quiet {
            for note in outcome.notes { Console.error("note: " + note) }
        }
        guard let desired = outcome.desired, outcome.errors.isEmpty else {
            if format == .json {
                let report = ValidationReport(
                    valid: false, host: host.name, files: outcome.files.count, documents: outcome.documentCount, errors: outcome.errors)
                print(try JSONOutput.encode(report))
            } else {
                Console.errors(outcome.errors)
            }
            throw CLIFailure("manifests have \(outcome.errors.count) error\(outcome.errors.count == 1 ? "" : "s"); nothing was planned or changed")
        }
        return (desired, outcome.files)
    }

    /// The plan, after refusing objects the manifests name that another
    /// source applied (each error at its manifest, with what to do).
    static func plan(_ reconciler: Reconciler<LinuxHost>, _ desired: DesiredHost, options: PlanOptions, format: OutputFormat) throws
        -> [Action]
    {
        let observed = reconciler.observe(desired)
        PhaseTimes.mark("observe")
        let conflicts = Planner.conflicts(desired: desired, observed: observed, options: options)
        guard conflicts.isEmpty else {
            let sources = locations(desired)
            let errors = conflicts.compactMap { conflict in
                sources[conflict.object].map {
                    ManifestError(
                        location: $0, fieldPath: "metadata.name", message: "\(conflict.object) belongs to source \(conflict.owner)",
                        hint: "apply it with that source (--source '\(conflict.owner)'), or pass --take-ownership to move it to this one")
                }
            }.sorted()
            try report(errors, desired: desired, format: format)
            throw CLIFailure(
                "\(conflicts.count) object\(conflicts.count == 1 ? "" : "s") of another source; nothing was planned or changed")
        }
        let actions = Planner.plan(desired: desired, observed: observed, options: options)
        let clashes = Planner.addressConflicts(desired: desired, observed: observed, actions: actions)
        guard clashes.isEmpty else {
            let sources = locations(desired)
            let errors = clashes.compactMap { clash in
                sources[.container(clash.container)].map {
                    ManifestError(
                        location: $0, fieldPath: clash.field, message: clash.description,
                        hint: "delete it first: apply with --prune if no manifest of its source names it any more, or berth stop \(clash.holder)")
                }
            }.sorted()
            try report(errors, desired: desired, format: format)
            throw CLIFailure(
                "\(clashes.count) address\(clashes.count == 1 ? "" : "es") held by another running container; nothing was planned or changed")
        }
        if format == .text, !ConsoleLog.quiet, let note = otherSourcesNote(desired, observed, options: options) {
            Console.error("note: " + note)
        }
        return actions
    }

    /// Where the manifests declare each object, for errors found after
    /// they were read.
    static func locations(_ desired: DesiredHost) -> [ObjectRef: SourceLocation] {
        Dictionary(
            desired.containers.map { (ObjectRef.container($0.metadata.name), $0.source) }
                + desired.networks.map { (ObjectRef.network($0.metadata.name), $0.source) },
            uniquingKeysWith: { first, _ in first })
    }

    /// Errors found after the manifests were read (what the host holds
    /// refuses them), each at its manifest.
    static func report(_ errors: [ManifestError], desired: DesiredHost, format: OutputFormat) throws {
        if format == .json {
            let report = ValidationReport(
                valid: false, host: desired.host.name, files: Set(errors.map(\.location.file)).count, documents: errors.count, errors: errors)
            print(try JSONOutput.encode(report))
        } else {
            for error in errors { Console.error(error.description) }
        }
    }

    /// `apply DIR --prune` of a source that names nothing prunes only what
    /// that source applied: when other sources hold objects, say so, so an
    /// empty plan is not read as "the host is empty".
    static func otherSourcesNote(_ desired: DesiredHost, _ observed: ObservedHost, options: PlanOptions) -> String? {
        guard options.prune, case .source(let source) = options.scope, desired.containers.isEmpty, desired.networks.isEmpty
        else { return nil }
        let others = observed.inventories.filter { $0.key != source && !$0.value.isEmpty }.sorted { $0.key < $1.key }
        guard !others.isEmpty else { return nil }
        let held = Inventory(
            source: "", containers: others.flatMap(\.value.containers), networks: others.flatMap(\.value.networks))
        let names = others.prefix(3).map(\.key).joined(separator: ", ") + (others.count > 3 ? " and \(others.count - 3) more" : "")
        return "these manifests name nothing; \(held.summary) belong to other sources (\(names)) and are left alone: "
            + "prune them with their own source, or with `berth apply --prune` and no path (the whole instance)"
    }

    /// Removing everything (`--prune` without manifests) is confirmed: on a
    /// terminal by typing yes, elsewhere only with `--yes`.
    static func confirmRemovingEverything(_ actions: [Action], instance: Instance, scope: PlanScope, yes: Bool) throws {
        guard !yes, !actions.isEmpty else { return }
        var containers = Set<String>()
        var networks = Set<String>()
        for action in actions {
            switch action.object {
            case .container(let name): containers.insert(name)
            case .network(let name): networks.insert(name)
            case .ruleset, .forwarding, .inventory: continue
            }
        }
        let (containerCount, networkCount) = (containers.count, networks.count)
        let what =
            "\(containerCount) container\(containerCount == 1 ? "" : "s") and \(networkCount) network\(networkCount == 1 ? "" : "s")"
        let whose: String
        switch scope {
        case .instance: whose = "berth owns in \(instance.stateDir)"
        case .source(let source): whose = "source \(source) applied"
        }
        guard isatty(STDIN_FILENO) == 1 else {
            throw CLIFailure("apply --prune without manifests removes \(what) \(whose); pass --yes to confirm (stdin is not a terminal)")
        }
        switch scope {
        case .instance: Console.error("This removes everything berth owns in this instance (state dir \(instance.stateDir)): \(what).")
        case .source(let source): Console.error("This removes everything source \(source) applied: \(what).")
        }
        Console.error("Type 'yes' to go on: ", newline: false)
        guard let answer = readLine(strippingNewline: true), answer.trimmingSpaces == "yes" else {
            throw CLIFailure("not confirmed; nothing was changed")
        }
    }
}

/// Which source's inventory a plan, apply or drift works on.
struct SourceOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The source these manifests are (default: their paths, made absolute). Only its own objects are pruned or shown as orphans.",
            valueName: "name"))
    var source: String?

    func validate() throws { try SourceOptions.check(source) }

    static func check(_ source: String?) throws {
        if let source, let problem = Inventory.checkSourceName(source) { throw ValidationError("--source: \(problem)") }
    }

    /// The scope: the named source, the source the paths make, or (no
    /// paths, no --source) the whole instance.
    static func scope(source: String?, paths: [String]) -> PlanScope {
        if let source { return .source(source) }
        if paths.isEmpty { return .instance }
        return .source(Inventory.sourceName(paths: paths.map(SourceOptions.absolute)))
    }

    /// The path made absolute, symbolic links resolved (as given when it cannot be).
    static func absolute(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// The manifests a plan or apply works from: paths, or none at all with
/// `--prune` (the empty set: everything berth owns goes).
/// The capacity check (vzmemcheck, vzcpucheck): how far the containers'
/// limits may add up past the host's memory and CPUs, and whether past
/// that is an error.
struct CapacityOptions: ParsableArguments {
    @OptionGroup var overcommit: OvercommitOption
    @Flag(help: "Refuse to go on when the host is overcommitted past those ratios (else a warning).") var strict = false

    /// Warns on stderr, or with --strict fails, when the host is overcommitted.
    static func check(_ desired: DesiredHost, overcommit: String, strict: Bool) throws {
        let (memory, cpus) = HostIdentity.capacity()
        let ratios = try OvercommitOption.ratios(overcommit)
        let warnings = CapacityCheck.warnings(desired, host: HostCapacity(memoryBytes: memory, cpus: cpus), ratios: ratios)
        for warning in warnings { Console.error((strict ? "error: " : "warning: ") + warning.description) }
        if strict && !warnings.isEmpty {
            throw CLIFailure("the host is overcommitted past --overcommit \(overcommit) (--strict); nothing was planned or changed")
        }
    }
}

/// The host's overcommit ratios: `plan` and `apply` warn past them, the
/// agent says once that the host is overcommitted (and again when it no longer is).
struct OvercommitOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Overcommit ratios of this host (or BERTH_OVERCOMMIT; default memory=1,cpu=4): berth warns past them.",
            valueName: "memory=R,cpu=R"))
    var overcommit: String = OvercommitOption.defaultRatios

    /// BERTH_OVERCOMMIT, or berth's own ratios.
    static var defaultRatios: String { Instance.environment("BERTH_OVERCOMMIT") ?? OvercommitRatios.defaults.description }

    func validate() throws { _ = try ratios() }

    func ratios() throws -> OvercommitRatios { try OvercommitOption.ratios(overcommit) }

    static func ratios(_ text: String) throws -> OvercommitRatios {
        do { return try OvercommitRatios(parsing: text) } catch { throw ValidationError("--overcommit: \(error.message)") }
    }
}

struct ManifestArguments: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            "Manifest files or directories. None with --prune: remove everything berth owns in this instance.", valueName: "path"),
        completion: Completion.manifests)
    var paths: [String] = []

    static func check(paths: [String], prune: Bool) throws {
        if paths.isEmpty && !prune {
            throw ValidationError("Missing manifest files or directories (or --prune alone, to remove everything berth owns).")
        }
    }

    /// The manifests at `paths`; none (with --prune): the empty set.
    static func loaded(_ paths: [String], host: HostFacts, format: OutputFormat, runtime: ContainerRuntime?) throws -> (
        desired: DesiredHost, files: [String]
    ) {
        if paths.isEmpty { return (DesiredHost(host: host, networks: [], containers: []), []) }
        return try Reconciliation.loaded(paths, host: host, format: format, runtime: runtime)
    }
}

/// What plan, apply and drift share, as plain values: what ArgumentParser
/// parsed, or the fast path (FastPath) for their plain forms. Both run
/// through the same code.
struct ManifestRequest: Equatable {
    var instance = Instance()
    /// --host, --host-label (repeatable), --host-labels-file.
    var host: String?
    var hostLabels: [String] = []
    var hostLabelsFile = HostOptions.defaultLabelsFile
    var output = OutputFormat.text
    var source: String?
    var paths: [String] = []

    init() {}
    init(global: GlobalOptions, host: HostOptions, format: OutputOptions, source: SourceOptions, paths: [String]) {
        instance = Instance(global)
        self.host = host.host
        hostLabels = host.hostLabel
        hostLabelsFile = host.hostLabelsFile
        output = format.output
        self.source = source.source
        self.paths = paths
    }

    func facts() throws -> HostFacts { try HostOptions.facts(host: host, labels: hostLabels, file: hostLabelsFile) }
    var scope: PlanScope { SourceOptions.scope(source: source, paths: paths) }

    /// The checks ArgumentParser makes of GlobalOptions and SourceOptions
    /// (the fast path hands a command line that fails one to ArgumentParser,
    /// which reports it in its words).
    func validate() throws {
        try GlobalOptions.check(cgroupDriver: instance.cgroupDriver)
        try SourceOptions.check(source)
    }
}

/// The capacity check's options (CapacityOptions) as values.
struct CapacityRequest: Equatable {
    var overcommit = OvercommitOption.defaultRatios
    var strict = false

    init() {}
    init(_ options: CapacityOptions) {
        overcommit = options.overcommit.overcommit
        strict = options.strict
    }

    func validate() throws { _ = try OvercommitOption.ratios(overcommit) }
    func check(_ desired: DesiredHost) throws { try CapacityOptions.check(desired, overcommit: overcommit, strict: strict) }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change.",
        discussion: "Exit codes with --detailed-exitcode: 0 nothing to do, 2 changes, 1 error.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var format: OutputOptions
    @Flag(help: "Exit 2 when there are changes, 0 when there are none.") var detailedExitcode = false
    @Flag(help: "Plan deleting this source's objects that no manifest names any more (else they show as orphans).") var prune = false
    @Flag(help: "Plan moving objects another source applied to this one (else they are refused).") var takeOwnership = false
    @OptionGroup var sourceOptions: SourceOptions
    @OptionGroup var capacity: CapacityOptions
    @Option(
        name: [.customLong("out"), .customLong("out", withSingleDash: true)],
        help: ArgumentHelp("Also save the plan, for berth apply FILE (which refuses it once anything changed).", valueName: "file"))
    var out: String?
    @OptionGroup var manifests: ManifestArguments

    func validate() throws { try ManifestArguments.check(paths: manifests.paths, prune: prune) }

    var request: PlanRequest {
        PlanRequest(
            manifests: ManifestRequest(global: global, host: hostOptions, format: format, source: sourceOptions, paths: manifests.paths),
            detailedExitcode: detailedExitcode, prune: prune, takeOwnership: takeOwnership, capacity: CapacityRequest(capacity), out: out)
    }

    func run() throws { try request.perform() }
}

/// `berth plan`, as values.
struct PlanRequest: Equatable {
    var manifests = ManifestRequest()
    var detailedExitcode = false
    var prune = false
    var takeOwnership = false
    var capacity = CapacityRequest()
    var out: String?

    func validate() throws {
        try manifests.validate()
        try capacity.validate()
        try ManifestArguments.check(paths: manifests.paths, prune: prune)
    }

    func perform() throws {
        PhaseTimes.mark("arguments")
        defer { PhaseTimes.flush() }
        let format = manifests.output
        let reconciler = try Reconciliation.reconciler(manifests.instance)
        PhaseTimes.mark("runtime set-up")
        // The host's links and the records, read while the manifests load.
        reconciler.host.observeAhead()
        defer { reconciler.host.stopObservingAhead() }
        let host = try manifests.facts()
        let (desired, files) = try ManifestArguments.loaded(manifests.paths, host: host, format: format, runtime: reconciler.runtime)
        PhaseTimes.mark("manifest load")
        try capacity.check(desired)
        let options = PlanOptions(prune: prune, scope: manifests.scope, takeOwnership: takeOwnership)
        let actions = try Reconciliation.plan(reconciler, desired, options: options, format: format)
        PhaseTimes.mark("plan")
        try PlanOutput.printPlan(actions, format: format)
        PhaseTimes.mark("output")
        if let out {
            let saved = SavedPlan(
                created: Events.iso8601(microseconds: Events.now()), paths: manifests.paths.map(Events.absolute), host: host, prune: prune,
                source: SavedPlan.source(options.scope), takeOwnership: takeOwnership,
                manifestsFingerprint: try SavedPlan.fingerprint(manifests: files), planFingerprint: try SavedPlan.fingerprint(actions: actions),
                actions: actions.map { PlanOutput.ActionJSON($0) })
            try saved.write(to: out)
            if format == .text { print("Saved the plan to \(out): berth apply \(out) carries out exactly these actions.") }
        }
        if detailedExitcode && !actions.isEmpty { throw ExitCode(2) }
    }
}

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Make the host match the manifests.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var format: OutputOptions
    @Flag(help: "Print the plan and change nothing.") var dryRun = false
    @Flag(help: "Delete this source's objects that no manifest names any more (else they are left, as orphans).") var prune = false
    @Flag(help: "Move objects another source applied to this source's inventory (else they are refused).") var takeOwnership = false
    @OptionGroup var sourceOptions: SourceOptions
    @Flag(help: "Allow --prune with manifests that name no container.") var allowEmpty = false
    @Flag(name: [.customShort("y"), .long], help: "Remove everything without asking (--prune without manifests).") var yes = false
    @Flag(help: "Restart containers whose changes need a restart.") var restart = false
    @Flag(help: "Make containers whose root filesystem changed again (their private layer goes unless persistent).")
    var replace = false
    @OptionGroup var capacity: CapacityOptions
    @Option(
        help: ArgumentHelp(
            "How long to wait while another berth apply or the agent's pass holds the run lock (0s: not at all).",
            valueName: "duration"))
    var lockTimeout: String = ApplyRequest.defaultLockTimeout
    @OptionGroup var manifests: ManifestArguments

    func validate() throws {
        try ManifestArguments.check(paths: manifests.paths, prune: prune)
        _ = try ApplyRequest.lockWait(lockTimeout)
    }

    var request: ApplyRequest {
        ApplyRequest(
            manifests: ManifestRequest(global: global, host: hostOptions, format: format, source: sourceOptions, paths: manifests.paths),
            dryRun: dryRun, prune: prune, takeOwnership: takeOwnership, allowEmpty: allowEmpty, yes: yes, restart: restart, replace: replace,
            capacity: CapacityRequest(capacity), lockTimeout: lockTimeout)
    }

    func run() throws { try request.perform() }
}

/// `berth apply`, as values.
struct ApplyRequest: Equatable {
    static let defaultLockTimeout = "30s"

    var manifests = ManifestRequest()
    var dryRun = false
    var prune = false
    var takeOwnership = false
    var allowEmpty = false
    var yes = false
    var restart = false
    var replace = false
    var capacity = CapacityRequest()
    var lockTimeout = ApplyRequest.defaultLockTimeout

    func validate() throws {
        try manifests.validate()
        try capacity.validate()
        try ManifestArguments.check(paths: manifests.paths, prune: prune)
        _ = try ApplyRequest.lockWait(lockTimeout)
    }

    /// --lock-timeout, parsed.
    static func lockWait(_ text: String) throws -> Interval {
        do {
            return try Interval(parsing: text)
        } catch {
            throw ValidationError("--lock-timeout: \(error.message)")
        }
    }

    func perform() throws {
        PhaseTimes.mark("arguments")
        defer { PhaseTimes.flush() }
        let paths = manifests.paths
        let format = manifests.output
        if let saved = SavedPlan.read(paths) { return try apply(saved, file: paths[0]) }
        let reconciler = try Reconciliation.reconciler(manifests.instance)
        PhaseTimes.mark("runtime set-up")
        let everything = paths.isEmpty
        // The run lock at once when nobody holds it (not for the prompt of
        // an apply of everything, which comes before the lock): the host's
        // links and the records are then read while the manifests load, as
        // plan and drift do, and nothing can change them in between. When
        // another holds it, the manifests load first, as ever, and an
        // invalid one is said without waiting for the lock.
        let early = everything || dryRun ? nil : Reconciliation.runLockIfFree(manifests.instance)
        if early != nil { reconciler.host.observeAhead() }
        defer { if early != nil { reconciler.host.stopObservingAhead() } }
        let desired = try ManifestArguments.loaded(paths, host: try manifests.facts(), format: format, runtime: reconciler.runtime).desired
        PhaseTimes.mark("manifest load")
        try capacity.check(desired)
        if prune && !everything && desired.containers.isEmpty && !allowEmpty {
            throw CLIFailure("refusing to prune with no containers in the manifests (pass --allow-empty if that is meant)")
        }
        let options = PlanOptions(prune: prune, scope: manifests.scope, takeOwnership: takeOwnership)
        if everything && !dryRun {
            // Asked before the run lock is taken: a prompt never holds up the agent.
            try Reconciliation.confirmRemovingEverything(
                Reconciliation.plan(reconciler, desired, options: options, format: format), instance: manifests.instance,
                scope: options.scope, yes: yes)
        }
        let lock = try early ?? Reconciliation.runLock(manifests.instance, dryRun: dryRun, timeout: try ApplyRequest.lockWait(lockTimeout))
        defer { withExtendedLifetime(lock) {} }
        PhaseTimes.mark("state lock")
        let actions = try Reconciliation.plan(reconciler, desired, options: options, format: format)
        PhaseTimes.mark("plan")
        if dryRun {
            try PlanOutput.printPlan(actions, format: format)
            return
        }
        try execute(actions, reconciler: reconciler, everything: everything)
    }

    /// `berth apply FILE`: the saved plan's actions, when planning now from
    /// the same manifests and host gives exactly them.
    func apply(_ saved: SavedPlan, file: String) throws {
        if prune || allowEmpty || yes || dryRun || takeOwnership || manifests.source != nil || manifests.host != nil
            || !manifests.hostLabels.isEmpty
        {
            throw ValidationError(
                "a saved plan is applied as it was made: no --prune, --allow-empty, --yes, --dry-run, --take-ownership, --source or --host options"
            )
        }
        let reconciler = try Reconciliation.reconciler(manifests.instance)
        let (desired, files) =
            saved.paths.isEmpty
            ? (DesiredHost(host: saved.host, networks: [], containers: []), [])
            : try Reconciliation.loaded(saved.paths, host: saved.host, format: manifests.output, runtime: reconciler.runtime)
        let lock = try Reconciliation.runLock(manifests.instance, dryRun: false, timeout: try ApplyRequest.lockWait(lockTimeout))
        defer { withExtendedLifetime(lock) {} }
        let options = PlanOptions(prune: saved.prune, scope: saved.scope, takeOwnership: saved.takeOwnership)
        let actions = try Reconciliation.plan(reconciler, desired, options: options, format: manifests.output)
        if let refusal = try saved.refusal(manifests: files, now: actions, file: file) { throw CLIFailure(refusal) }
        try execute(actions, reconciler: reconciler, everything: saved.paths.isEmpty)
    }

    /// Carries out `actions`: one line per action as it finishes, then a total.
    func execute(_ actions: [Action], reconciler: Reconciler<LinuxHost>, everything: Bool) throws {
        // Once the outcome is printed (failed or not): what this apply, or
        // one that crashed, left in the trash is removed by a detached
        // emptier; apply does not wait for it.
        defer { Reconciliation.startTrashEmptier(reconciler.host.runtime) }
        let text = manifests.output == .text
        let verbosity = manifests.instance.verbosity
        // Each outcome is printed once, here: not again as a log line.
        ConsoleLog.render([.applied])
        let progress = ProgressLine(total: actions.count, enabled: text && verbosity != .quiet)
        let began = MonotonicClock.milliseconds()
        let outcomes = reconciler.apply(
            actions, options: ApplyOptions(restart: restart, replace: replace),
            starting: { action in progress.show("\(action.kind.rawValue) \(action.object)") }
        ) { outcome in
            progress.finished()
            guard text, verbosity != .quiet || outcome.result.failed else { return }
            let lines = PlanOutput.lines(outcome.action, suffix: ": \(outcome.result)")
            for line in lines { print(line) }
        }
        PhaseTimes.mark("the other actions (inventory record)")
        let failures = outcomes.filter(\.result.failed).count
        if !text {
            print(try JSONOutput.encode(outcomes.map { PlanOutput.ActionJSON($0.action, outcome: $0, began: began) }))
        } else if actions.isEmpty {
            print(everything ? "No changes: berth owns nothing in this instance." : "No changes: the host matches the manifests.")
        } else {
            print(PlanOutput.totals(outcomes.map { ($0.action, $0.result) }, planned: false))
        }
        PhaseTimes.mark("output")
        if failures > 0 { throw ExitCode(1) }
    }
}

struct Drift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Report differences between the manifests and the kernel (read-only).",
        discussion: "Exit codes with --detailed-exitcode: 0 no drift, 2 drift, 1 error.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var format: OutputOptions
    @Flag(help: "Exit 2 when there is drift, 0 when there is none.") var detailedExitcode = false
    @OptionGroup var sourceOptions: SourceOptions
    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path"), completion: Completion.manifests) var paths: [String]

    var request: DriftRequest {
        DriftRequest(
            manifests: ManifestRequest(global: global, host: hostOptions, format: format, source: sourceOptions, paths: paths),
            detailedExitcode: detailedExitcode)
    }

    func run() throws { try request.perform() }
}

/// `berth drift`, as values.
struct DriftRequest: Equatable {
    var manifests = ManifestRequest()
    var detailedExitcode = false

    /// Drift needs a path (ArgumentParser's "missing expected argument").
    func validate() throws {
        try manifests.validate()
        if manifests.paths.isEmpty { throw ValidationError("Missing expected argument '<path> ...'") }
    }

    func perform() throws {
        PhaseTimes.mark("arguments")
        defer { PhaseTimes.flush() }
        // The runtime first, so that the host's links and the records are
        // read while the manifests load (its error, if any, still comes
        // after theirs).
        let early = Result { try Reconciliation.reconciler(manifests.instance) }
        if case .success(let reconciler) = early { reconciler.host.observeAhead() }
        defer { if case .success(let reconciler) = early { reconciler.host.stopObservingAhead() } }
        let desired = try Reconciliation.desired(manifests.paths, host: try manifests.facts(), format: manifests.output)
        PhaseTimes.mark("manifest load")
        let drifts = try early.get().drift(desired, options: PlanOptions(scope: manifests.scope))
        PhaseTimes.mark("observe and diff")
        try PlanOutput.printDrift(drifts, format: manifests.output)
        PhaseTimes.mark("output")
        if detailedExitcode && !drifts.isEmpty { throw ExitCode(2) }
    }
}
