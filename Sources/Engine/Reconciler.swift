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
    /// `report` as it happens.
    @discardableResult
    public func apply(_ plan: [Action], options: ApplyOptions = ApplyOptions(), report: (Outcome) -> Void = { _ in }) -> [Outcome] {
        Executor.apply(plan, on: host, options: options, clock: MonotonicClock.milliseconds) { outcome in
            log(outcome)
            report(outcome)
        }
    }

    /// Differences between the manifests and the kernel; read-only. Only
    /// changes made behind berth's back are logged as drift.
    public func drift(_ desired: DesiredHost, options: PlanOptions = PlanOptions()) -> [Drift] {
        let drifts = Planner.drift(desired: desired, observed: observe(desired), options: options)
        log(drifts)
        return drifts
    }

    /// One "applied" event per outcome (level error when it failed), with a
    /// readable message and the typed fields.
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
        logger.log(level: outcome.result.failed ? .error : .info, "applied", metadata: metadata)
    }

    /// One "drift" event per change made behind berth's back.
    public func log(_ drifts: [Drift]) {
        for drift in drifts where drift.origin == .drift {
            logger.info(
                "drift",
                metadata: [
                    "object": "\(drift.object)", "field": "\(drift.field)", "desired": "\(drift.desired)", "observed": "\(drift.observed)",
                    "policy": "\(drift.policy.rawValue)",
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
