import ArgumentParser
import Foundation
import Kernel
import Logging
import Manifest
import Model
import Netlink
import Reconcile
import Runtime

/// Observe, plan and apply: manifests in, a host that matches them out.
enum Reconciliation {
    /// What this host has: berth's records checked against the kernel.
    static func natRuleset(_ runtime: ContainerRuntime, _ desired: DesiredHost) -> NATRuleset {
        NATRuleset(
            table: NATRuleset.tableName(cgroupParent: runtime.paths.cgroupParent), networks: desired.networks,
            containers: desired.containers)
    }

    static func observe(_ runtime: ContainerRuntime, _ desired: DesiredHost) -> ObservedHost {
        var observed = observe(runtime, networks: desired.networks)
        observed.natCurrent = natRuleset(runtime, desired).isCurrent(state: runtime.state)
        observed.recordedNetworks = runtime.state.recordedNetworks()
        return observed
    }

    static func observe(_ runtime: ContainerRuntime, networks: [NetworkObject]) -> ObservedHost {
        var observed = ObservedHost()
        for (record, status, usage) in runtime.list() {
            var running = false
            if case .running = status { running = true }
            let resources = usage.map { usage in
                ObservedResources(
                    cpuWeight: usage.limits.cpuWeight,
                    cpuLimitMillicores: usage.limits.cpuQuotaMicros.map { $0 * 1000 / max(1, usage.limits.cpuPeriodMicros) },
                    memoryMax: usage.limits.memoryMax, pidsMax: usage.limits.pidsMax)
            }
            observed.containers.append(
                ObservedContainer(
                    name: record.name, running: running, frozen: usage?.frozen ?? false, recordedSpec: record.spec, resources: resources))
        }
        let links = Set(((try? RouteNetlink().links()) ?? []).map(\.name))
        observed.networks = Set(networks.filter { links.contains($0.bridgeName) }.map(\.metadata.name))
        return observed
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
        for action in actions { Swift.print("  " + action.description) }
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
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
        let runtime = try RuntimeContext.runtime(global)
        let actions = Planner.plan(
            desired: desired, observed: Reconciliation.observe(runtime, desired), options: PlanOptions(prune: prune))
        try Reconciliation.print(actions, format: format.output)
        if detailedExitcode && !actions.isEmpty { throw ExitCode(2) }
    }
}

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Make the host match the manifests.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var format: OutputOptions
    @Flag(help: "Print the plan and change nothing.") var dryRun = false
    @Flag(help: "Delete berth-owned containers that no manifest names any more.") var prune = false
    @Flag(help: "Allow --prune with an empty manifest set.") var allowEmpty = false
    @Flag(help: "Restart containers whose changes need a restart.") var restart = false
    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path")) var paths: [String]

    func run() throws {
        let desired = try Reconciliation.desired(paths, host: try hostOptions.facts())
        if prune && desired.containers.isEmpty && !allowEmpty {
            throw ValidationError("refusing to prune with no containers in the manifests (pass --allow-empty if that is meant)")
        }
        let runtime = try RuntimeContext.runtime(global)
        try FileManager.default.createDirectory(atPath: global.runDir, withIntermediateDirectories: true)
        let lock = try RunLock(path: global.runDir + "/berth.lock")
        defer { withExtendedLifetime(lock) {} }
        let actions = Planner.plan(
            desired: desired, observed: Reconciliation.observe(runtime, desired), options: PlanOptions(prune: prune))
        if dryRun {
            try Reconciliation.print(actions, format: format.output)
            return
        }
        let logger = Logger(label: "berth")
        let containers = Dictionary(desired.containers.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        let networks = Dictionary(desired.networks.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        var failures = 0
        var updated: Set<String> = []
        var restarted: Set<String> = []
        for action in actions {
            let parts = action.object.split(separator: "/", maxSplits: 1).map(String.init)
            let (kind, name) = (parts.first ?? "", parts.last ?? "")
            var result = "applied"
            do {
                switch (action.kind, kind) {
                case (.create, "Network"):
                    if let network = networks[name] {
                        try NetworkAttacher(logger: logger, state: runtime.state).ensureBridge(network, netlink: try RouteNetlink())
                    }
                case (.delete, "Network"):
                    try NetworkAttacher(logger: logger, state: runtime.state).deleteBridge(
                        network: name, bridge: action.old ?? name, netlink: try RouteNetlink())
                case (.create, "Container"), (.start, "Container"):
                    if let container = containers[name] { _ = try runtime.start(container, networks: desired.networks) }
                case (.stop, "Container"):
                    try runtime.stop(name, timeout: containers[name]?.spec.stopTimeout ?? Interval(milliseconds: 10_000))
                case (.updateLive, "Container") where action.field == "spec.firewall":
                    try runtime.updateFirewall(name, containers[name]?.spec.firewall)
                case (.updateLive, "Container"):
                    if updated.insert(name).inserted { try runtime.updateResources(name, containers[name]?.spec.resources) }
                case (.pendingRestart, "Container"):
                    if restart, restarted.insert(name).inserted, let container = containers[name] {
                        try runtime.stop(name, timeout: container.spec.stopTimeout ?? Interval(milliseconds: 10_000))
                        _ = try runtime.start(container, networks: desired.networks)
                        result = "restarted"
                    } else if !restart {
                        result = "pending restart"
                    }
                case (.delete, "Container"):
                    try runtime.delete(name)
                case (.updateLive, "Ruleset"):
                    try Reconciliation.natRuleset(runtime, desired).apply(state: runtime.state)
                default:
                    result = "skipped"
                }
            } catch {
                failures += 1
                result = "failed: \(error)"
            }
            logger.info(
                "applied",
                metadata: [
                    "object": "\(action.object)", "action": "\(action.kind.rawValue)", "field": "\(action.field ?? "")",
                    "desired": "\(action.new ?? "")", "observed": "\(action.old ?? "")", "result": "\(result)",
                ])
            if format.output == .text { print("\(action.description): \(result)") }
        }
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
        abstract: "Report differences between the manifests and the kernel (read-only).",
        discussion: "Exit codes with --detailed-exitcode: 0 no drift, 2 drift, 1 error.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var format: OutputOptions
    @Flag(help: "Exit 2 when there is drift, 0 when there is none.") var detailedExitcode = false
    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path")) var paths: [String]

    func run() throws {
        let desired = try Reconciliation.desired(paths, host: try hostOptions.facts())
        let runtime = try RuntimeContext.runtime(global)
        let drifts = Planner.drift(desired: desired, observed: Reconciliation.observe(runtime, desired))
        let logger = Logger(label: "berth")
        for drift in drifts {
            logger.info(
                "drift",
                metadata: [
                    "object": "\(drift.object)", "field": "\(drift.field)", "desired": "\(drift.desired)", "observed": "\(drift.observed)",
                    "policy": "\(drift.policy.rawValue)",
                ])
        }
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
