import Model
import Testing

@testable import Reconcile

/// Ownership (Flux's inventory model): a source prunes only what it
/// applied, shows it as orphans without --prune, and refuses another
/// source's objects.
@Suite struct InventoryPlannerTests {
    let planner = PlannerTests()

    func observed(_ containers: [ContainerObject], inventories: [Inventory], networks: [String: String] = [:]) -> ObservedHost {
        var observed = ObservedHost(containers: containers.map { planner.running($0) }, networks: Set(networks.keys))
        observed.recordedNetworks = networks
        observed.inventories = Dictionary(inventories.map { ($0.source, $0) }, uniquingKeysWith: { first, _ in first })
        return observed
    }

    @Test func aFirstApplyRecordsWhatTheSourceNames() {
        let web = planner.container("web1")
        let actions = Planner.plan(desired: planner.host([web]), observed: ObservedHost(), options: PlanOptions(scope: .source("/srv/a")))
        #expect(actions.map(\.kind) == [.create, .record])
        #expect(actions.last?.operation == .recordInventory(Inventory(source: "/srv/a", containers: ["web1"]), deleting: []))
        #expect(actions.last?.description == "record Inventory[/srv/a] containers: absent → web1 (\(Reason.inventoryChanged))")
    }

    @Test func aMatchingSourcePlansNothing() {
        let web = planner.container("web1")
        let host = observed([web], inventories: [Inventory(source: "/srv/a", containers: ["web1"])])
        #expect(Planner.plan(desired: planner.host([web]), observed: host, options: PlanOptions(scope: .source("/srv/a"))).isEmpty)
        #expect(Planner.drift(desired: planner.host([web]), observed: host, options: PlanOptions(scope: .source("/srv/a"))).isEmpty)
    }

