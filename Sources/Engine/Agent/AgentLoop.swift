import FoundationEssentials
import Kernel
import Logging
import Netlink
import Model
import Reconcile
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// `berth agent`: reconcile at start, after manifest changes (inotify,
/// debounced), on an interval (drift made outside berth), on SIGHUP; stop on
/// SIGTERM/SIGINT after the current pass, leaving containers running. The
/// run lock is held during a pass only, so `berth apply` can run in between.
public final class AgentLoop {
    public struct Configuration: Sendable {
        /// The directory the manifests are read from (the checkout, or a
        /// directory inside it, with `git`).
        public var manifests: String
        /// A git checkout to follow (fetch + check out the upstream before each pass).
        public var git: String?
        public var interval: Interval
        /// Delete what this source applied that no manifest names any more.
        public var prune: Bool
        /// The source whose inventory the agent keeps (its manifests directory).
        public var source: String
        public var host: HostFacts
        public var paths: RuntimePaths

        public init(
            manifests: String, git: String?, interval: Interval, prune: Bool, source: String, host: HostFacts, paths: RuntimePaths
        ) {
            self.manifests = manifests
            self.git = git
            self.interval = interval
            self.prune = prune
            self.source = source
            self.host = host
            self.paths = paths
        }

        /// Console logs over this size are rotated (checked every 2 s).
        public var consoleLogs = ConsoleLogFiles.Policy()
        /// How far the containers' limits may add up past the host's memory
        /// and CPUs before the agent says the host is overcommitted.
        public var overcommit = OvercommitRatios.defaults
        /// The command line of the trash emptier started after a pass that
        /// left something in the trash (nil: the trash is left for apply).
        public var trashEmptier: [String]?

        var lockPath: String { paths.runDirectory.string + "/berth.lock" }
        var appliedCommitPath: String { paths.stateDirectory.string + "/agent/applied-commit" }
    }

    let configuration: Configuration
    let cgroups: any CgroupDriver
    let notify: (String) -> Void
    var logger: Logger
    let checkout: GitCheckout?
    var schedule: AgentSchedule
    var backoff = Backoff()
    var restartBackoff = RestartBackoff()
    /// One runtime for every pass (its state store keeps decoded records
    /// during a pass, forgotten between passes);
    /// each pass's engine logs with the pass's metadata (the commit).
    let runtime: ContainerRuntime
    var reconciler: Reconciler<LinuxHost> { Reconciler(runtime: runtime.with(logger: logger), logger: logger) }
    /// Inits seen ended (name and pid), so each exit makes one pass.
    var seenExits: Set<String> = []
    var passes = 0
    var reportedDrifts: Set<String> = []
    var reportedPending: Set<String> = []
    var reportedInvalid: String?
    /// The git failure or refusal last reported (said once, until it clears).
    var reportedGitProblem: String?
    var reportedConflicts: [OwnershipConflict] = []
    var reportedAddressConflicts: [AddressConflict] = []
    /// The resources last reported overcommitted (said once, until they clear).
    var overcommitAlarm = OvercommitAlarm()
    var lockHolderReported: String?
    var appliedCommit: String?
    /// A pidfd per running container's init: readable when it exits.
    var watched: [String: PidFD] = [:]
    /// Trash emptiers this agent started and has not reaped yet.
    var emptiers: [pid_t] = []

    /// How often console logs are checked against their cap: the kernel
    /// appends them for the inits, with no process of berth's in between,
    /// so a log can pass its cap by what its container writes in this time.
    static let consoleCheckMilliseconds: UInt64 = 2000

    /// `notify` is sd_notify (a no-op without a supervisor);
    /// `watchdogMilliseconds` the unit's WatchdogSec when systemd asks for pings.
    public init(
        configuration: Configuration, cgroups: any CgroupDriver, logger: Logger, watchdogMilliseconds: UInt64?,
        notify: @escaping (String) -> Void
    ) throws {
        self.configuration = configuration
        self.cgroups = cgroups
        self.logger = logger
        self.notify = notify
        runtime = ContainerRuntime(paths: configuration.paths, cgroups: cgroups, logger: logger)
        checkout = try configuration.git.map { directory throws(GitCheckout.Failure) in try GitCheckout(directory: directory) }
        schedule = AgentSchedule(
            interval: configuration.interval.milliseconds, watchdogPeriod: watchdogMilliseconds, now: MonotonicClock.milliseconds())
        appliedCommit = (try? Syscall.readFile(configuration.appliedCommitPath, limit: 128)).map {
            String(decoding: $0, as: UTF8.self).trimmingWhitespace
        }
    }

