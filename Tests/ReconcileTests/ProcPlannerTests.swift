import Model
import Testing

@testable import Reconcile

/// `proc.virtualize`: observed in the init's mountinfo, taken at a restart.
@Suite struct ProcPlannerTests {
    let planner = PlannerTests()

    func observed(_ object: ContainerObject, recorded: ContainerConfig? = nil, virtualized: Bool?, lxcfsLive: Bool) -> ObservedHost {
        var container = planner.running(object)
        if let recorded { container.recordedSpec = recorded }
        container.procVirtualized = virtualized
        var host = ObservedHost(containers: [container])
        host.lxcfsLive = lxcfsLive
        return host
    }

    func web(_ virtualize: Bool?) -> ContainerObject {
        planner.container("web") { $0.proc = virtualize.map { ProcSpec(virtualize: $0) } }
    }

    @Test(arguments: [
        // (manifest, observed over /proc, LXCFS live now)
        (Bool?.none, true, true), (nil, false, false), (true, true, true), (true, true, false), (false, false, true), (false, false, false),
    ])
    func matchingProcPlansNothing(virtualize: Bool?, virtualized: Bool, lxcfsLive: Bool) {
        let object = web(virtualize)
        let host = observed(object, virtualized: virtualized, lxcfsLive: lxcfsLive)
        #expect(Planner.plan(desired: planner.host([object]), observed: host).isEmpty)
    }

    @Test func notObservedPlansNothing() {
        let object = web(true)
        #expect(Planner.plan(desired: planner.host([object]), observed: observed(object, virtualized: nil, lxcfsLive: false)).isEmpty)
    }

    @Test func manifestTurningItOnIsPendingRestart() {
        let object = web(true)
        let host = observed(object, recorded: web(false).spec, virtualized: false, lxcfsLive: true)
        let actions = Planner.plan(desired: planner.host([object]), observed: host)
        #expect(actions.map(\.kind) == [.pendingRestart])
        #expect(
            actions.first?.changes == [FieldChange("spec.proc.virtualize", desired: .text("lxcfs"), observed: .text("host"), origin: .manifest)])
    }

    @Test func lxcfsMountsGoneIsDriftRepairedAtRestartUnlessWarned() {
        let object = web(true)
        let host = observed(object, virtualized: false, lxcfsLive: true)
        let actions = Planner.plan(desired: planner.host([object]), observed: host)
        #expect(actions.map(\.kind) == [.pendingRestart])
        #expect(actions.first?.changes.first?.origin == .drift)
        #expect(Planner.drift(desired: planner.host([object]), observed: host).count == 1)
        // With drift policy warn: reported by drift, not planned.
        let warned = planner.container("web") {
            $0.proc = ProcSpec(virtualize: true)
            $0.policy = ObjectPolicy(drift: .warn)
        }
        #expect(Planner.plan(desired: planner.host([warned]), observed: observed(warned, virtualized: false, lxcfsLive: true)).isEmpty)
    }

    @Test func unsetFollowsLXCFS() {
        // Started before LXCFS ran; LXCFS runs now: its /proc becomes the container's at the next start.
        let object = web(nil)
        let actions = Planner.plan(desired: planner.host([object]), observed: observed(object, virtualized: false, lxcfsLive: true))
        #expect(actions.map(\.kind) == [.pendingRestart])
        #expect(actions.first?.changes.first?.description == "spec.proc.virtualize: host → lxcfs")
    }

    @Test func stoppedContainerRecordsTheChange() {
        let object = planner.container("web") {
            $0.proc = ProcSpec(virtualize: false)
            $0.state = .stopped
        }
        var recorded = object.spec
        recorded.procVirtualize = nil
        let container = ObservedContainer(name: "web", state: .stopped, recordedSpec: recorded)
        let actions = Planner.plan(desired: planner.host([object]), observed: ObservedHost(containers: [container]))
        #expect(actions.map(\.kind) == [.updateLive])
        #expect(actions.first?.changes.map(\.description) == ["spec.proc.virtualize: lxcfs where it runs → host"])
    }
}
