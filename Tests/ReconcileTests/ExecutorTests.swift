import Model
import Testing

@testable import Reconcile

/// The engine's apply, with a fake host: what it carries out, in which
/// order, and what becomes of each action.
@Suite struct ExecutorTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "write memory.max: Device or resource busy (EBUSY)" }
    }

    final class FakeHost: HostRuntime {
        var performed: [Action] = []
        var failing: Set<ObjectRef> = []
        func observe(_ desired: DesiredHost) -> ObservedHost { ObservedHost() }
        func perform(_ action: Action) throws {
            performed.append(action)
            if failing.contains(action.object) { throw Failure() }
        }
    }

    static let source = SourceLocation(file: "t", line: 1, column: 1)
    let web = ContainerObject(
        metadata: ObjectMeta(name: "web1"), spec: ContainerSpec().resolved(name: "web1", defaultRootfs: .template("busybox")),
        source: ExecutorTests.source)

    func network(_ name: String) throws -> NetworkObject {
        NetworkObject(
            metadata: ObjectMeta(name: name), spec: NetworkSpec(subnet: try CIDR(parsing: "10.88.0.0/24")).resolved(name: name),
            source: ExecutorTests.source)
    }

    @Test func everyActionKindIsCarriedOutExactlyAsPlanned() throws {
        let front = try network("front")
        let plan = [
            Action(.network("front"), .createNetwork(front), reason: .doesNotExist),
            Action(.container("web1"), .createContainer(web, networks: [front]), reason: .doesNotExist),
            Action(.container("web2"), .startContainer(web, networks: []), reason: .notRunning),
            Action(.container("web3"), .stopContainer(timeout: Interval(milliseconds: 5)), reason: .stateStopped),
            Action(.container("web4"), .freezeContainer, reason: .stateFrozen),
            Action(.container("web5"), .thawContainer, reason: .frozenButRunningWanted),
            Action(.container("web6"), .updateResources(ResourcesSpec()), reason: .liveChange),
            Action(.container("web7"), .updateFirewall(nil), reason: .firewallReplacedLive),
            Action(.container("web8"), .updateRecord(web.spec), reason: .recordOnly),
            Action(.container("web9"), .deleteContainer, reason: .noManifest),
            Action(.network("old"), .deleteNetwork(bridge: "br-old"), reason: .noManifest),
            Action(.network("front"), .repairBridge(front), reason: .bridgeRepaired),
            Action(.network("front"), .moveBridge(front, from: "br-old"), reason: .bridgeRenamed(from: "br-old")),
            Action(.network("front"), .deleteOldBridge(bridge: "br-old", movedContainers: ["web1"]), reason: .containersMoved(to: "br-front")),
            Action(.ruleset(network: "front"), .applyRuleset(front, reached: [], containers: [web]), reason: .rulesetDiffers),
            Action(.ruleset(network: "*"), .deleteLegacyNAT(table: "berth_berth"), reason: .legacyNATTable),
            Action(.forwarding(bridge: "br-front"), .enableForwarding(bridge: "br-front"), reason: .forwardingNeeded(network: "front")),
            Action(.container("web10"), .adoptContainer(web, pid: 42, networks: []), reason: .runningWithoutRecord(pid: 42)),
        ]
        let host = FakeHost()
        let outcomes = Executor.apply(plan, on: host)
        #expect(host.performed == plan)
        #expect(outcomes.map(\.result) == Array(repeating: .applied, count: plan.count))
    }

    @Test func anOutcomeHasItsMicrosecondsAndTheMillisecondsAMillisecondClockReads() throws {
        // The clock reads microseconds: 1.9999 ms to 2.0001 ms is 200 µs,
        // and 1 ms on a millisecond clock (as durationMs always was).
        var readings: [UInt64] = [1_999_900, 2_000_100]
        let plan = [Action(.container("web1"), .createContainer(web, networks: []), reason: .doesNotExist)]
        let outcomes = Executor.apply(plan, on: FakeHost(), clock: { readings.removeFirst() })
        let outcome = try #require(outcomes.first)
        #expect(outcome.microseconds == 200)
        #expect(outcome.milliseconds == 1)
        #expect(outcome.finished == 2000)
    }

    @Test func pendingRestartAndReplaceWaitForTheirFlags() {
        let plan = [
            Action(.container("web1"), .restartContainer(web, networks: []), reason: .appliedAtRestart),
            Action(.container("web2"), .replaceContainer(web, networks: []), reason: .anotherRootfs),
        ]
        let host = FakeHost()
        #expect(Executor.apply(plan, on: host).map(\.result) == [.pendingRestart, .skipped(.needsReplace)])
        #expect(host.performed.isEmpty)
        let flagged = FakeHost()
        let outcomes = Executor.apply(plan, on: flagged, options: ApplyOptions(restart: true, replace: true))
        #expect(outcomes.map(\.result) == [.restarted, .replaced])
        #expect(flagged.performed == plan)
    }

    @Test func aFailureIsReportedAndWhatDependsOnItIsSkippedWithTheReason() throws {
        let front = try network("front")
        let plan = [
            Action(.network("front"), .createNetwork(front), reason: .doesNotExist),
            Action(.container("web1"), .createContainer(web, networks: [front]), reason: .doesNotExist),
            Action(.container("web2"), .updateResources(ResourcesSpec()), reason: .liveChange),
            Action(.container("web2"), .updateFirewall(nil), reason: .firewallReplacedLive),
            Action(.container("web3"), .deleteContainer, reason: .noManifest),
        ]
        let host = FakeHost()
        host.failing = [.network("front"), .container("web2")]
        var reported: [Outcome] = []
        let outcomes = Executor.apply(plan, on: host, report: { reported.append($0) })
        #expect(
            outcomes.map(\.result) == [
                .failed("write memory.max: Device or resource busy (EBUSY)"), .skipped(.networkFailed("front")),
                .failed("write memory.max: Device or resource busy (EBUSY)"), .skipped(.earlierFailure(.container("web2"))), .applied,
            ])
        #expect(reported == outcomes)
        #expect(host.performed.map(\.object) == [.network("front"), .container("web2"), .container("web3")])
        #expect(outcomes.filter(\.result.changedHost).count == 1)
    }

    @Test func anOldBridgeStaysWhenAContainerCouldNotMoveOffIt() throws {
        let front = try network("front")
        let plan = [
            Action(.network("front"), .moveBridge(front, from: "br-old"), reason: .bridgeRenamed(from: "br-old")),
            Action(.container("web1"), .updateNetworks(web, networks: [front]), reason: .networkChangedLive),
            Action(.container("web2"), .updateNetworks(web, networks: [front]), reason: .networkChangedLive),
            Action(
                .network("front"), .deleteOldBridge(bridge: "br-old", movedContainers: ["web1", "web2"]), reason: .containersMoved(to: "br-front")),
        ]
        let host = FakeHost()
        host.failing = [.container("web2")]
        #expect(
            Executor.apply(plan, on: host).map(\.result) == [
                .applied, .applied, .failed("write memory.max: Device or resource busy (EBUSY)"), .skipped(.earlierFailure(.container("web2"))),
            ])
        host.failing = []
        #expect(Executor.apply(plan, on: host).allSatisfy { $0.result == .applied })
    }
}

