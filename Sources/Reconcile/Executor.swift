import Model
import Synchronization

/// What the engine needs of a host: observe it, and carry out one action.
/// The Linux implementation lives in Engine (LinuxHost); tests use a fake.
public protocol HostRuntime {
    func observe(_ desired: DesiredHost) -> ObservedHost
    /// Carries out `action`'s operation, exactly; throws what went wrong.
    func perform(_ action: Action) throws
    /// How many independent container creates (or deletes) may be carried
    /// out at once; above 1, `perform` must be safe to call from several
    /// threads at a time. Default 1: one after another.
    var parallelActions: Int { get }
    /// Runs `body(index)` for every index in 0..<count, at most `width` at
    /// once, and returns when all have run. Default: one after another.
    func concurrently(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void)
    /// Called once before a batch of side-by-side actions is carried out,
    /// with the ones that will be (none skipped): what can overlap across
    /// the batch starts here (the inits of a batch of deletes are all
    /// killed first, so their exits overlap). It must change nothing the
    /// actions' outcomes do not already say. Default: nothing.
    func beginBatch(_ actions: [Action])
    /// Called once the batch `beginBatch` heard of is carried out (each
    /// action's outcome settled), before the next action: what beginBatch
    /// started is finished here. Default: nothing.
    func endBatch(_ actions: [Action])
    /// Hears the whole plan before its first action is carried out (a host
    /// may start work that only its own later actions depend on). Default:
    /// nothing.
    func prepare(_ plan: [Action])
    /// Called once every action of the plan is carried out: what the
    /// actions left for the end of the pass is done here. Default: nothing.
    func finish(_ plan: [Action])
}

extension HostRuntime {
    public var parallelActions: Int { 1 }
    public func prepare(_ plan: [Action]) {}
    public func finish(_ plan: [Action]) {}
    public func concurrently(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) {
        for index in 0..<count { body(index) }
    }
    public func beginBatch(_ actions: [Action]) {}
    public func endBatch(_ actions: [Action]) {}
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
    /// Checkpointed: brought back only by `berth restore`.
    case checkpointed

    public var description: String {
        switch self {
        case .needsReplace: return "pass --replace"
        case .earlierFailure(let object): return "an earlier action on \(object) failed"
        case .networkFailed(let network): return "network \(network) could not be made"
        case .needsPrune: return "orphan, left alone: pass --prune to delete it"
        case .checkpointed: return "checkpointed, left alone: berth restore brings it back"
        }
    }
}

public struct Outcome: Hashable, Sendable {
    public var action: Action
    public var result: ActionResult
    /// How long it took, in milliseconds (0 when not carried out): the
    /// millisecond clock's readings apart, as a millisecond clock reads it.
    public var milliseconds: UInt64
    /// How long it took, in microseconds (0 when not carried out).
    public var microseconds: UInt64
    /// The apply's clock when it finished (milliseconds; 0 without a clock).
    public var finished: UInt64

    public init(action: Action, result: ActionResult, milliseconds: UInt64 = 0, microseconds: UInt64 = 0, finished: UInt64 = 0) {
        self.action = action
        self.result = result
        self.milliseconds = milliseconds
        self.microseconds = microseconds
        self.finished = finished
    }