    /// Runs until SIGTERM or SIGINT.
    public func run() throws {
        // One pidfd per running container: the soft descriptor limit (1024 by
        // default) goes up to the hard one.
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let signals = try SignalPipe([SIGHUP, SIGTERM, SIGINT])
        let watcher = try ManifestWatcher(directory: configuration.manifests)
        try FileManager.default.createDirectory(atPath: configuration.paths.runDirectory.string, withIntermediateDirectories: true)
        if let commit = appliedCommit { logger[metadataKey: "commit"] = "\(commit)" }
        logger.info(
            "agent started",
            metadata: [
                "manifests": "\(watcher.directory)", "interval": "\(configuration.interval)", "git": "\(configuration.git ?? "")",
                "pid": "\(getpid())",
            ])
        if !watcher.isWatching { logger.warning("manifests directory is missing; watching for it", metadata: ["manifests": "\(watcher.directory)"]) }
        let quotaWarnings = listenToQuotaWarnings()
        var stopping = false
        var nextConsoleCheck: UInt64 = 0
        while !stopping {
            let now = MonotonicClock.milliseconds()
            if schedule.watchdogDue(at: now) { notify("WATCHDOG=1") }
            if now >= nextConsoleCheck {
                runtime.rotateConsoleLogs(configuration.consoleLogs)
                runtime.keepLogRelays()
                nextConsoleCheck = now + AgentLoop.consoleCheckMilliseconds
            }
            if let trigger = schedule.duePass(at: now, backoffRetry: nextRetry(now), isFirst: passes == 0) {
                if !watcher.isWatching { watcher.arm() }
                if let summary = pass(trigger) {
                    passes += 1
                    schedule.passFinished(at: MonotonicClock.milliseconds())
                    notify((passes == 1 ? "READY=1\n" : "") + "STATUS=" + summary.status(at: AgentLoop.clock()))
                    // Idle between passes: the decoded records go (at 1000
                    // containers their table is a few MiB of the agent's
                    // resident memory; a pass decodes them again in about
                    // as long as it reads them: berth-bench reconcile).
                    runtime.state.forgetDecoded()
                    // libnftables too (a network's table is listed each
                    // pass): opened again by the next pass, ~1 ms.
                    NFTables.closeIdle()
                    Syscall.releaseFreedMemory()
                    // What the pass deleted is removed off the pass, by a
                    // detached emptier (Trash); the next pass does not wait.
                    if let arguments = configuration.trashEmptier, let pid = runtime.trash.startEmptier(arguments) {
                        emptiers.append(pid)
                    }
                } else {
                    schedule.lockRetryAt = MonotonicClock.milliseconds() + 1000
                }
            }
            let timeout = min(
                schedule.timeout(at: MonotonicClock.milliseconds(), backoffRetry: nextRetry(MonotonicClock.milliseconds())),
                Int32(AgentLoop.consoleCheckMilliseconds))
            let inits = watched.sorted { $0.key < $1.key }
            let listenerFDs = quotaWarnings.map { [$0.listener.fd] } ?? []
            let ready = try Syscall.pollReadable(
                [signals.fd, watcher.fd] + inits.map(\.value.fd) + listenerFDs, timeoutMilliseconds: timeout)
            if let quotaWarnings, ready.last == true { countQuotaWarnings(quotaWarnings.listener) }
            for (index, (name, handle)) in inits.enumerated() where ready[2 + index] {
                // Our child when this agent started it: its exit code is kept.
                if let status = Reaper.poll(handle.pid) {
                    try? runtime.with(logger: logger).recordExit(name, code: Reaper.exitCode(status))
                } else {
                    logger.notice("container exited", metadata: ["container": "\(name)", "pid": "\(handle.pid)"])
                }
                watched[name] = nil
                schedule.containerExited = true
            }
            emptiers.removeAll { Reaper.poll($0) != nil }
            for signal in signals.drain() {
                if signal == SIGHUP {
                    logger.info("reload requested (SIGHUP)")
                    schedule.signalled = true
                } else {
                    stopping = true
                }
            }
            if try watcher.changes() { schedule.debouncer.note(at: MonotonicClock.milliseconds()) }
        }
        withExtendedLifetime(quotaWarnings) {}
        logger.info("agent stopping", metadata: ["passes": "\(passes)"])
        notify("STOPPING=1\nSTATUS=stopping; containers keep running")
    }

