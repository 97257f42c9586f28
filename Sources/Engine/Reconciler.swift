import FoundationEssentials
import Kernel
import Logging
import Model
import Netlink
import Reconcile
import Runtime

/// Observe, plan and apply: manifests in, a host that matches them out. The
/// CLI's plan/apply/drift and the agent share this one engine.
public struct Reconciler {
    public let runtime: ContainerRuntime
    let logger: Logger

    public init(runtime: ContainerRuntime, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
    }

    /// The host's NAT and port-forward table as the manifests want it.
    public func natRuleset(_ desired: DesiredHost) -> NATRuleset {
        NATRuleset(
            table: NATRuleset.tableName(cgroupParent: runtime.paths.cgroupParent), networks: desired.networks,
            containers: desired.containers)
    }

    /// What this host has: berth's records checked against the kernel.
    public func observe(_ desired: DesiredHost) -> ObservedHost {
        var observed = ObservedHost()
        let containers = Dictionary(desired.containers.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        let networks = Dictionary(desired.networks.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        var known: Set<String> = []
        for (record, running, usage) in runtime.observeForPlanning() {
            known.insert(record.name)
            // A `berth run` container belongs to the berth that waits for it
            // (once that berth is gone, it is an unmanaged container like any).
            if record.hasLiveForegroundOwner && containers[record.name] == nil { continue }
            var network: NetworkObservation?
            var firewallCurrent: Bool?
            // Unreadable (the init just died): nil, and network changes wait for a restart.
            if running, let pid = record.pid, let container = containers[record.name] {
                // A namespace that has and should have only lo is not read.
                if !(container.spec.networks ?? []).isEmpty || !(record.spec?.networks ?? []).isEmpty {
                    network = try? NetworkAttacher.observe(
                        pid: pid, container: container, networks: networks, ipv6: record.ipv6 ?? record.spec?.usesIPv6 ?? false)
                }
                if record.spec?.firewall != nil || record.firewallFingerprint != nil {
                    do {
                        firewallCurrent = try ContainerFirewall.observe(pid: pid) == record.firewallFingerprint
                    } catch {
                        firewallCurrent = nil
                    }
                }
            }
            let resources = usage.map { usage in
                ObservedResources(
                    cpuWeight: usage.limits.cpuWeight,
                    cpuLimitMillicores: usage.limits.cpuQuotaMicros.map { $0 * 1000 / max(1, usage.limits.cpuPeriodMicros) },
                    memoryMax: usage.limits.memoryMax, pidsMax: usage.limits.pidsMax)
            }
            observed.containers.append(
                ObservedContainer(
                    name: record.name, running: running, frozen: usage?.frozen ?? false, recordedSpec: record.spec, resources: resources,
                    network: network, firewallCurrent: firewallCurrent))
        }
        if let netlink = try? RouteNetlink() {
            for network in desired.networks {
                guard let bridge = try? NetworkAttacher.observeBridge(network, netlink: netlink) else { continue }
                observed.networks.insert(network.metadata.name)
                observed.bridges[network.metadata.name] = BridgeObservation(up: bridge.up, hasGateway: bridge.hasGateway)
                if network.spec.needsForwarding { observed.forwarding[network.metadata.name] = NATRuleset.forwarding(network.bridgeName) }
            }
        }
        observed.natCurrent = natRuleset(desired).isCurrent(state: runtime.state)
        observed.recordedNetworks = runtime.state.recordedNetworks()
        // Bridges marked as this instance's whose record was lost: still ours to prune.
        let owner = NetworkAttacher.ownerAlias(cgroupParent: runtime.paths.cgroupParent, network: "")
        for link in (try? RouteNetlink().links()) ?? [] where link.kind == "bridge" {
            guard let alias = link.alias, alias.hasPrefix(owner) else { continue }
            let network = String(alias.dropFirst(owner.count))
            if observed.recordedNetworks[network] == nil { observed.recordedNetworks[network] = link.name }
        }
        observed.unrecorded = runtime.unrecorded(known: known)
        return observed
    }

    public func plan(_ desired: DesiredHost, options: PlanOptions = PlanOptions()) -> [Action] {
        Planner.plan(desired: desired, observed: observe(desired), options: options)
    }

    /// One applied action and what became of it.
    public struct Outcome: Sendable {
        public var action: Action
        /// "applied", "restarted", "pending restart", "skipped" or "failed: ...".
        public var result: String
        public var failed: Bool
    }

    /// Executes `actions` in order. A failed action does not stop the ones
    /// after it; every outcome is logged as a structured event and passed to
    /// `report` as it happens.
    @discardableResult
    public func apply(
        _ actions: [Action], desired: DesiredHost, restart: Bool = false, replace: Bool = false, report: (Outcome) -> Void = { _ in }
    ) -> [Outcome] {
        let containers = Dictionary(desired.containers.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        let networks = Dictionary(desired.networks.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        var outcomes: [Outcome] = []
        var updated: Set<String> = []
        var networked: Set<String> = []
        var bridged: Set<String> = []
        var natApplied = false
        var restarted: Set<String> = []
        for action in actions {
            let parts = action.object.split(separator: "/", maxSplits: 1).map(String.init)
            let (kind, name) = (parts.first ?? "", parts.last ?? "")
            var result = "applied"
            var failed = false
            do {
                switch (action.kind, kind) {
                case (.create, "Network"), (.updateLive, "Network"):
                    // ensureBridge creates, brings up and readdresses alike.
                    if bridged.insert(name).inserted, let network = networks[name] {
                        try NetworkAttacher(logger: logger, state: runtime.state).ensureBridge(network, netlink: try RouteNetlink())
                    }
                case (.delete, "Network"):
                    try NetworkAttacher(logger: logger, state: runtime.state).deleteBridge(
                        network: name, bridge: action.old ?? name, netlink: try RouteNetlink())
                case (.create, "Container"), (.start, "Container"):
                    if let container = containers[name] { _ = try runtime.start(container, networks: desired.networks) }
                case (.adopt, "Container"):
                    if let container = containers[name], let pid = runtime.initInCgroup(name) {
                        try runtime.adopt(container, pid: pid, networks: desired.networks)
                    }
                case (.stop, "Container"):
                    try runtime.stop(name, timeout: containers[name]?.spec.stopTimeout ?? Interval(milliseconds: 10_000))
                case (.updateLive, "Container") where action.field == "spec.firewall":
                    try runtime.updateFirewall(name, containers[name]?.spec.firewall)
                case (.updateLive, "Container") where action.field?.hasPrefix("spec.networks") == true:
                    if networked.insert(name).inserted, let container = containers[name] {
                        try runtime.updateNetworks(container, networks: desired.networks)
                    }
                case (.updateLive, "Container"):
                    if updated.insert(name).inserted { try runtime.updateResources(name, containers[name]?.spec.resources) }
                case (.replace, "Container"):
                    // Another root filesystem: the container is made again (its
                    // private layer kept only when the manifest says persistent).
                    if replace, restarted.insert(name).inserted, let container = containers[name] {
                        try runtime.stop(name, timeout: container.spec.stopTimeout ?? Interval(milliseconds: 10_000))
                        try runtime.delete(name)
                        _ = try runtime.start(container, networks: desired.networks)
                        result = "replaced"
                    } else if !replace {
                        result = "not replaced (pass --replace)"
                    }
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
                case (.updateLive, "Ruleset"), (.updateLive, "Sysctl"):
                    // The ruleset's apply also sets the per-bridge forwarding sysctls.
                    if !natApplied {
                        try natRuleset(desired).apply(state: runtime.state)
                        natApplied = true
                    }
                default:
                    result = "skipped"
                }
            } catch {
                failed = true
                result = "failed: \(error)"
            }
            logger.log(
                level: failed ? .error : .info, "applied",
                metadata: [
                    "object": "\(action.object)", "action": "\(action.kind.rawValue)", "field": "\(action.field ?? "")",
                    "desired": "\(action.new ?? "")", "observed": "\(action.old ?? "")", "result": "\(result)",
                ])
            let outcome = Outcome(action: action, result: result, failed: failed)
            outcomes.append(outcome)
            report(outcome)
        }
        return outcomes
    }

    /// Differences between the manifests and the kernel; read-only.
    public func drift(_ desired: DesiredHost) -> [Drift] {
        let drifts = Planner.drift(desired: desired, observed: observe(desired))
        log(drifts)
        return drifts
    }

    /// One "drift" event per difference.
    public func log(_ drifts: [Drift]) {
        for drift in drifts {
            logger.info(
                "drift",
                metadata: [
                    "object": "\(drift.object)", "field": "\(drift.field)", "desired": "\(drift.desired)", "observed": "\(drift.observed)",
                    "policy": "\(drift.policy.rawValue)",
                ])
        }
    }
}
