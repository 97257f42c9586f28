import Model

/// The planner: a pure function of desired and observed. Its actions carry
/// what apply needs (the objects, the values to write), so apply carries
/// out the plan and never diffs again.
public enum Planner {
    public static func plan(desired: DesiredHost, observed: ObservedHost, options: PlanOptions = PlanOptions()) -> [Action] {
        plan(desired: desired, observed: observed, options: options, enforceAll: false)
    }

    /// `enforceAll`: as if every object's drift policy were enforce (what
    /// `drift` reports).
    static func plan(desired: DesiredHost, observed: ObservedHost, options: PlanOptions, enforceAll: Bool) -> [Action] {
        var actions: [Action] = []
        let observedByName = Dictionary(observed.containers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        // Another source's objects are not planned (plan and apply refuse
        // them first); a network it shares is planned by its own source.
        let (conflicts, shared) = foreign(desired, observed, options)
        let foreign = Set(conflicts.map(\.object) + shared.map(ObjectRef.network))
        // Networks before the containers that use them.
        for network in desired.networks where !foreign.contains(.network(network.metadata.name)) {
            actions += networkActions(network, observed: observed, enforceAll: enforceAll)
        }
        // Each network's rules (its isolation too) before its containers start.
        actions += rulesetActions(desired, observed, enforceAll: enforceAll, foreign: foreign)
        for container in desired.containers where !foreign.contains(.container(container.metadata.name)) {
            actions += containerActions(
                container, observedByName[container.metadata.name], desired: desired, observed: observed, enforceAll: enforceAll)
        }
        actions += oldBridgeActions(desired, observed)
        for (network, bridge, current) in forwardingChanges(desired, observed) {
            actions.append(
                Action(
                    .forwarding(bridge: bridge), .enableForwarding(bridge: bridge),
                    changes: [FieldChange("value", desired: .flag(true), observed: current, origin: current == .absent ? .manifest : .drift)],
                    reason: .forwardingNeeded(network: network)))
        }
        if options.prune && options.scope == .instance { actions += pruneActions(desired, observed) }
        actions += inventoryActions(desired, observed, options: options, foreign: foreign)
        return ordered(actions, desired: desired, observed: observed)
    }

    /// What one desired container needs.
    static func containerActions(
        _ container: ContainerObject, _ current: ObservedContainer?, desired: DesiredHost, observed: ObservedHost, enforceAll: Bool = false
    ) -> [Action] {
        let name = container.metadata.name
        let ref = ObjectRef.container(name)
        let spec = container.spec
        let attached = attachedNetworks(spec, desired.networks)
        let wanted = spec.state
        guard let current else {
            if let pid = observed.unrecorded[name] {
                return [
                    Action(
                        ref, .adoptContainer(container, pid: pid, networks: attached),
                        changes: [
                            FieldChange(
                                "spec.state", desired: .text(wanted.rawValue), observed: .text("running without a record (init pid \(pid))"),
                                origin: .drift)
                        ], reason: .runningWithoutRecord(pid: pid))
                ]
            }
            // Every limit it is created with (the host's default profile's
            // included) against the kernel's default, so the plan shows them.
            let limits = ResourceDiff.differences(desired: ResourceValues(spec: spec.resources), observed: ResourceValues(spec: nil))
                .map { FieldChange($0.0, desired: $0.1, observed: $0.2, origin: .manifest) }
            var actions = [
                Action(
                    ref, .createContainer(container, networks: attached),
                    changes: [
                        FieldChange("spec.state", desired: .text(wanted == .stopped ? "created" : "running"), observed: .absent, origin: .manifest)
                    ] + limits,
                    reason: .doesNotExist)
            ]
            if wanted == .frozen { actions.append(Action(ref, .freezeContainer, reason: .stateFrozen)) }
            if wanted == .stopped { actions.append(Action(ref, .stopContainer(timeout: spec.stopTimeout), reason: .stateStopped)) }
            return actions
        }
        let recorded = current.recordedSpec
        let stateChange = { (origin: ChangeOrigin) in
            [FieldChange("spec.state", desired: .text(wanted.rawValue), observed: .runState(current.state), origin: origin)]
        }
        // What changed behind berth's back is drift; what the manifest changed is not.
        let stateOrigin: ChangeOrigin = recorded?.state == wanted ? .drift : .manifest
        switch (wanted, current.state) {
        case (.stopped, .running), (.stopped, .frozen):
            return [
                Action(ref, .stopContainer(timeout: spec.stopTimeout), changes: stateChange(stateOrigin), reason: .stateStopped)
            ]
        case (.stopped, .stopped), (.stopped, .exited), (.stopped, .checkpointed):
            // Nothing runs: the record takes the spec, for the next start.
            return recordUpdate(ref, spec, recorded, labels: (container.metadata.labels, current.recordedLabels), onlyRecordFields: false)
        case (_, .checkpointed(let mark)):
            // Its processes are in the image: a fresh start would lose them.
            return [
                Action(ref, .leaveCheckpointed, changes: stateChange(stateOrigin), reason: .checkpointed(directory: mark.directory))
            ]
        case (_, .stopped):
            var actions = [
                Action(ref, .startContainer(container, networks: attached), changes: stateChange(stateOrigin), reason: .notRunning)
            ]
            if wanted == .frozen { actions.append(Action(ref, .freezeContainer, reason: .stateFrozen)) }
            return actions
        case (_, .exited(let code)):
            let policy = spec.restartPolicy
            let restarts = policy == .always || (policy == .onFailure && code != 0)
            guard restarts else {
                return recordUpdate(ref, spec, recorded, labels: (container.metadata.labels, current.recordedLabels), onlyRecordFields: false)
            }
            return [
                Action(
                    ref, .startContainer(container, networks: attached), changes: stateChange(.drift),
                    reason: .exited(code: code, policy: policy))
            ]
        case (.running, .running), (.running, .frozen), (.frozen, .running), (.frozen, .frozen):
            break
        }
        let enforce = enforceAll || spec.drift == .enforce
        var actions = liveActions(
            container, current, recorded: recorded, desired: desired, attached: attached, enforce: enforce, oldBridges: observed.oldBridges,
            diskGrowsLive: observed.diskGrowsLive, lxcfsLive: observed.lxcfsLive, networkSpecs: observed.networkSpecs)
        if wanted == .running && current.state == .frozen {
            if enforce || stateOrigin == .manifest {
                actions.append(Action(ref, .thawContainer, changes: stateChange(stateOrigin), reason: .frozenButRunningWanted))
            }
        } else if wanted == .frozen && current.state == .running {
            if enforce || stateOrigin == .manifest {
                actions.append(Action(ref, .freezeContainer, changes: stateChange(stateOrigin), reason: .stateFrozen))
            }
        }
        return actions
    }

    /// Changes to a running (or frozen) container: live ones, then those for
    /// its next start.
    static func liveActions(
        _ container: ContainerObject, _ current: ObservedContainer, recorded: ContainerConfig?, desired: DesiredHost, attached: [NetworkObject],
        enforce: Bool, oldBridges: [String: [String]] = [:], diskGrowsLive: Bool = true, lxcfsLive: Bool = false,
        networkSpecs: [String: NetworkConfig] = [:]
    ) -> [Action] {
        let ref = ObjectRef.container(container.metadata.name)
        let spec = container.spec
        var actions: [Action] = []
        // With drift policy warn or ignore, what changed behind berth's back
        // (the manifest did not change since it was applied) is left alone;
        // what the manifest changed is still applied.
        let resourcesChanged = recorded?.resources != spec.resources
        var restartChanges: [FieldChange] = []
        if let resources = current.resources {
            // Field by field: one the manifest changed since it was applied
            // is a manifest change; another the kernel holds differently in
            // the same pass is drift (written too: the update writes them all).
            var edited: Set<String>?
            if let recorded {
                let differences = ResourceDiff.differences(
                    desired: ResourceValues(spec: spec.resources), observed: ResourceValues(spec: recorded.resources))
                edited = Set(differences.map(\.0))
            }
            func origin(_ field: String) -> ChangeOrigin { edited?.contains(field) ?? true ? .manifest : .drift }
            var changes = ResourceDiff.differences(desired: resources.expected, observed: resources.kernel).map {
                FieldChange($0.0, desired: $0.1, observed: $0.2, origin: origin($0.0))
            }
            if changes.isEmpty && resourcesChanged, let recorded {
                // The kernel has it; berth's record does not (a write that
                // failed half-way): recorded again, so a restart keeps it.
                changes = ResourceDiff.differences(
                    desired: ResourceValues(spec: spec.resources), observed: ResourceValues(spec: recorded.resources)
                ).map { FieldChange($0.0, desired: $0.1, observed: .text("\($0.2) in berth's record"), origin: .manifest) }
            }
            // A disk image grows live and shrinks at a restart, a project
            // quota changes live either way; an inode limit is live where
            // the backend has quotas (else at the next start); a private
            // layer gains or loses its quota only when made again (its
            // inode limit with it).
            var diskReplace: [FieldChange] = []
            let disk = resources.disk
            let quotaMoves = changes.contains { change in
                change.field == "spec.resources.disk.size" && (change.desired == .absent || change.observed == .absent)
            }
            changes.removeAll { change in
                let diskField = change.field.hasPrefix("spec.resources.disk.")
                switch change.field {
                case _ where diskField && quotaMoves:
                    diskReplace.append(change)
                case "spec.resources.disk.userQuota":
                    // The image gains its quota files (tune2fs) and is
                    // mounted again with or without usrquota,grpquota: at a
                    // restart (which refuses it, leaving the container
                    // running, where the backend is a project quota).
                    if enforce || change.origin == .manifest { restartChanges.append(change) }
                case "spec.resources.disk.size":
                    switch (change.desired, change.observed) {
                    case (.bytes(let wanted), .bytes(let held)) where disk.shrinksLive || (wanted > held && diskGrowsLive): return false
                    default: if enforce || change.origin == .manifest { restartChanges.append(change) }
                    }
                case "spec.resources.disk.inodes" where !disk.inodeLimitLive:
                    if enforce || change.origin == .manifest { restartChanges.append(change) }
                case "spec.resources.numfile" where !resources.openFilesLimitLive:
                    // A raise of the init's hard limit without
                    // CAP_SYS_RESOURCE: the shim sets it at the next start.
                    if enforce || change.origin == .manifest { restartChanges.append(change) }
                default: return false
                }
                return true
            }
            let sizeChanged = (changes + restartChanges + diskReplace).contains { $0.field == "spec.resources.disk.size" }
            if disk.spaceLimitMissing && diskGrowsLive && !sizeChanged, let size = resources.expected.diskSize {
                // An image made before its space was a quota: it gets its
                // block limit live (and its slack: it grows), then counts
                // refusals. Where it cannot grow live, at its next start.
                changes.append(
                    FieldChange(
                        "spec.resources.disk.size", desired: .bytes(size),
                        observed: .text("\(ByteSize(bytes: size)) image without a quota block limit (a full image refuses uncounted)"),
                        origin: .manifest))
            }
            if !changes.isEmpty && (enforce || changes.contains { $0.origin == .manifest }) {
                actions.append(Action(ref, .updateResources(spec.resources), changes: changes, reason: .liveChange))
            }
            if !diskReplace.isEmpty && (enforce || diskReplace.contains { $0.origin == .manifest }) {
                actions.append(
                    Action(ref, .replaceContainer(container, networks: attached), changes: diskReplace, reason: .privateLayerMoves))
            }
        }
        // A network whose bridge was renamed in its manifest: the container
        // moves to the new bridge, whatever its own drift policy.
        let moving = attached.filter { !(oldBridges[$0.metadata.name] ?? []).isEmpty }.map(\.metadata.name)
        // A network whose `mtu` changed in its manifest: the container's
        // interfaces on it take the new MTU, whatever its drift policy.
        let resized = attached.filter { network in networkSpecs[network.metadata.name].map { $0.mtu != network.spec.mtu } == true }
            .map(\.metadata.name)
        // A macvlan network whose `isolated` changed in its manifest: the
        // container's macvlans on it take the new mode, whatever its drift policy.
        let reisolated = attached.filter { network in
            network.spec.driver == .macvlan && networkSpecs[network.metadata.name].map { $0.isolated != network.spec.isolated } == true
        }.map(\.metadata.name)
        // A network whose `driver` changed in its manifest: the container's
        // interfaces on it are made again, whatever its drift policy.
        let redriven = attached.filter { network in networkSpecs[network.metadata.name].map { $0.driver != network.spec.driver } == true }
            .map(\.metadata.name)
        let followed = moving + reisolated + redriven
        if let network = current.network,
            enforce || recorded == nil || recorded?.networks != spec.networks || !followed.isEmpty || !resized.isEmpty
        {
            let networksByName = Dictionary(desired.networks.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
            let origin: ChangeOrigin = recorded?.networks != spec.networks ? .manifest : .drift
            var live: [FieldChange] = []
            for change in networkDrift(container, network, networks: networksByName) {
                let moved =
                    change.field.hasSuffix("].network") && change.network.map { moving.contains($0) || redriven.contains($0) } == true
                    || change.field.hasSuffix("].mtu") && change.network.map { resized.contains($0) } == true
                    || change.field.hasSuffix("].isolated") && change.network.map { reisolated.contains($0) } == true
                let field = FieldChange(
                    change.field, desired: .text(change.desired), observed: .text(change.observed), origin: moved ? .manifest : origin)
                guard enforce || field.origin == .manifest else { continue }
                if change.live { live.append(field) } else { restartChanges.append(field) }
            }
            if !live.isEmpty {
                actions.append(Action(ref, .updateNetworks(container, networks: attached), changes: live, reason: .networkChangedLive))
            }
        }
        if let recorded {
            if spec.firewall != recorded.firewall {
                actions.append(
                    Action(
                        ref, .updateFirewall(spec.firewall),
                        changes: [
                            firewallChange(spec, recorded)
                        ], reason: .firewallReplacedLive))
            } else if current.firewallCurrent == false && enforce {
                actions.append(
                    Action(
                        ref, .updateFirewall(spec.firewall),
                        changes: [
                            FieldChange("spec.firewall", desired: .text("as in the manifest"), observed: .text("missing or edited"), origin: .drift)
                        ], reason: .firewallReplacedLive))
            }
            if spec.rootfs != recorded.rootfs {
                actions.append(
                    Action(
                        ref, .replaceContainer(container, networks: attached),
                        changes: [
                            rootfsChange(spec, recorded)
                        ], reason: .anotherRootfs))
            }
            restartChanges += RestartFields.changes(desired: spec, recorded: recorded, networksLive: current.network != nil)
            actions += recordUpdate(ref, spec, recorded, labels: (container.metadata.labels, current.recordedLabels), onlyRecordFields: true)
        }
        if let change = procChange(spec, current, recorded: recorded, lxcfsLive: lxcfsLive), enforce || change.origin == .manifest {
            restartChanges.append(change)
        }
        if !restartChanges.isEmpty {
            let ipv6Only = restartChanges.allSatisfy { $0.field.hasPrefix("spec.networks[") }
            actions.append(
                Action(
                    ref, .restartContainer(container, networks: attached), changes: restartChanges,
                    reason: ipv6Only ? .ipv6NeedsRestart : .appliedAtRestart))
        }
        return actions
    }

    /// /proc as the container has it (LXCFS's files or the host's) against
    /// the manifest's `proc.virtualize` (unset: LXCFS's where it is live).
    /// Taken at the next start; what the manifest did not change is drift.
    static func procChange(_ spec: ContainerConfig, _ current: ObservedContainer, recorded: ContainerConfig?, lxcfsLive: Bool) -> FieldChange? {
        guard let virtualized = current.procVirtualized else { return nil }
        let wanted = spec.procVirtualize ?? lxcfsLive
        guard wanted != virtualized else { return nil }
        let origin: ChangeOrigin = recorded == nil || recorded?.procVirtualize != spec.procVirtualize ? .manifest : .drift
        return FieldChange(
            "spec.proc.virtualize", desired: .text(RestartFields.proc(wanted)), observed: .text(RestartFields.proc(virtualized)),
            origin: origin)
    }

    /// Fields only berth's record holds. With `onlyRecordFields` false (a
    /// container that does not run), every difference is such a field.
    /// metadata.labels are berth's record only (for `list -l`): a change is recorded live.
    static func recordUpdate(
        _ ref: ObjectRef, _ spec: ContainerConfig, _ recorded: ContainerConfig?, labels: (desired: [String: String], recorded: [String: String]),
        onlyRecordFields: Bool
    ) -> [Action] {
        guard let recorded, recorded != spec || labels.desired != labels.recorded else { return [] }
        var changes = RestartFields.recordOnly(desired: spec, recorded: recorded)
        if labels.desired != labels.recorded {
            changes.append(
                FieldChange(
                    "metadata.labels", desired: .text(Planner.render(labels.desired)), observed: .text(Planner.render(labels.recorded)),
                    origin: .manifest))
        }
        if !onlyRecordFields {
            changes += RestartFields.changes(desired: spec, recorded: recorded, networksLive: false)
            changes += RestartFields.procRecord(desired: spec, recorded: recorded)
            changes += ResourceDiff.differences(desired: ResourceValues(spec: spec.resources), observed: ResourceValues(spec: recorded.resources))
                .map { FieldChange($0.0, desired: $0.1, observed: $0.2, origin: .manifest) }
            if spec.firewall != recorded.firewall { changes.append(firewallChange(spec, recorded)) }
            if spec.rootfs != recorded.rootfs { changes.append(rootfsChange(spec, recorded)) }
        }
        guard !changes.isEmpty else { return [] }
        return [Action(ref, .updateRecord(spec, labels: labels.desired), changes: changes, reason: .recordOnly)]
    }

    /// Labels as `key=value,key=value`, sorted ("none" when empty).
    static func render(_ labels: [String: String]) -> String {
        labels.isEmpty ? "none" : labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// The networks a spec attaches to.
    static func attachedNetworks(_ spec: ContainerConfig, _ networks: [NetworkObject]) -> [NetworkObject] {
        networks.filter { network in spec.networks.contains { $0.network == network.metadata.name } }
    }

    /// Containers and networks berth has that no manifest names (with --prune).
    static func pruneActions(_ desired: DesiredHost, _ observed: ObservedHost) -> [Action] {
        var actions: [Action] = []
        let desiredNames = Set(desired.containers.map(\.metadata.name))
        for container in observed.containers where !desiredNames.contains(container.name) {
            actions.append(
                Action(
                    .container(container.name), .deleteContainer,
                    changes: [FieldChange("spec.state", desired: .absent, observed: .runState(container.state), origin: .manifest)],
                    reason: .noManifest))
        }
        for (name, pid) in observed.unrecorded.sorted(by: { $0.key < $1.key }) where !desiredNames.contains(name) {
            actions.append(Action(.container(name), .deleteContainer, reason: .noManifestWithoutRecord(pid: pid)))
        }
        // Networks after the containers that used them.
        let desiredNetworks = Set(desired.networks.map(\.metadata.name))
        for (name, bridge) in observed.recordedNetworks.sorted(by: { $0.key < $1.key }) where !desiredNetworks.contains(name) {
            actions.append(
                Action(
                    .network(name), .deleteNetwork(bridge: bridge),
                    changes: [FieldChange("bridge", desired: .absent, observed: .text(bridge), origin: .manifest)], reason: .noManifest))
        }
        return actions
    }

    /// Bridges whose forwarding sysctl berth must turn on: (network, bridge, current value).
    static func forwardingChanges(_ desired: DesiredHost, _ observed: ObservedHost) -> [(String, String, FieldValue)] {
        desired.networks.compactMap { network in
            guard network.spec.needsForwarding, observed.forwarding[network.metadata.name] != true else { return nil }
            let current = observed.forwarding[network.metadata.name].map { FieldValue.flag($0) } ?? .absent
            return (network.metadata.name, network.spec.bridge, current)
        }
    }

    static func firewallChange(_ spec: ContainerConfig, _ recorded: ContainerConfig) -> FieldChange {
        FieldChange("spec.firewall", desired: .text(describe(spec.firewall)), observed: .text(describe(recorded.firewall)), origin: .manifest)
    }

    static func rootfsChange(_ spec: ContainerConfig, _ recorded: ContainerConfig) -> FieldChange {
        FieldChange(
            "spec.rootfs", desired: .text(describe(spec.rootfs)), observed: .text(describe(recorded.rootfs)), origin: .manifest)
    }

    /// "policy drop: allow tcp 80 from 0.0.0.0/0, allow icmp": the rules in
    /// their order, so a changed port or source shows in the plan.
    static func describe(_ firewall: ContainerConfig.Firewall?) -> String {
        guard let firewall else { return "none" }
        let policy = "policy \(firewall.defaultPolicy.rawValue)"
        guard !firewall.rules.isEmpty else { return policy + ", no rules" }
        return policy + ": " + firewall.rules.map(describe).joined(separator: ", ")
    }

    static func describe(_ rule: FirewallRule) -> String {
        var text = "\(rule.action.rawValue) \(rule.protocol.rawValue)"
        if let port = rule.port { text += " \(port)" }
        if let from = rule.from { text += " from \(from)" }
        return text
    }

    static func describe(_ source: RootfsSource?) -> String {
        switch source {
        case .template(let name): return "template \(name)"
        case .directory(let path): return "directory \(path)"
        case .tarball(let path): return "tarball \(path)"
        case nil: return "none"
        }
    }
}
