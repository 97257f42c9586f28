import ArgumentParser
import Engine
import FoundationEssentials
import Journal
import Kernel
import Logging
import Model
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

struct Agent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Reconcile continuously: at start, on manifest changes and on an interval.",
        discussion: """
            Watches the manifests directory (inotify) and reconciles after each change, every --interval \
            (to correct drift made outside berth), and on SIGHUP. An object whose action fails backs off \
            (5s, doubling to 5m). Invalid manifests apply nothing: the host keeps its last good state. \
            SIGTERM ends the agent after its current pass; containers keep running. Under systemd \
            (dist/berth.service) it sends READY=1, STATUS= and WATCHDOG=1.

            With --git DIR the agent follows a git checkout: before each pass it fetches and checks out \
            the upstream branch's commit (when the checkout has a remote), a force-pushed history too; a \
            checkout with local changes is left alone and reported once. It records the applied commit in \
            STATE/agent/applied-commit and on every event. The manifests are DIR itself, or --manifests \
            (relative to DIR) when given.

            On every pass the agent adds up the containers' memory and CPU limits against the host, as \
            plan does, and logs "host overcommitted" once when they pass --overcommit, and "host no longer \
            overcommitted" once when they are within it again.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @Option(help: ArgumentHelp("Manifest directory (with --git: relative to the checkout).", valueName: "dir")) var manifests: String?
    @Option(help: ArgumentHelp("Follow a local git checkout.", valueName: "dir")) var git: String?
    @Option(help: ArgumentHelp("Drift check interval (500ms, 30s, 5m, 1h).", valueName: "duration")) var interval: String = "30s"
    @Flag(
        inversion: .prefixedNo,
        help:
            "Delete what the agent's source applied that no manifest names any more (never with an empty set); --no-prune leaves them, reported as orphans."
    )
    var prune = true
    @OptionGroup var sourceOptions: SourceOptions
    @Option(help: ArgumentHelp("Rotate a container's console.log when it grows past this size (checked every 2s).", valueName: "size"))
    var consoleMaxSize: String = "10Mi"
    @Option(help: ArgumentHelp("How many rotated console logs to keep (console.log.1 ...; 0: truncate only).", valueName: "count"))
    var consoleFiles: Int = 3
    @Option(
        help: ArgumentHelp(
            "Serve Prometheus metrics at http://ADDR/metrics (127.0.0.1:9464, [::1]:9464); what `berth metrics` prints.",
            valueName: "addr"))
    var metrics: String?
    @OptionGroup var overcommit: OvercommitOption

    func validate() throws {
        if manifests == nil && git == nil { throw ValidationError("give --manifests DIR or --git DIR") }
        let parsed: Interval
        do {
            parsed = try Interval(parsing: interval)
        } catch {
            throw ValidationError("--interval: \(error.message)")
        }
        if parsed.milliseconds < 100 { throw ValidationError("--interval: at least 100ms") }
        _ = try consoleLogs()
        if let metrics, HTTPResponder.split(metrics) == nil {
            throw ValidationError("--metrics: '\(metrics)' is not HOST:PORT (127.0.0.1:9464, [::1]:9464)")
        }
    }

    func consoleLogs() throws -> ConsoleLogFiles.Policy {
        let size: ByteSize
        do { size = try ByteSize(parsing: consoleMaxSize) } catch { throw ValidationError("--console-max-size: \(error.message)") }
        guard size.bytes >= 4096 else { throw ValidationError("--console-max-size: at least 4Ki") }
        guard (0...100).contains(consoleFiles) else { throw ValidationError("--console-files: 0 to 100") }
        return ConsoleLogFiles.Policy(maxSize: size, rotatedFiles: consoleFiles)
    }

    /// The manifests directory: --manifests, relative to --git when both are given.
    var manifestDirectory: String {
        guard let git else { return manifests ?? "." }
        guard let manifests else { return git }
        return manifests.hasPrefix("/") ? manifests : git + "/" + manifests
    }

    func run() throws {
        // One malloc arena: the worker threads of a pass would each keep an
        // arena of their own, resident between passes (tcache spares most
        // small allocations the lock; berth-bench reconcile, agent memory).
        Syscall.limitMallocArenas(1)
        let runtime = try RuntimeContext.runtime(global, agent: true)
        // git must never wait for a password on a terminal nobody watches.
        setenv("GIT_TERMINAL_PROMPT", "0", 1)
        var configuration = AgentLoop.Configuration(
            manifests: manifestDirectory, git: git, interval: try Interval(parsing: interval), prune: prune,
            source: sourceOptions.source ?? SourceOptions.absolute(manifestDirectory), host: try hostOptions.facts(), paths: global.paths)
        configuration.consoleLogs = try consoleLogs()
        configuration.overcommit = try overcommit.ratios()
        configuration.trashEmptier = TrashEmpty.arguments(global.paths)
        if let metrics {
            // Bound before the first pass: a taken port fails the start, not a scrape.
            let responder = try HTTPResponder(address: metrics)
            let scraped = runtime
            try responder.serve { target in
                guard target == "/metrics" || target.hasPrefix("/metrics?") else {
                    return (404, "text/plain", "berth serves /metrics only\n")
                }
                return (200, PrometheusText.contentType, HostMetrics.text(scraped))
            }
        }
        let loop = try AgentLoop(
            configuration: configuration,
            cgroups: runtime.cgroups, logger: Logger(label: "berth"), watchdogMilliseconds: SystemdNotify.watchdogMilliseconds(),
            notify: { SystemdNotify.notify($0) })
        try loop.run()
    }
}
