import Kernel
import Logging
import Model
import Reconcile
import Runtime

/// Observe, plan and apply: manifests in, a host that matches them out. The
/// CLI's plan/apply/drift and the agent share this one engine; the host is
/// a `HostRuntime` (LinuxHost, or a fake in tests).
public struct Reconciler<Host: HostRuntime> {
    public let host: Host
    let logger: Logger

    public init(host: Host, logger: Logger) {
        self.host = host
        self.logger = logger
    }

    public func observe(_ desired: DesiredHost) -> ObservedHost { host.observe(desired) }

    public func plan(_ desired: DesiredHost, options: PlanOptions = PlanOptions()) -> [Action] {
        Planner.plan(desired: desired, observed: observe(desired), options: options)
    }

    /// Carries out `plan` in order (Executor): a failed action does not stop
    /// the others. Every outcome is a structured event, and is passed to
    /// `report` as it happens; `starting` hears of each action carried out
    /// before it starts (for a progress line).
    @discardableResult
    public func apply(
        _ plan: [Action], options: ApplyOptions = ApplyOptions(), starting: (Action) -> Void = { _ in },
        report: (Outcome) -> Void = { _ in }
    ) -> [Outcome] {
        let outcomes = Executor.apply(plan, on: host, options: options, clock: MonotonicClock.microseconds, starting: starting) { outcome in
            log(outcome)
            report(outcome)
        }
        host.finish(plan)
        return outcomes
    }

    /// Differences between the manifests and the kernel; read-only. Only
    /// changes made behind berth's back are logged as drift.
    public func drift(_ desired: DesiredHost, options: PlanOptions = PlanOptions()) -> [Drift] {
        let drifts = Planner.drift(desired: desired, observed: observe(desired), options: options)
        log(drifts)
        return drifts
    }

    /// One "applied" event per outcome (level error when it failed), with a
    /// readable message (`message(_:)`) and the typed fields.
    public func log(_ outcome: Outcome) {
        let action = outcome.action
        var metadata: Logger.Metadata = [
            "object": "\(action.object)", "action": "\(action.kind.rawValue)", "result": "\(outcome.result)",
            "reason": "\(action.reason)", "duration_ms": "\(outcome.milliseconds)",
        ]
        if let origin = action.origin { metadata["origin"] = "\(origin.rawValue)" }
        if !action.changes.isEmpty {
            metadata["field"] = "\(action.changes.map(\.field).joined(separator: ","))"
            metadata["desired"] = "\(action.changes.map(\.desired.description).joined(separator: ","))"
            metadata["observed"] = "\(action.changes.map(\.observed.description).joined(separator: ","))"
        }
        metadata["event"] = "applied"
        logger.log(level: outcome.result.failed ? .error : .info, "\(Reconciler.message(outcome))", metadata: metadata)
    }

    /// The event's MESSAGE, a sentence a person reads in `journalctl`
    /// without -x: "web1: memory.max 64Mi → 128Mi (drift repaired)",
    /// "web1: created", "Network/front: create failed: ...".
    public static func message(_ outcome: Outcome) -> String {
        let action = outcome.action
        let subject = subject(action.object)
        let changes = action.changes.map { "\(shortField($0.field)) \($0.observed) → \($0.desired)" }.joined(separator: "; ")
        switch outcome.result {
        case .applied, .restarted, .replaced:
            if changes.isEmpty { return "\(subject): \(pastTense(action.kind, outcome.result))" }
            let how = action.origin == .drift ? "drift repaired" : pastTense(action.kind, outcome.result)
            return "\(subject): \(changes) (\(how))"
        case .pendingRestart, .skipped:
            return "\(subject): \(changes.isEmpty ? action.kind.rawValue : changes) (\(outcome.result))"
        case .failed(let error):
            return "\(subject): \(changes.isEmpty ? action.kind.rawValue : changes) failed: \(error)"
        }
    }

    /// "web1" for a container, "Network/front" and "Ruleset/nat" for the rest.
    static func subject(_ object: ObjectRef) -> String {
        if case .container(let name) = object { return name }
        return object.description
    }

    /// "memory.max" for spec.resources.memory.max, "hostname" for spec.hostname.
    static func shortField(_ field: String) -> String {
        for prefix in ["spec.resources.", "spec."] where field.hasPrefix(prefix) { return String(field.dropFirst(prefix.count)) }
        return field
    }

    static func pastTense(_ kind: Action.Kind, _ result: ActionResult) -> String {
        switch result {
        case .restarted: return "restarted"
        case .replaced: return "replaced"
        default: return kind.done
        }
    }

    /// One "drift" event per change made behind berth's back.
    public func log(_ drifts: [Drift]) {
        for drift in drifts where drift.origin == .drift {
            logger.info(
                "\(Reconciler.subject(drift.object)): \(Reconciler.shortField(drift.field)) drifted to \(drift.observed) (manifest \(drift.desired), policy \(drift.policy.rawValue))",
                metadata: [
                    "event": "drift", "object": "\(drift.object)", "field": "\(drift.field)", "desired": "\(drift.desired)",
                    "observed": "\(drift.observed)", "policy": "\(drift.policy.rawValue)",
                ])
        }
    }
}

extension Reconciler where Host == LinuxHost {
    /// The engine over this host's runtime.
    public init(runtime: ContainerRuntime, logger: Logger) {
        self.init(host: LinuxHost(runtime: runtime, logger: logger), logger: logger)
    }

    public var runtime: ContainerRuntime { host.runtime }
}
