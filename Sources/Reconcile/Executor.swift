import Model

/// What the engine needs of a host: observe it, and carry out one action.
/// The Linux implementation lives in Engine (LinuxHost); tests use a fake.
public protocol HostRuntime {
    func observe(_ desired: DesiredHost) -> ObservedHost
    /// Carries out `action`'s operation, exactly; throws what went wrong.
    func perform(_ action: Action) throws
}

/// What became of one action.
public enum ActionResult: Hashable, Sendable, CustomStringConvertible {
    case applied
    /// A pending-restart action carried out with --restart.
    case restarted
    /// A replace carried out with --replace.
    case replaced
    /// A pending-restart action left for the next restart.
    case pendingRestart
    case skipped(SkipReason)
    case failed(String)

    public var description: String {
        switch self {
        case .applied: return "applied"
        case .restarted: return "restarted"
        case .replaced: return "replaced"
        case .pendingRestart: return "pending restart"
        case .skipped(let reason): return "skipped (\(reason))"
        case .failed(let error): return "failed: \(error)"
        }
    }

    public var failed: Bool {
        if case .failed = self { return true }
        return false
    }

    /// Whether the host changed.
    public var changedHost: Bool { self == .applied || self == .restarted || self == .replaced }
}

public enum SkipReason: Hashable, Sendable, CustomStringConvertible {
    /// --replace was not given.
    case needsReplace
    /// An earlier action on the same object failed.
    case earlierFailure(ObjectRef)
    /// A network it attaches to could not be made.
    case networkFailed(String)
    /// An orphan: deleted only with --prune.
    case needsPrune

    public var description: String {
        switch self {
        case .needsReplace: return "pass --replace"
        case .earlierFailure(let object): return "an earlier action on \(object) failed"
        case .networkFailed(let network): return "network \(network) could not be made"
        case .needsPrune: return "orphan, left alone: pass --prune to delete it"
        }
    }
}

public struct Outcome: Hashable, Sendable {
    public var action: Action
    public var result: ActionResult
    /// How long it took, in milliseconds (0 when not carried out).
    public var milliseconds: UInt64

    public init(action: Action, result: ActionResult, milliseconds: UInt64 = 0) {
        self.action = action
        self.result = result
        self.milliseconds = milliseconds
    }

    /// Whether it changed the host (berth's own records are not the host).
    public var changedHost: Bool { result.changedHost && action.kind != .record }
}

public struct ApplyOptions: Sendable {
    /// Carry out pending-restart actions (stop, then start with the new spec).
    public var restart = false
    /// Carry out replace actions (the container is made again).
    public var replace = false
    public init(restart: Bool = false, replace: Bool = false) {
        self.restart = restart
        self.replace = replace
    }
}

/// Carries out a plan, in order, on a host. A failed action does not stop
/// the others; what depends on it is skipped, with the reason.
public enum Executor {
    public static func apply(
        _ plan: [Action], on host: some HostRuntime, options: ApplyOptions = ApplyOptions(), clock: () -> UInt64 = { 0 },
        starting: (Action) -> Void = { _ in }, report: (Outcome) -> Void = { _ in }
    ) -> [Outcome] {
        var outcomes: [Outcome] = []
        var failedObjects: Set<ObjectRef> = []
        var failedNetworks: Set<String> = []
        var notDone: Set<ObjectRef> = []
        for var action in plan {
            // An object whose delete did not happen stays in its inventory.
            if case .recordInventory(var inventory, let deleting) = action.operation {
                let kept = deleting.filter(notDone.contains)
                inventory = Inventory(
                    source: inventory.source,
                    containers: inventory.containers + kept.compactMap { if case .container(let name) = $0 { name } else { nil } },
                    networks: inventory.networks + kept.compactMap { if case .network(let name) = $0 { name } else { nil } })
                action.operation = .recordInventory(inventory, deleting: [])
            }
            let result: ActionResult
            let started = clock()
            if let skip = skipReason(action, options: options, failedObjects: failedObjects, failedNetworks: failedNetworks) {
                result = skip
            } else {
                starting(action)
                do {
                    try host.perform(action)
                    switch action.operation {
                    case .restartContainer: result = .restarted
                    case .replaceContainer: result = .replaced
                    default: result = .applied
                    }
                } catch {
                    result = .failed("\(error)")
                }
            }
            if !result.changedHost { notDone.insert(action.object) }
            if result.failed {
                failedObjects.insert(action.object)
                if case .network(let name) = action.object { failedNetworks.insert(name) }
            }
            let outcome = Outcome(action: action, result: result, milliseconds: clock() &- started)
            outcomes.append(outcome)
            report(outcome)
        }
        return outcomes
    }

    static func skipReason(_ action: Action, options: ApplyOptions, failedObjects: Set<ObjectRef>, failedNetworks: Set<String>)
        -> ActionResult?
    {
        switch action.operation {
        case .restartContainer where !options.restart: return .pendingRestart
        case .replaceContainer where !options.replace: return .skipped(.needsReplace)
        case .leaveOrphan: return .skipped(.needsPrune)
        default: break
        }
        if failedObjects.contains(action.object) { return .skipped(.earlierFailure(action.object)) }
        // An old bridge goes only once nothing is left on it.
        if case .deleteOldBridge(_, let moved) = action.operation,
            let stuck = moved.map(ObjectRef.container).first(where: failedObjects.contains)
        {
            return .skipped(.earlierFailure(stuck))
        }
        let networks: [NetworkObject]
        switch action.operation {
        case .createContainer(_, let attached), .startContainer(_, let attached), .restartContainer(_, let attached),
            .replaceContainer(_, let attached), .updateNetworks(_, let attached), .adoptContainer(_, _, let attached):
            networks = attached
        default: networks = []
        }
        if let failed = networks.first(where: { failedNetworks.contains($0.metadata.name) }) {
            return .skipped(.networkFailed(failed.metadata.name))
        }
        return nil
    }
}
