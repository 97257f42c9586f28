import Model

extension Planner {
    /// Every difference between desired and observed, per the objects' drift
    /// policy (ignore: not reported; warn and enforce: reported). Computed as
    /// the plan would be with every policy enforcing, so drift and plan can
    /// never disagree about what differs.
    /// `options`: the source whose orphans are reported (never pruned).
    public static func drift(desired: DesiredHost, observed: ObservedHost, options: PlanOptions = PlanOptions()) -> [Drift] {
        var policies: [ObjectRef: DriftPolicy] = [:]
        for container in desired.containers { policies[.container(container.metadata.name)] = container.spec.drift }
        for network in desired.networks {
            let policy = network.spec.drift
            policies[.network(network.metadata.name)] = policy
            policies[.ruleset(network: network.metadata.name)] = policy
        }
        var result: [Drift] = []
        var options = options
        options.prune = false
        for action in plan(desired: desired, observed: observed, options: options, enforceAll: true) {
            // Berth's own records are not the host.
            if case .inventory = action.object { continue }
            let policy = policies[action.object] ?? .enforce
            if policy == .ignore { continue }
            for change in action.changes {
                result.append(
                    Drift(
                        object: action.object, field: change.field, desired: change.desired, observed: change.observed, policy: policy,
                        origin: change.origin, kind: action.kind))
            }
        }
        return result
    }
}
