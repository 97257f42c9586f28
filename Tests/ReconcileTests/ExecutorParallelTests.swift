import Dispatch
import Foundation
import Model
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import Reconcile

/// Creates and deletes of distinct containers carried out side by side, on
/// a fake host that lets several run at once.
@Suite struct ExecutorParallelTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "write cpuset.cpus: Invalid argument (EINVAL)" }
    }

    final class ParallelHost: HostRuntime, Sendable {
        let performed = Mutex<[Action]>([])
        /// Actions running now, and the most there were at once.
        let running = Mutex((now: 0, most: 0))
        /// Each batch announced, with how many actions had been performed then.
        let begun = Mutex<[(actions: [Action], performedBefore: Int)]>([])
        /// Each batch ended, with how many actions had been performed then.
        let ended = Mutex<[(actions: [Action], performedBefore: Int)]>([])
        let failing: Set<ObjectRef>
        let parallelActions: Int

        init(failing: Set<ObjectRef> = [], width: Int = 4) {
            self.failing = failing
            parallelActions = width
        }

        func observe(_ desired: DesiredHost) -> ObservedHost { ObservedHost() }

        func perform(_ action: Action) throws {
            running.withLock { running in
                running.now += 1
                running.most = max(running.most, running.now)
            }
            // Long enough for the others to start meanwhile.
            usleep(20_000)
            performed.withLock { $0.append(action) }
            running.withLock { $0.now -= 1 }
            if failing.contains(action.object) { throw Failure() }
        }

        func beginBatch(_ actions: [Action]) {
            let performedBefore = performed.withLock { $0.count }
            begun.withLock { $0.append((actions, performedBefore)) }
        }

        func endBatch(_ actions: [Action]) {
            let performedBefore = performed.withLock { $0.count }
            ended.withLock { $0.append((actions, performedBefore)) }
        }

        func concurrently(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) {
            // At most `width` at once: each of `width` threads takes every width-th index.
            let group = DispatchGroup()
            for lane in 0..<min(width, count) {
                group.enter()
                Thread.detachNewThread {
                    for index in stride(from: lane, to: count, by: width) { body(index) }
                    group.leave()
                }
            }
            group.wait()
        }
    }

    static let source = SourceLocation(file: "t", line: 1, column: 1)

    func container(_ name: String) -> ContainerObject {
        ContainerObject(
            metadata: ObjectMeta(name: name), spec: ContainerConfig(name: name, rootfs: .template("busybox")), source: ExecutorParallelTests.source)
    }

    @Test func oneFailingCreateAmongManyStopsNoneOfTheOthersAndEachHasItsOutcome() throws {
        let front = NetworkObject(
            metadata: ObjectMeta(name: "front"), spec: NetworkSpec(subnet: try CIDR(parsing: "10.88.0.0/24")).resolved(name: "front"),
            source: Self.source)
        let names = (1...8).map { "web\($0)" }
        let plan =
            [Action(.network("front"), .createNetwork(front), reason: .doesNotExist)]
            + names.map { Action(.container($0), .createContainer(container($0), networks: [front]), reason: .doesNotExist) }
            + [Action(.ruleset(network: "front"), .applyRuleset(front, reached: [], containers: []), reason: .rulesetDiffers)]
        let host = ParallelHost(failing: [.container("web3")])
        var reported: [Outcome] = []
        var clock: UInt64 = 0
        let outcomes = Executor.apply(
            plan, on: host,
            clock: {
                clock += 1; return clock
            }, report: { reported.append($0) })

        // One outcome per action, in the plan's order; only web3 failed.
        #expect(outcomes.map(\.action) == plan)
        #expect(outcomes.filter(\.result.failed).map(\.action.object) == [.container("web3")])
        #expect(outcomes.filter { $0.result == .applied }.count == plan.count - 1)
        // Each reported once, as it finished.
        #expect(reported.count == plan.count)
        #expect(Set(reported) == Set(outcomes))
        // Side by side, never more than the host allows; the network before
        // every create, the ruleset after all of them.
        let performed = host.performed.withLock { $0 }
        #expect(host.running.withLock { $0.most } > 1)
        #expect(host.running.withLock { $0.most } <= 4)
        #expect(performed.first?.object == .network("front"))
        #expect(performed.last?.object == .ruleset(network: "front"))
        #expect(Set(performed.dropFirst().dropLast().map(\.object)) == Set(names.map(ObjectRef.container)))
    }

    @Test func deletesRunSideBySideAndAFailedOneStaysInTheInventory() {
        let plan =
            ["old1", "old2", "old3", "old4"].map { Action(.container($0), .deleteContainer, reason: .noManifestOfSource("/srv/a", prune: true)) }
            + [
                Action(
                    .inventory(source: "/srv/a"),
                    .recordInventory(
                        Inventory(source: "/srv/a", containers: []),
                        deleting: ["old1", "old2", "old3", "old4"].map(ObjectRef.container)),
                    reason: .inventoryChanged)
            ]
        let host = ParallelHost(failing: [.container("old2")])
        let outcomes = Executor.apply(plan, on: host)
        #expect(outcomes.map(\.result) == [.applied, .failed(Failure().description), .applied, .applied, .applied])
        #expect(host.running.withLock { $0.most } > 1)
        #expect(
            host.performed.withLock { $0.last?.operation }
                == .recordInventory(Inventory(source: "/srv/a", containers: ["old2"]), deleting: []))
    }

    @Test func aBatchIsAnnouncedBeforeItsFirstActionAndEndedAfterItsLastWithoutTheActionsItSkips() {
        let deletes = ["old1", "old2", "old3"].map { Action(.container($0), .deleteContainer, reason: .noManifest) }
        let plan = [Action(.container("old2"), .updateFirewall(nil), reason: .firewallReplacedLive)] + deletes
        let host = ParallelHost(failing: [.container("old2")])
        let outcomes = Executor.apply(plan, on: host)
        #expect(outcomes.map(\.result) == [.failed(Failure().description), .applied, .skipped(.earlierFailure(.container("old2"))), .applied])
        // One batch, the deletes: announced after the firewall update and
        // before any of them, without old2's (skipped: never carried out).
        let begun = host.begun.withLock { $0 }
        #expect(begun.map(\.actions) == [[deletes[0], deletes[2]]])
        #expect(begun.map(\.performedBefore) == [1])
        // And ended once both were carried out, with the same actions.
        let ended = host.ended.withLock { $0 }
        #expect(ended.map(\.actions) == [[deletes[0], deletes[2]]])
        #expect(ended.map(\.performedBefore) == [3])
    }

    @Test func onlyCreatesOfDistinctContainersOfOneFamilyGoTogether() {
        let web = container("web1")
        let plan = [
            Action(.container("web1"), .createContainer(web, networks: []), reason: .doesNotExist),
            Action(.container("web2"), .startContainer(web, networks: []), reason: .notRunning),
            Action(.container("web2"), .updateFirewall(nil), reason: .firewallReplacedLive),
            Action(.container("web3"), .deleteContainer, reason: .noManifest),
            Action(.container("web4"), .deleteContainer, reason: .noManifest),
            Action(.container("web4"), .deleteContainer, reason: .noManifest),
            Action(.container("web5"), .createContainer(web, networks: []), reason: .doesNotExist),
        ]
        #expect(Executor.sideBySide(plan, from: 0) == 0..<2)
        #expect(Executor.sideBySide(plan, from: 2) == 2..<3)
        #expect(Executor.sideBySide(plan, from: 3) == 3..<5)
        #expect(Executor.sideBySide(plan, from: 5) == 5..<6)
        #expect(Executor.sideBySide(plan, from: 6) == 6..<7)
    }
}