    /// One pass under the run lock; nil when another berth holds the lock.
    func pass(_ trigger: PassTrigger) -> PassSummary? {
        let lock: RunLock
        do {
            lock = try RunLock(path: configuration.lockPath)
        } catch {
            let holder = (error as? RunLock.Held)?.holder ?? "?"
            if lockHolderReported != holder {
                logger.notice("waiting for lock", metadata: ["holder": "\(holder)", "error": "\(error)"])
                lockHolderReported = holder
            }
            return nil
        }
        lockHolderReported = nil
        defer { withExtendedLifetime(lock) {} }
        var summary = PassSummary(trigger: trigger)
        let started = MonotonicClock.milliseconds()
        defer {
            // For metrics (berth metrics, /metrics): what this pass did.
            let record = AgentPassRecord(
                finished: WallClock.seconds(), durationSeconds: Double(MonotonicClock.milliseconds() - started) / 1000,
                drifts: summary.drifts, changes: summary.changes, failures: summary.failures, passes: passes + 1)
            try? record.save(configuration.paths)
        }
        if let checkout { summary.commit = followCheckout(checkout) ?? appliedCommit }
        let now = MonotonicClock.milliseconds()
        let outcome = ManifestPipeline.load(paths: [configuration.manifests], host: configuration.host, runtime: runtime)
        var invalid: [String] = outcome.errors.map(\.description)
        if outcome.desired != nil && invalid.isEmpty && configuration.prune && outcome.desired?.containers.isEmpty == true {
            invalid = ["\(configuration.manifests): no containers, refusing to prune every container"]
        }
        guard let desired = outcome.desired, invalid.isEmpty else {
            summary.invalid = "\(invalid.count) error\(invalid.count == 1 ? "" : "s"): \(invalid.first ?? "no manifests")"
            reportInvalid(invalid)
            backoff.settle(attempted: [], at: now)
            return summary
        }
        if reportedInvalid != nil {
            reportedInvalid = nil
            logger.notice("manifests valid again", metadata: ["manifests": "\(configuration.manifests)"])
        }
        summary.containers = desired.containers.count
        let outcomes = reconcile(desired, summary: &summary, now: now)
        watchInits()
        reportBeancounterFailures()
        reportCapacity(desired)
        summary.changes = outcomes.filter(\.changedHost).count
        summary.failures = outcomes.filter(\.result.failed).count
        if let commit = summary.commit, commit != appliedCommit { record(commit) }
        let level: Logger.Level = summary.changes + summary.failures > 0 || trigger == .start || trigger == .signal ? .info : .debug
        logger.log(
            level: level, "agent reconciled",
            metadata: [
                "trigger": "\(trigger.rawValue)", "containers": "\(summary.containers)", "changes": "\(summary.changes)",
                "failures": "\(summary.failures)", "backing_off": "\(summary.backingOff)",
            ])
        return summary
    }

    /// The quota warnings of VFS_DQUOT, with the lock that tells `berth ubc`
    /// they are being counted; nil (said once) where the kernel sends none
    /// (no CONFIG_QUOTA_NETLINK_INTERFACE, or no quota support at all).
    func listenToQuotaWarnings() -> (listener: QuotaWarningListener, lock: RunLock)? {
        do {
            let listener = try QuotaWarningListener()
            // Readable by all: a non-root `berth ubc` asks whether it is held.
            let lock = try RunLock(path: runtime.quotaListenerLockPath, mode: 0o644)
            logger.debug("counting quota warnings", metadata: ["family": "\(listener.family.id)"])
            return (listener, lock)
        } catch {
            logger.notice(
                "disk quota refusals not counted",
                metadata: ["error": "no quota warnings of \(QuotaWarning.familyName) here: \(error)"])
            return nil
        }
    }

