import Model
import Testing

@testable import Reconcile

/// The host's default profile (a Profile named `default`, merged first into
/// every container when manifests are resolved) reaches the planner as plain
/// limits and a profile name: a new container's create shows every limit it
/// gets; a running container applied before the default existed is planned
/// with each limit it gains, live, and the profile's name in berth's record.
@Suite struct DefaultLimitsPlanTests {
    static let source = SourceLocation(file: "t", line: 1, column: 1)

    static var defaultLimits: ResourcesSpec {
        var resources = ResourcesSpec()
        resources.cpu = CPUSpec(limit: CPUQuantity(millicores: 1000))
        resources.memory = MemorySpec(max: ByteSize(bytes: 512 << 20))
        resources.pids = PidsSpec(max: 1024)
        return resources
    }

    @Test func aNewContainerIsPlannedWithEveryLimitItGets() {
        var spec = ContainerSpec()
        spec.rootfs = RootfsSpec(source: .template("busybox"))
        spec.profiles = ["default"]
        spec.resources = DefaultLimitsPlanTests.defaultLimits
        let web = ContainerObject(
            metadata: ObjectMeta(name: "web1"), spec: spec.resolved(name: "web1", defaultRootfs: .template("busybox")),
            source: DefaultLimitsPlanTests.source)
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [web])
        let actions = Planner.plan(desired: desired, observed: ObservedHost())
        #expect(actions.map(\.kind) == [.create])
        #expect(
            actions.first?.changes.map { "\($0.field): \($0.observed) → \($0.desired)" } == [
                "spec.state: absent → running", "spec.resources.cpu.limit: unlimited → 1", "spec.resources.memory.max: unlimited → 512Mi",
                "spec.resources.pids.max: unlimited → 1024",
            ])
    }

    @Test func defaultLimitsAddedLaterAreShownInThePlanOfARunningContainer() {
        var before = ContainerSpec()
        before.rootfs = RootfsSpec(source: .template("busybox"))
        var after = before
        after.profiles = ["default"]
        let resources = DefaultLimitsPlanTests.defaultLimits
        after.resources = resources
        let web = ContainerObject(
            metadata: ObjectMeta(name: "web1"), spec: after.resolved(name: "web1", defaultRootfs: .template("busybox")),
            source: DefaultLimitsPlanTests.source)
        let current = ObservedContainer(
            name: "web1", state: .running, recordedSpec: before.resolved(name: "web1", defaultRootfs: .template("busybox")),
            resources: ObservedResources(kernel: ResourceValues(spec: nil), expected: ResourceValues(spec: resources)))
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [web])
        let actions = Planner.plan(desired: desired, observed: ObservedHost(containers: [current]))
        let fields = actions.flatMap(\.changes).map { "\($0.field): \($0.observed) → \($0.desired)" }
        #expect(fields.contains("spec.resources.pids.max: unlimited → 1024"), "\(fields)")
        #expect(fields.contains("spec.resources.memory.max: unlimited → 512Mi"), "\(fields)")
        #expect(fields.contains("spec.profiles: - → default"), "\(fields)")
        #expect(actions.map(\.kind).contains(.updateLive))
    }
}
