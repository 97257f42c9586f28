import Model

extension Planner {
    /// What each desired network's nftables table is built from: the
    /// network, the networks it may reach (their bridges) and the containers
    /// its port forwards name (their addresses). Observation builds the
    /// same tables to compare them.
    public static func rulesetInputs(_ desired: DesiredHost)
        -> [(network: NetworkObject, reached: [NetworkObject], containers: [ContainerObject])]
    {
        let byName = Dictionary(desired.networks.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        return desired.networks.map { network in
            let named = Set(network.spec.portForwards.map(\.container))
            return (
                network, network.spec.reach.compactMap { byName[$0] },
                desired.containers.filter { named.contains($0.metadata.name) }
            )
        }
    }

    /// Each desired network whose nftables table differs: replaced as a
    /// whole (one transaction). A network no manifest of this run names is
    /// not planned at all, so its table stays as it is; nor is one of
    /// another source (`foreign`), shared or not: its own source plans it.
    static func rulesetActions(_ desired: DesiredHost, _ observed: ObservedHost, enforceAll: Bool, foreign: Set<ObjectRef> = [])
        -> [Action]
    {
        var actions: [Action] = rulesetInputs(desired).compactMap { network, reached, containers in
            let name = network.metadata.name
            guard !foreign.contains(.network(name)) else { return nil }
            // With drift policy warn or ignore, a table changed behind
            // berth's back is left alone; a manifest change is applied.
            let enforce = enforceAll || network.spec.drift == .enforce
            let changes = (observed.rulesets[name] ?? []).filter { enforce || $0.origin == .manifest }
            guard !changes.isEmpty else { return nil }
            return Action(
                .ruleset(network: name), .applyRuleset(network, reached: reached, containers: containers), changes: changes,
                reason: .rulesetDiffers)
        }
        // The table older versions kept for every network goes once each
        // network berth has has its own, or gets it in this run (then none
        // loses a forward).
        let names = Set(desired.networks.map(\.metadata.name).filter { !foreign.contains(.network($0)) })
        if let legacy = observed.legacyNATTable,
            observed.recordedNetworks.keys.allSatisfy({ names.contains($0) || observed.networksWithTables.contains($0) })
        {
            actions.append(
                Action(
                    .ruleset(network: "*"), .deleteLegacyNAT(table: legacy),
                    changes: [FieldChange("table", desired: .absent, observed: .text("ip \(legacy)"), origin: .manifest)],
                    reason: .legacyNATTable))
        }
        return actions
    }
}