    /// Counts the queued quota warnings for the containers they name, and
    /// reports the failcnts that rose at once (not at the next pass).
    func countQuotaWarnings(_ listener: QuotaWarningListener) {
        let overruns = listener.overruns
        let (warnings, errors) = listener.drain()
        for error in errors.prefix(3) {
            logger.warning("disk quota refusals not counted", metadata: ["error": "a quota warning not understood: \(error)"])
        }
        if listener.overruns > overruns {
            logger.warning(
                "disk quota refusals not counted",
                metadata: ["error": "\(listener.overruns - overruns) datagrams of quota warnings lost (socket full)"])
        }
        let counted = runtime.countQuotaWarnings(warnings)
        if !counted.isEmpty { reportBeancounterFailures(only: counted) }
    }

    /// One event per beancounter whose failcnt rose since it was last
    /// reported: a limit refused a running container something.
    func reportBeancounterFailures(only names: Set<String>? = nil) {
        for name in runtime.state.names() where names?.contains(name) ?? true {
            guard let record = runtime.state.load(name), let rows = runtime.beancounters(record) else { continue }
            for failure in runtime.risenFailcnts(record, rows) {
                logger.warning(
                    "beancounter limit refused",
                    metadata: [
                        "container": "\(failure.container)", "resource": "\(failure.resource.rawValue)", "failcnt": "\(failure.failcnt)",
                        "previous": "\(failure.previous)",
                    ])
            }
        }
    }

    /// The capacity check of `plan` (vzmemcheck, vzcpucheck) on every pass:
    /// one event when the host becomes overcommitted, one when it is not any more.
    func reportCapacity(_ desired: DesiredHost) {
        let (memory, cpus) = HostIdentity.capacity()
        let ratios = configuration.overcommit
        let warnings = CapacityCheck.warnings(desired, host: HostCapacity(memoryBytes: memory, cpus: cpus), ratios: ratios)
        for change in overcommitAlarm.update(warnings, ratios: ratios) {
            switch change {
            case .overcommitted(let warning):
                logger.warning("host overcommitted", metadata: AgentLoop.metadata(warning))
            case .cleared(let resource, let allowed):
                logger.notice(
                    "host no longer overcommitted",
                    metadata: ["resource": "\(resource.rawValue)", "allowed": "\(CapacityWarning.ratioText(allowed))"])
            }
        }
    }

    /// An overcommit warning's event fields, amounts as a manifest writes them.
    static func metadata(_ warning: CapacityWarning) -> Logger.Metadata {
        [
            "resource": "\(warning.resource.rawValue)", "committed": "\(warning.amount(warning.committed))",
            "capacity": "\(warning.amount(warning.capacity))", "ratio": "\(CapacityWarning.ratioText(warning.ratio))",
            "allowed": "\(CapacityWarning.ratioText(warning.allowedRatio))",
            "largest": "\(warning.largest.map { "\($0.name) \(warning.amount($0.amount))" }.joined(separator: ", "))",
            "unlimited": "\(warning.unlimited.joined(separator: ", "))",
        ]
    }

    /// The earliest time a failed object or a waiting restart is due.
    func nextRetry(_ now: UInt64) -> UInt64? {
        [backoff.nextRetry, restartBackoff.nextRetry].compactMap { $0 }.min()
    }

