import Model
import Reconcile
import Testing

@testable import berth

/// `berth apply EMPTYDIR --prune` while another source's containers run:
/// the empty plan says whose objects were left alone.
struct OtherSourcesNoteTests {
    let empty = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [])

    func observed(_ inventories: [Inventory]) -> ObservedHost {
        var host = ObservedHost()
        for inventory in inventories { host.inventories[inventory.source] = inventory }
        return host
    }

    @Test func anEmptySourceSaysWhatOtherSourcesHold() throws {
        let host = observed([
            Inventory(source: "/srv/a", containers: ["web1", "web2"], networks: ["front"]),
            Inventory(source: "/srv/b", containers: ["db"]),
            Inventory(source: "/srv/empty"),
        ])
        let note = try #require(
            Reconciliation.otherSourcesNote(empty, host, options: PlanOptions(prune: true, scope: .source("/srv/empty"))))
        #expect(note.contains("3 containers, 1 network belong to other sources (/srv/a, /srv/b)"))
        #expect(note.contains("berth apply --prune` and no path"))
    }

    @Test func noNoteWithoutPruneForTheInstanceOrWhenNothingElseIsHeld() {
        let host = observed([Inventory(source: "/srv/a", containers: ["web1"])])
        #expect(Reconciliation.otherSourcesNote(empty, host, options: PlanOptions(prune: false, scope: .source("/srv/empty"))) == nil)
        #expect(Reconciliation.otherSourcesNote(empty, host, options: PlanOptions(prune: true, scope: .instance)) == nil)
        #expect(Reconciliation.otherSourcesNote(empty, host, options: PlanOptions(prune: true, scope: .source("/srv/a"))) == nil)
    }
}
