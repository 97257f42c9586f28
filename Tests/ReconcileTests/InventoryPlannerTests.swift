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

/// A container renamed in its manifest keeps its address: the old one,
/// still running, holds it. Without --prune that is an address conflict
/// (plan refuses, the agent leaves the new one alone); with --prune the
/// old one is deleted before the new one is created.
@Suite struct AddressConflictPlannerTests {
    let planner = PlannerTests()

    func attached(_ name: String, _ address: String) throws -> ContainerObject {
        let cidr = try CIDR(parsing: address, requirePrefix: false)
        return planner.container(name) { $0.networks = [NetworkAttachment(network: "front", addresses: [cidr])] }
    }

    @Test func aRenamedContainersAddressIsHeldUntilTheOldOneIsDeleted() throws {
        let old = try attached("web2", "10.88.0.12")
        let renamed = try attached("web3", "10.88.0.12")
        let front = try planner.network("front")
        var host = ObservedHost(containers: [planner.running(old)], networks: ["front"])
        host.inventories = ["/srv/a": Inventory(source: "/srv/a", containers: ["web2"], networks: ["front"])]
        let desired = planner.host([renamed], networks: [front])
        let kept = Planner.plan(desired: desired, observed: host, options: PlanOptions(scope: .source("/srv/a")))
        let conflicts = Planner.addressConflicts(desired: desired, observed: host, actions: kept)
        #expect(conflicts.map(\.description) == ["address 10.88.0.12 on network front is held by running container web2, which no manifest names"])
        #expect(conflicts.first?.container == "web3" && conflicts.first?.field == "spec.networks[0].addresses[0]")

        let pruned = Planner.plan(desired: desired, observed: host, options: PlanOptions(prune: true, scope: .source("/srv/a")))
        #expect(Planner.addressConflicts(desired: desired, observed: host, actions: pruned).isEmpty)
        // The old one goes first, before the new one is created.
        let deleteAt = pruned.firstIndex { $0.object == .container("web2") && $0.kind == .delete }
        let createAt = pruned.firstIndex { $0.object == .container("web3") && $0.kind == .create }
        #expect((deleteAt ?? .max) < (createAt ?? -1), "\(pruned.map(\.description))")

        // Another address, a stopped holder, or a holder on another network: no conflict.
        let moved = planner.host([try attached("web3", "10.88.0.13")], networks: [front])
        #expect(Planner.addressConflicts(desired: moved, observed: host, actions: kept).isEmpty)
        let stopped = ObservedHost(containers: [planner.running(old, state: .stopped)], networks: ["front"])
        #expect(Planner.addressConflicts(desired: desired, observed: stopped, actions: kept).isEmpty)
    }
}