    /// Observe, report new drift, plan, leave out what backs off (failures,
    /// restarts of an init that keeps ending) or was already reported as
    /// pending a restart, apply, and book the back-off.
    func reconcile(_ desired: DesiredHost, summary: inout PassSummary, now: UInt64) -> [Outcome] {
        let reconciler = self.reconciler
        let observed = reconciler.observe(desired)
        let options = PlanOptions(prune: configuration.prune, scope: .source(configuration.source))
        // Objects of another source are left out of the plan; said once.
        let conflicts = Planner.conflicts(desired: desired, observed: observed, options: options)
        if conflicts != reportedConflicts {
            for conflict in conflicts {
                logger.error(
                    "object of another source",
                    metadata: ["object": "\(conflict.object)", "owner": "\(conflict.owner)", "source": "\(configuration.source)"])
            }
            reportedConflicts = conflicts
        }
        let drifts = Planner.drift(desired: desired, observed: observed, options: options).filter { $0.origin == .drift }
        summary.drifts = drifts.count
        let driftKeys = drifts.map { "\($0.object) \($0.field) \($0.observed) \($0.desired)" }
        reconciler.log(zip(drifts, driftKeys).filter { !reportedDrifts.contains($0.1) }.map(\.0))
        reportedDrifts = Set(driftKeys)

        let fingerprints = AgentLoop.fingerprints(desired)
        var actions: [Action] = []
        var waiting: Set<String> = []
        var pending: Set<String> = []
        let planned = Planner.plan(desired: desired, observed: observed, options: options)
        // A container whose address another running container holds is
        // left alone (two hosts on one address break both); said once.
        let clashes = Planner.addressConflicts(desired: desired, observed: observed, actions: planned)
        if clashes != reportedAddressConflicts {
            for clash in clashes {
                logger.error(
                    "address held by another container",
                    metadata: [
                        "container": "\(clash.container)", "network": "\(clash.network)", "address": "\(clash.address)", "holder": "\(clash.holder)",
                    ])
            }
            reportedAddressConflicts = clashes
        }
        let clashing = Set(clashes.map { ObjectRef.container($0.container) })
        for action in planned where !clashing.contains(action.object) {
            let object = action.object.description
            if action.kind == .pendingRestart {
                pending.insert(action.description)
                if reportedPending.contains(action.description) { continue }
            }
            if case .exited(let code, let policy) = action.reason {
                if restartBackoff.waitUntil(action.object.name, at: now) != nil {
                    waiting.insert(object)
                    continue
                }
                let (restarts, delay) = restartBackoff.restarted(action.object.name, at: now)
                logger.notice(
                    "restarting",
                    metadata: [
                        "container": "\(action.object.name)", "code": "\(code.map(String.init) ?? "unknown")", "policy": "\(policy.rawValue)",
                        "restarts": "\(restarts)",
                    ])
                if delay > 0 && restarts >= 2 {
                    logger.warning(
                        "restart back-off",
                        metadata: ["container": "\(action.object.name)", "restarts": "\(restarts)", "delay": "\(Interval(milliseconds: delay))"])
                }
            }
            if backoff.admits(object, fingerprint: fingerprints[object] ?? 0, at: now) {
                actions.append(action)
            } else {
                waiting.insert(object)
            }
        }
        reportedPending = pending
        summary.backingOff = waiting.count
        let outcomes = reconciler.apply(actions) { [self] _ in
            if schedule.watchdogDue(at: MonotonicClock.milliseconds()) { notify("WATCHDOG=1") }
        }
        let failed = Set(outcomes.filter(\.result.failed).map(\.action.object.description))
        let attempted = Set(outcomes.map(\.action.object.description))
        let finished = MonotonicClock.milliseconds()
        for object in attempted.subtracting(failed) { backoff.succeeded(object) }
        for object in failed.sorted() {
            let (failures, delay) = backoff.failed(object, fingerprint: fingerprints[object] ?? 0, at: finished)
            logger.warning(
                "back-off",
                metadata: [
                    "object": "\(object)", "failures": "\(failures)", "delay": "\(Interval(milliseconds: delay))",
                ])
        }
        backoff.settle(attempted: attempted, at: finished)
        return outcomes
    }

    /// Keeps one pidfd per running container (opened against the recorded
    /// start time, so never on a recycled pid); stopped ones are let go.
    func watchInits() {
        var current: [String: PidFD] = [:]
        var exits: Set<String> = []
        for name in runtime.state.names() {
            guard let record = runtime.state.load(name), let pid = record.pid else { continue }
            guard runtime.isRunning(record) else {
                // Ended before it could be watched (an init that exits at
                // once): one more pass, as its pidfd would have made.
                let key = "\(name) \(pid)"
                exits.insert(key)
                if !seenExits.contains(key) && watched[name]?.pid != pid { schedule.containerExited = true }
                continue
            }
            if let handle = watched[name], handle.pid == pid {
                current[name] = handle
            } else if let handle = try? PidFD(pid: pid, startTime: record.startTime) {
                current[name] = handle
            }
        }
        watched = current
        seenExits = exits
    }

