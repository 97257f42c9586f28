import Model
import Testing

@testable import Reconcile

/// A container `berth checkpoint` dumped is checkpointed, not stopped: the
/// plan shows it and leaves it alone (a fresh start would lose what the
/// image holds) until `berth restore` brings it back.
@Suite struct CheckpointPlannerTests {
    let planner = PlannerTests()
    static let mark = CheckpointMark(directory: "/srv/images/web1", time: 1_796_334_480)

    func checkpointed(_ object: ContainerObject) -> ObservedContainer {
        ObservedContainer(name: object.metadata.name, state: .checkpointed(CheckpointPlannerTests.mark), recordedSpec: object.spec)
    }

    @Test func aCheckpointedContainerWantedRunningIsShownAndNotStarted() {
        let web = planner.container("web1")
        let actions = Planner.plan(desired: planner.host([web]), observed: ObservedHost(containers: [checkpointed(web)]))
        #expect(
            actions == [
                Action(
                    .container("web1"), .leaveCheckpointed,
                    changes: [
                        FieldChange(
                            "spec.state", desired: .text("running"), observed: .runState(.checkpointed(CheckpointPlannerTests.mark)),
                            origin: .drift)
                    ], reason: .checkpointed(directory: "/srv/images/web1"))
            ])
        #expect(actions.map(\.kind) == [.checkpointed])
        #expect(
            actions.first?.description
                == "checkpointed Container/web1 spec.state: checkpointed to /srv/images/web1 at 2026-12-03T21:48:00Z → running "
                + "(its processes are in a checkpoint image: not started afresh; berth restore --from /srv/images/web1 brings it back, "
                + "berth stop forgets the checkpoint)")
        #expect(!actions.contains { if case .startContainer = $0.operation { return true } else { return false } })
    }

    @Test func aFrozenOrChangedManifestStillLeavesItAlone() {
        let web = planner.container("web1", memory: 256 << 20) { $0.state = .frozen }
        let actions = Planner.plan(desired: planner.host([web]), observed: ObservedHost(containers: [checkpointed(planner.container("web1"))]))
        #expect(actions.map(\.kind) == [.checkpointed])
        #expect(actions.first?.changes.first?.origin == .manifest)
    }

    @Test func driftReportsItAsCheckpointed() {
        let web = planner.container("web1")
        let drift = Planner.drift(desired: planner.host([web]), observed: ObservedHost(containers: [checkpointed(web)]))
        #expect(drift.map(\.kind) == [.checkpointed])
        #expect(drift.map(\.field) == ["spec.state"])
        #expect(drift.first?.observed.description == "checkpointed to /srv/images/web1 at 2026-12-03T21:48:00Z")
    }

    @Test func aCheckpointedContainerWantedStoppedIsAsStopped() {
        let web = planner.container("web1") { $0.state = .stopped }
        var observed = checkpointed(web)
        #expect(Planner.plan(desired: planner.host([web]), observed: ObservedHost(containers: [observed])).isEmpty)
        // A changed field goes to the record, as for a stopped container.
        observed.recordedSpec?.restartPolicy = .always
        #expect(Planner.plan(desired: planner.host([web]), observed: ObservedHost(containers: [observed])).map(\.kind) == [.updateLive])
    }

    @Test func pruneStillDeletesACheckpointedContainer() {
        let web = planner.container("web1")
        let actions = Planner.plan(
            desired: planner.host([]), observed: ObservedHost(containers: [checkpointed(web)]), options: PlanOptions(prune: true))
        #expect(actions.map(\.kind) == [.delete])
    }

    @Test func theExecutorSkipsIt() {
        let plan = [Action(.container("web1"), .leaveCheckpointed, reason: .checkpointed(directory: "/srv/images/web1"))]
        let host = ExecutorTests.FakeHost()
        #expect(Executor.apply(plan, on: host).map(\.result) == [.skipped(.checkpointed)])
        #expect(host.performed.isEmpty)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"), (Int64(951_782_400), "2000-02-29T00:00:00Z"), (Int64(1_796_334_480), "2026-12-03T21:48:00Z"),
        (Int64(4_107_542_399), "2100-02-28T23:59:59Z"), (Int64(-1), "1969-12-31T23:59:59Z"),
    ])
    func markTimesAreUTC(_ seconds: Int64, _ text: String) {
        #expect(CheckpointMark.utc(seconds) == text)
    }
}