extension ExecutorTests {
    @Test func anOrphanIsLeftAndAFailedDeleteStaysInTheInventory() {
        let plan = [
            Action(.container("old1"), .leaveOrphan, reason: .noManifestOfSource("/srv/a", prune: false)),
            Action(.container("old2"), .deleteContainer, reason: .noManifestOfSource("/srv/a", prune: true)),
            Action(.container("old3"), .deleteContainer, reason: .noManifestOfSource("/srv/a", prune: true)),
            Action(
                .inventory(source: "/srv/a"),
                .recordInventory(Inventory(source: "/srv/a", containers: ["old1", "web1"]), deleting: [.container("old2"), .container("old3")]),
                reason: .inventoryChanged),
        ]
        let host = FakeHost()
        host.failing = [.container("old2")]
        let outcomes = Executor.apply(plan, on: host)
        #expect(outcomes.map(\.result) == [.skipped(.needsPrune), .failed(Failure().description), .applied, .applied])
        #expect(host.performed.map(\.object) == [.container("old2"), .container("old3"), .inventory(source: "/srv/a")])
        // old2 is still there: its source keeps it, to delete it next time.
        #expect(
            host.performed.last?.operation
                == .recordInventory(Inventory(source: "/srv/a", containers: ["old1", "old2", "web1"]), deleting: []))
    }
}