    /// Fetch and check out the upstream's commit; returns HEAD (nil if even
    /// that failed). A failure or a refusal is reported once (not every
    /// interval), and its end with one all-clear event.
    func followCheckout(_ checkout: GitCheckout) -> String? {
        let directory = checkout.directory
        do {
            switch try checkout.update() {
            case .noRemote, .upToDate:
                gitProblemCleared(checkout)
            case .moved(let from, let to, let rewritten):
                gitProblemCleared(checkout)
                if rewritten {
                    logger.notice(
                        "checkout reset to a rewritten upstream",
                        metadata: ["checkout": "\(directory)", "from": "\(from)", "to": "\(to)"])
                }
            case .localChanges(let upstream, let files):
                let key = "local changes \(upstream) \(files)"
                if reportedGitProblem != key {
                    reportedGitProblem = key
                    logger.error(
                        "checkout has local changes",
                        metadata: [
                            "checkout": "\(directory)", "upstream": "\(upstream)", "files": "\(files.prefix(10).joined(separator: ", "))",
                        ])
                }
            }
        } catch {
            reportGitFailure(checkout, error)
        }
        do {
            let head = try checkout.head()
            logger[metadataKey: "commit"] = "\(head)"
            return head
        } catch {
            reportGitFailure(checkout, error)
            return nil
        }
    }

    /// A git failure, once per distinct error.
    func reportGitFailure(_ checkout: GitCheckout, _ error: GitCheckout.Failure) {
        let key = "failure \(error)"
        guard reportedGitProblem != key else { return }
        reportedGitProblem = key
        logger.error("git update failed", metadata: ["checkout": "\(checkout.directory)", "error": "\(error)"])
    }

    /// The checkout follows its upstream again after a reported problem.
    func gitProblemCleared(_ checkout: GitCheckout) {
        guard reportedGitProblem != nil else { return }
        reportedGitProblem = nil
        logger.notice("checkout follows its upstream again", metadata: ["checkout": "\(checkout.directory)"])
    }

    /// The applied commit, in the state dir (atomically) and on later events.
    func record(_ commit: String) {
        let path = configuration.appliedCommitPath
        do {
            try FileManager.default.createDirectory(
                atPath: String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]), withIntermediateDirectories: true)
            try Syscall.writeAtomically(Array((commit + "\n").utf8), to: path, mode: 0o644)
            appliedCommit = commit
        } catch {
            logger.error("cannot record the applied commit", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    /// One event per new set of errors (the same broken file is not
    /// reported again every interval); each error also on its own line.
    func reportInvalid(_ errors: [String]) {
        let key = errors.joined(separator: "\n")
        guard key != reportedInvalid else { return }
        reportedInvalid = key
        logger.error(
            "manifests invalid",
            metadata: ["manifests": "\(configuration.manifests)", "errors": "\(errors.count)", "error": "\(errors.first ?? "")"])
        for error in errors.dropFirst().prefix(20) { logger.notice("\(error)", metadata: ["event": "manifests invalid"]) }
    }

    /// What identifies each object's manifest: a change resets its back-off.
    static func fingerprints(_ desired: DesiredHost) -> [String: Int] {
        var fingerprints: [String: Int] = [:]
        for container in desired.containers { fingerprints["Container/\(container.metadata.name)"] = container.spec.hashValue }
        for network in desired.networks {
            fingerprints["Network/\(network.metadata.name)"] = network.spec.hashValue
            // Its table also follows the containers it forwards to and the networks it reaches.
            fingerprints["Ruleset/\(network.metadata.name)"] = desired.hashValue
        }
        return fingerprints
    }

    /// The local time of day, HH:MM:SS (strftime, no locale data loaded).
    static func clock() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 16)
        let count = strftime(&buffer, buffer.count, "%H:%M:%S", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
