import Model
import Testing

@testable import Reconcile

@Suite struct PlannerTests {
    func container(_ name: String, memory: UInt64? = nil, configure: (inout ContainerSpec) -> Void = { _ in }) -> ContainerObject {
        var spec = ContainerSpec()
        spec.rootfs = RootfsSpec(source: .template("busybox"))
        if let memory {
            var resources = ResourcesSpec()
            resources.memory = MemorySpec(max: ByteSize(bytes: memory))
            spec.resources = resources
        }
        configure(&spec)
        return ContainerObject(metadata: ObjectMeta(name: name), spec: spec, source: SourceLocation(file: "t", line: 1, column: 1))
    }

    func running(_ object: ContainerObject, memory: UInt64? = nil) -> ObservedContainer {
        ObservedContainer(
            name: object.metadata.name, running: true, recordedSpec: object.spec,
            resources: ObservedResources(cpuWeight: 100, cpuLimitMillicores: nil, memoryMax: memory, pidsMax: nil))
    }

    func network(_ name: String) throws -> NetworkObject {
        NetworkObject(
            metadata: ObjectMeta(name: name), spec: NetworkSpec(subnet: try CIDR(parsing: "10.88.0.0/24")),
            source: SourceLocation(file: "t", line: 1, column: 1))
    }

    @Test func emptyHostGetsNetworksBeforeContainers() throws {
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [try network("front")], containers: [container("web1")])
        let actions = Planner.plan(desired: desired, observed: ObservedHost())
        #expect(actions.map(\.kind) == [.create, .create])
        #expect(actions.map(\.object) == ["Network/front", "Container/web1"])
    }

    @Test func matchingHostPlansNothing() throws {
        let web = container("web1", memory: 128 << 20)
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [try network("front")], containers: [web])
        let observed = ObservedHost(containers: [running(web, memory: 128 << 20)], networks: ["front"])
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
        #expect(Planner.drift(desired: desired, observed: observed).isEmpty)
    }

    @Test func pageRoundedMemoryIsNotDrift() {
        let web = container("web1", memory: (64 << 20) + 100)
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [web])
        let observed = ObservedHost(containers: [running(web, memory: 64 << 20)])
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
    }

    @Test func changedMemoryIsAnUpdateLiveWithOldAndNew() {
        let web = container("web1", memory: 256 << 20)
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [web])
        let actions = Planner.plan(desired: desired, observed: ObservedHost(containers: [running(web, memory: 128 << 20)]))
        #expect(
            actions == [
                Action(
                    .updateLive, "Container/web1", field: "spec.resources.memory.max", old: "128Mi", new: "256Mi",
                    reason: "the kernel can change it live")
            ])
    }

    @Test func changedInitIsPendingRestartAndAnotherTemplateIsAReplace() {
        let old = container("web1")
        let new = container("web1") { spec in
            spec.`init` = InitSpec(command: ["/bin/httpd", "-f"])
            spec.rootfs = RootfsSpec(source: .directory("/srv/root"))
        }
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [new])
        let actions = Planner.plan(desired: desired, observed: ObservedHost(containers: [running(old)]))
        #expect(actions.map(\.kind) == [.replace, .pendingRestart])
        #expect(actions.last?.field == "spec.init")
    }

    @Test func pruneDeletesOnlyWhenAskedAndOnlyWhatIsObserved() {
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [])
        let observed = ObservedHost(containers: [running(container("old"))])
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
        #expect(Planner.plan(desired: desired, observed: observed, options: PlanOptions(prune: true)).map(\.kind) == [.delete])
    }

    @Test func pruneDeletesRecordedNetworksAfterContainers() {
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [])
        var observed = ObservedHost(containers: [running(container("old"))])
        observed.recordedNetworks = ["front": "br-front"]
        let actions = Planner.plan(desired: desired, observed: observed, options: PlanOptions(prune: true))
        #expect(actions.map(\.object) == ["Container/old", "Network/front"])
        #expect(actions.last?.old == "br-front")
    }

    @Test func driftRespectsPolicy() {
        let warn = container("warn", memory: 128 << 20) { $0.policy = ObjectPolicy(drift: .warn) }
        let ignore = container("ignore", memory: 128 << 20) { $0.policy = ObjectPolicy(drift: .ignore) }
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [warn, ignore])
        let observed = ObservedHost(containers: [running(warn, memory: 64 << 20), running(ignore, memory: 64 << 20)])
        let drifts = Planner.drift(desired: desired, observed: observed)
        #expect(drifts.map(\.object) == ["Container/warn"])
        #expect(drifts.first?.policy == .warn)
    }

    @Test func stoppedStateStopsARunningContainer() {
        let web = container("web1") { $0.state = .stopped }
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [web])
        #expect(Planner.plan(desired: desired, observed: ObservedHost(containers: [running(web)])).map(\.kind) == [.stop])
    }
}
