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
    static func reconciler(_ global: GlobalOptions) throws -> Reconciler {
        Reconciler(runtime: try RuntimeContext.runtime(global), logger: Logger(label: "berth"))
    }

    static func desired(_ paths: [String], host: HostFacts) throws -> DesiredHost {
        let outcome = ManifestPipeline.load(paths: paths, host: host)
        for error in outcome.errors { Console.error(error.description) }
        guard let desired = outcome.desired, outcome.errors.isEmpty else {
            throw ValidationError("manifests have \(outcome.errors.count) error(s); nothing was planned or changed")
        }
        return desired
    }

    static func print(_ actions: [Action], format: OutputFormat) throws {
        if format == .json {
            Swift.print(try JSONOutput.encode(actions))
            return
        }
        if actions.isEmpty {
            Swift.print("No changes: the host matches the manifests.")
            return
        }
        Swift.print("Plan: \(actions.count) action\(actions.count == 1 ? "" : "s")")
        for action in actions { Swift.print("  " + painted(action)) }
    }

    /// Colour on a terminal only (and never with NO_COLOR set).
    static let colour: Bool = isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil

    /// The action's line, its kind coloured on a terminal.
    static func painted(_ action: Action) -> String {
        guard colour else { return action.description }
        let code: String
        switch action.kind {
        case .create, .start, .adopt: code = "32"
        case .delete, .stop: code = "31"
        case .updateLive: code = "33"
        case .pendingRestart, .replace: code = "35"
        }
        let kind = action.kind.rawValue
        return "\u{1B}[\(code)m\(kind)\u{1B}[0m" + action.description.dropFirst(kind.count)
    }
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
    @Flag(help: "Also plan deleting berth-owned containers no manifest names.") var prune = false
    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path")) var paths: [String]

    func run() throws {
        let desired = try Reconciliation.desired(paths, host: try hostOptions.facts())
        let actions = try Reconciliation.reconciler(global).plan(desired, options: PlanOptions(prune: prune))
        try Reconciliation.print(actions, format: format.output)
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
    @Flag(help: "Delete berth-owned containers that no manifest names any more.") var prune = false
    @Flag(help: "Allow --prune with an empty manifest set.") var allowEmpty = false
    @Flag(help: "Restart containers whose changes need a restart.") var restart = false
    @Flag(help: "Make containers whose root filesystem changed again (their private layer goes unless persistent).")
    var replace = false
    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path")) var paths: [String]

    func run() throws {
        let desired = try Reconciliation.desired(paths, host: try hostOptions.facts())
        if prune && desired.containers.isEmpty && !allowEmpty {
            throw ValidationError("refusing to prune with no containers in the manifests (pass --allow-empty if that is meant)")
        }
        let reconciler = try Reconciliation.reconciler(global)
        try FileManager.default.createDirectory(atPath: global.runDir, withIntermediateDirectories: true)
        let lock = try RunLock(path: global.runDir + "/berth.lock")
        defer { withExtendedLifetime(lock) {} }
        let actions = reconciler.plan(desired, options: PlanOptions(prune: prune))
        if dryRun {
            try Reconciliation.print(actions, format: format.output)
            return
        }
        let text = format.output == .text
        let outcomes = reconciler.apply(actions, desired: desired, restart: restart, replace: replace) { outcome in
            if text { print("\(Reconciliation.painted(outcome.action)): \(outcome.result)") }
        }
        let failures = outcomes.filter(\.failed).count
        if format.output == .json { try Reconciliation.print(actions, format: .json) }
        if actions.isEmpty && format.output == .text { print("No changes: the host matches the manifests.") }
        if failures > 0 {
            Console.error("\(failures) action\(failures == 1 ? "" : "s") failed")
            throw ExitCode(1)
        }
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
    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path")) var paths: [String]

    func run() throws {
        let desired = try Reconciliation.desired(paths, host: try hostOptions.facts())
        let drifts = try Reconciliation.reconciler(global).drift(desired)
        if format.output == .json {
            print(try JSONOutput.encode(drifts))
        } else if drifts.isEmpty {
            print("No drift.")
        } else {
            var rows = [["OBJECT", "FIELD", "DESIRED", "OBSERVED", "POLICY"]]
            for drift in drifts { rows.append([drift.object, drift.field, drift.desired, drift.observed, drift.policy.rawValue]) }
            print(Table.render(rows))
        }
        if detailedExitcode && !drifts.isEmpty { throw ExitCode(2) }
    }
}