    /// From the apply's clock (microseconds) when it started and finished.
    init(action: Action, result: ActionResult, started: UInt64, finished: UInt64) {
        self.init(
            action: action, result: result, milliseconds: finished / 1000 &- started / 1000, microseconds: finished &- started,
            finished: finished / 1000)
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
/// the others; what depends on it is skipped, with the reason. A run of
/// creates (or of deletes) of distinct containers, which depend on nothing
/// but what came before them, is carried out side by side when the host
/// allows it (`parallelActions`): outcomes are still one per action, in
/// the plan's order, and each is reported as it finishes. `clock` reads
/// microseconds (an outcome's milliseconds are its readings' milliseconds).
public enum Executor {
    public static func apply(
        _ plan: [Action], on host: some HostRuntime, options: ApplyOptions = ApplyOptions(), clock: () -> UInt64 = { 0 },
        starting: (Action) -> Void = { _ in }, report: (Outcome) -> Void = { _ in }
    ) -> [Outcome] {
        host.prepare(plan)
        var outcomes: [Outcome] = []
        var failedObjects: Set<ObjectRef> = []
        var failedNetworks: Set<String> = []
        var notDone: Set<ObjectRef> = []
        func settle(_ outcome: Outcome) {
            if !outcome.result.changedHost { notDone.insert(outcome.action.object) }
            if outcome.result.failed {
                failedObjects.insert(outcome.action.object)
                if case .network(let name) = outcome.action.object { failedNetworks.insert(name) }
            }
            outcomes.append(outcome)
        }
        var index = plan.startIndex
        while index < plan.endIndex {
            let batch = host.parallelActions > 1 ? sideBySide(plan, from: index) : index..<(index + 1)
            if batch.count > 1 {
                // Skips are decided first: nothing in the batch changes them.
                let results = batch.map { skipReason(plan[$0], options: options, failedObjects: failedObjects, failedNetworks: failedNetworks) }
                for outcome in applyBatch(
                    Array(plan[batch]), skips: results, on: host, clock: clock, starting: starting, report: report)
                {
                    settle(outcome)
                }
                index = batch.upperBound
                continue
            }
            var action = plan[index]
            index += 1
            // An object whose delete did not happen stays in its inventory.
            if case .recordInventory(var inventory, let deleting) = action.operation {
                let kept = deleting.filter(notDone.contains)
                inventory = Inventory(
                    source: inventory.source,
                    containers: inventory.containers + kept.compactMap { if case .container(let name) = $0 { name } else { nil } },
                    networks: inventory.networks + kept.compactMap { if case .network(let name) = $0 { name } else { nil } })
                action.operation = .recordInventory(inventory, deleting: [])
            }
            let started = clock()
            let result: ActionResult
            if let skip = skipReason(action, options: options, failedObjects: failedObjects, failedNetworks: failedNetworks) {
                result = skip
            } else {
                starting(action)
                result = carryOut(action, on: host)
            }
            let finished = clock()
            let outcome = Outcome(action: action, result: result, started: started, finished: finished)
            settle(outcome)
            report(outcome)
        }
        return outcomes
    }

    /// `perform`, and what became of it.
    static func carryOut(_ action: Action, on host: some HostRuntime) -> ActionResult {
        do {
            try host.perform(action)
            switch action.operation {
            case .restartContainer: return .restarted
            case .replaceContainer: return .replaced
            default: return .applied
            }
        } catch {
            return .failed("\(error)")
        }
    }

    /// Which operations may run side by side with others of their family:
    /// 0 creates and starts, 1 deletes (nil: one at a time).
    static func family(_ operation: Operation) -> Int? {
        switch operation {
        case .createContainer, .startContainer: return 0
        case .deleteContainer: return 1
        default: return nil
        }
    }

    /// The actions from `start` on that may be carried out side by side: one
    /// family, each on its own container.
    static func sideBySide(_ plan: [Action], from start: Int) -> Range<Int> {
        guard let kind = family(plan[start].operation) else { return start..<(start + 1) }
        var objects: Set<ObjectRef> = [plan[start].object]
        var end = start + 1
        while end < plan.endIndex, family(plan[end].operation) == kind, objects.insert(plan[end].object).inserted { end += 1 }
        return start..<end
    }

    /// Carries out a batch of independent actions `host.parallelActions` at
    /// a time. The first runs alone: it makes what all of them share (a
    /// template, the cgroup parent). `starting` and `report` are called one
    /// at a time, as each action starts and finishes.
    static func applyBatch(
        _ batch: [Action], skips: [ActionResult?], on host: some HostRuntime, clock: () -> UInt64, starting: (Action) -> Void,
        report: (Outcome) -> Void
    ) -> [Outcome] {
        withoutActuallyEscaping(clock) { clock in
            withoutActuallyEscaping(starting) { starting in
                withoutActuallyEscaping(report) { report in
                    // The host opted in to calls from several threads
                    // (parallelActions > 1); the caller's closures are called
                    // under the lock only, never at once.
                    let shared = Shared(
                        UncheckedSendable((host: host, clock: clock, starting: starting, report: report)), count: batch.count)
                    let work: @Sendable (Int) -> Void = { position in
                        guard let context = shared.state.withLock({ $0.context })?.value else { return }
                        let action = batch[position]
                        let skip = skips[position]
                        let started = shared.state.withLock { _ in
                            if skip == nil { context.starting(action) }
                            return context.clock()
                        }
                        let result = skip ?? carryOut(action, on: context.host)
                        shared.state.withLock { state in
                            let finished = context.clock()
                            let outcome = Outcome(action: action, result: result, started: started, finished: finished)
                            state.outcomes[position] = outcome
                            context.report(outcome)
                        }
                    }
                    let carriedOut = batch.indices.filter { skips[$0] == nil }.map { batch[$0] }
                    host.beginBatch(carriedOut)
                    work(0)
                    host.concurrently(batch.count - 1, width: host.parallelActions) { work($0 + 1) }
                    host.endBatch(carriedOut)
                    // The caller's closures are let go of here, whoever still
                    // holds `shared` (they must not outlive this call).
                    return shared.state.withLock { state in
                        state.context = nil
                        return state.outcomes.compactMap { $0 }
                    }
                }
            }
        }
    }

    /// What a batch's threads share, under one lock: the caller's host and
    /// closures (until the batch is done), and the outcomes by position.
    final class Shared<Context>: Sendable {
        let state: Mutex<(outcomes: [Outcome?], context: UncheckedSendable<Context>?)>
        init(_ context: UncheckedSendable<Context>, count: Int) {
            state = Mutex((Array(repeating: nil, count: count), context))
        }
    }

    static func skipReason(_ action: Action, options: ApplyOptions, failedObjects: Set<ObjectRef>, failedNetworks: Set<String>)
        -> ActionResult?
    {
        switch action.operation {
        case .restartContainer where !options.restart: return .pendingRestart
        case .replaceContainer where !options.replace: return .skipped(.needsReplace)
        case .leaveOrphan: return .skipped(.needsPrune)
        case .leaveCheckpointed: return .skipped(.checkpointed)
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

/// A value whose owner vouches for its use across threads (the host and
/// closures of a batch, used under its lock or by a host that opted in).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