    @Test func aContainerNoManifestNamesIsAnOrphanWithoutPruneAndDeletedWithIt() {
        let web = planner.container("web1")
        let old = planner.container("old1")
        let other = planner.container("b1")
        let host = observed(
            [web, old, other],
            inventories: [Inventory(source: "/srv/a", containers: ["web1", "old1"]), Inventory(source: "/srv/b", containers: ["b1"])])
        let orphans = Planner.plan(desired: planner.host([web]), observed: host, options: PlanOptions(scope: .source("/srv/a")))
        #expect(orphans.map(\.kind) == [.orphan])
        #expect(orphans.map(\.object) == [.container("old1")])
        #expect(orphans.first?.reason == .noManifestOfSource("/srv/a", prune: false))
        // Drift reports it too (a plan with orphans is not "No changes").
        let drift = Planner.drift(desired: planner.host([web]), observed: host, options: PlanOptions(scope: .source("/srv/a")))
        #expect(drift.map(\.kind) == [.orphan])

        let pruned = Planner.plan(desired: planner.host([web]), observed: host, options: PlanOptions(prune: true, scope: .source("/srv/a")))
        #expect(pruned.map(\.kind) == [.delete, .record])
        #expect(pruned.map(\.object) == [.container("old1"), .inventory(source: "/srv/a")])
        #expect(
            pruned.last?.operation
                == .recordInventory(Inventory(source: "/srv/a", containers: ["web1"]), deleting: [.container("old1")]))
        // Another source's container and one in no inventory are never touched.
        #expect(!pruned.contains { $0.object == .container("b1") })
    }

    @Test func anOrphanGoneFromTheHostLeavesTheInventory() throws {
        let web = planner.container("web1")
        let host = observed([web], inventories: [Inventory(source: "/srv/a", containers: ["web1", "gone"], networks: ["lost"])])
        let actions = Planner.plan(desired: planner.host([web]), observed: host, options: PlanOptions(scope: .source("/srv/a")))
        #expect(actions.map(\.kind) == [.record])
        #expect(actions.first?.operation == .recordInventory(Inventory(source: "/srv/a", containers: ["web1"]), deleting: []))
    }

    @Test func networksAreOrphansOrDeletedAfterContainers() throws {
        let host = observed(
            [planner.container("old1")], inventories: [Inventory(source: "/srv/a", containers: ["old1"], networks: ["front"])],
            networks: ["front": "br-front"])
        let pruned = Planner.plan(desired: planner.host([]), observed: host, options: PlanOptions(prune: true, scope: .source("/srv/a")))
        #expect(pruned.map(\.object) == [.container("old1"), .network("front"), .inventory(source: "/srv/a")])
        #expect(pruned[1].operation == .deleteNetwork(bridge: "br-front"))
        #expect(pruned.last?.operation == .recordInventory(Inventory(source: "/srv/a"), deleting: [.container("old1"), .network("front")]))
    }

    @Test func anotherSourcesObjectIsRefusedOrTakenOver() throws {
        let web = planner.container("web1")
        let front = try planner.network("front")
        let host = observed(
            [web], inventories: [Inventory(source: "/srv/b", containers: ["web1", "b2"], networks: ["front"])], networks: ["front": "br-front"])
        let desired = planner.host([web], networks: [front])
        let options = PlanOptions(scope: .source("/srv/a"))
        #expect(
            Planner.conflicts(desired: desired, observed: host, options: options) == [
                OwnershipConflict(object: .network("front"), owner: "/srv/b"), OwnershipConflict(object: .container("web1"), owner: "/srv/b"),
            ])
        // Left out of the plan: nothing of source b is touched or claimed.
        #expect(Planner.plan(desired: desired, observed: host, options: options).isEmpty)

        let takeOver = PlanOptions(scope: .source("/srv/a"), takeOwnership: true)
        #expect(Planner.conflicts(desired: desired, observed: host, options: takeOver).isEmpty)
        let actions = Planner.plan(desired: desired, observed: host, options: takeOver)
        #expect(
            actions.map(\.operation) == [
                .recordInventory(Inventory(source: "/srv/a", containers: ["web1"], networks: ["front"]), deleting: []),
                .recordInventory(Inventory(source: "/srv/b", containers: ["b2"]), deleting: []),
            ])
    }

    @Test func pruningTheWholeInstanceEmptiesEveryInventory() {
        let host = observed(
            [planner.container("a1"), planner.container("b1")],
            inventories: [Inventory(source: "/srv/a", containers: ["a1"]), Inventory(source: "/srv/b", containers: ["b1"])])
        let actions = Planner.plan(desired: planner.host([]), observed: host, options: PlanOptions(prune: true))
        #expect(actions.map(\.kind) == [.delete, .delete, .record, .record])
        #expect(
            actions.suffix(2).map(\.operation) == [
                .recordInventory(Inventory(source: "/srv/a"), deleting: [.container("a1")]),
                .recordInventory(Inventory(source: "/srv/b"), deleting: [.container("b1")]),
            ])
    }

    @Test func aNetworkAnotherSourceAppliedAsTheManifestSaysIsShared() throws {
        let front = try planner.network("front")
        let web = planner.container("web1")
        var host = observed([], inventories: [Inventory(source: "/srv/b", networks: ["front"])], networks: ["front": "br-front"])
        host.networkSpecs["front"] = front.spec
        let options = PlanOptions(scope: .source("/srv/a"))
        let desired = planner.host([web], networks: [front])
        #expect(Planner.conflicts(desired: desired, observed: host, options: options).isEmpty)
        #expect(Planner.sharedNetworks(desired: desired, observed: host, options: options) == ["front"])
        let actions = Planner.plan(desired: desired, observed: host, options: options)
        // The container is this source's; the network stays source b's.
        #expect(actions.map(\.object) == [.container("web1"), .inventory(source: "/srv/a")])
        #expect(actions.last?.operation == .recordInventory(Inventory(source: "/srv/a", containers: ["web1"]), deleting: []))
        // Another spec for it is a conflict.
        var changed = front
        changed.spec.mtu = 1400
        #expect(
            Planner.conflicts(desired: planner.host([web], networks: [changed]), observed: host, options: options) == [
                OwnershipConflict(object: .network("front"), owner: "/srv/b")
            ])
    }
}
