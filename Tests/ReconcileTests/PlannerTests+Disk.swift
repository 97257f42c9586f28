import Model
import Testing

@testable import Reconcile

/// A disk quota's changes as its backend can take them: a disk image grows
/// live and shrinks at a restart; a project quota changes live either way;
/// an inode limit is live where the backend has quotas, else at a restart;
/// a quota added or removed is a replace, its inode limit with it.
@Suite struct DiskPlannerTests {
    static let source = SourceLocation(file: "t", line: 1, column: 1)

    func container(size: UInt64?, inodes: UInt64? = nil, userQuota: Bool? = nil) -> ContainerObject {
        var spec = ContainerSpec()
        spec.rootfs = RootfsSpec(source: .template("busybox"))
        if let size {
            var resources = ResourcesSpec()
            resources.disk = DiskSpec(size: ByteSize(bytes: size), inodes: inodes, userQuota: userQuota)
            spec.resources = resources
        }
        return ContainerObject(
            metadata: ObjectMeta(name: "dq"), spec: spec.resolved(name: "dq", defaultRootfs: .template("busybox")), source: DiskPlannerTests.source)
    }

    /// A busybox container named `name` with the resources `edit` sets.
    static func container(_ name: String, _ edit: (inout ResourcesSpec) -> Void) -> ContainerObject {
        var spec = ContainerSpec()
        spec.rootfs = RootfsSpec(source: .template("busybox"))
        var resources = ResourcesSpec()
        edit(&resources)
        spec.resources = resources
        return ContainerObject(
            metadata: ObjectMeta(name: name), spec: spec.resolved(name: name, defaultRootfs: .template("busybox")), source: source)
    }

    /// The plan for `wanted` where `held` was applied and the kernel holds it.
    func plan(_ wanted: ContainerObject, held: ContainerObject, disk: DiskQuotaChanges, growsLive: Bool = true) -> [String] {
        let kernel = ResourceValues(spec: held.spec.resources)
        let observed = ObservedContainer(
            name: "dq", state: .running, recordedSpec: held.spec,
            resources: ObservedResources(kernel: kernel, expected: ResourceValues(spec: wanted.spec.resources), disk: disk))
        var host = ObservedHost(containers: [observed])
        host.diskGrowsLive = growsLive
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [wanted])
        return Planner.plan(desired: desired, observed: host).map(\.description)
    }

    static let image = DiskQuotaChanges(shrinksLive: false, inodeLimitLive: true)
    static let imageWithoutQuotas = DiskQuotaChanges(shrinksLive: false, inodeLimitLive: false)
    static let project = DiskQuotaChanges(shrinksLive: true, inodeLimitLive: true)

    @Test func aProjectQuotaShrinksLiveWhereAnImageWaitsForARestart() {
        let small = container(size: 16 << 20)
        let big = container(size: 64 << 20)
        let live = plan(small, held: big, disk: DiskPlannerTests.project)
        #expect(live.count == 1 && live[0].hasPrefix("update-live Container/dq spec.resources.disk.size: 64Mi → 16Mi"), "\(live)")
        let restart = plan(small, held: big, disk: DiskPlannerTests.image)
        #expect(restart.count == 1 && restart[0].hasPrefix("pending-restart Container/dq spec.resources.disk.size: 64Mi → 16Mi"), "\(restart)")
        // Grown: live on both, and on a project even where images cannot grow online.
        let grown = plan(big, held: small, disk: DiskPlannerTests.project, growsLive: false)
        #expect(grown.count == 1 && grown[0].hasPrefix("update-live"), "\(grown)")
    }

    /// An image made before its space was a quota inside it: plan says it
    /// gets its block limit, live, though the size is what was written.
    @Test func anImageWithoutItsBlockLimitGetsItLive() {
        let sized = container(size: 32 << 20)
        let missing = DiskQuotaChanges(shrinksLive: false, inodeLimitLive: true, spaceLimitMissing: true)
        let live = plan(sized, held: sized, disk: missing)
        #expect(live.count == 1 && live[0].hasPrefix("update-live Container/dq spec.resources.disk.size:"), "\(live)")
        #expect(live.first?.contains("without a quota block limit") == true, "\(live)")
        #expect(plan(sized, held: sized, disk: DiskPlannerTests.image).isEmpty)
    }

    @Test func anInodeLimitIsLiveWhereTheBackendHasQuotasElseAtARestart() {
        let limited = container(size: 32 << 20, inodes: 512)
        let held = container(size: 32 << 20, inodes: 64)
        for disk in [DiskPlannerTests.image, DiskPlannerTests.project] {
            let live = plan(limited, held: held, disk: disk)
            #expect(live.count == 1 && live[0].hasPrefix("update-live Container/dq spec.resources.disk.inodes: 64 → 512"), "\(live)")
        }
        let unlimited = container(size: 32 << 20)
        let restart = plan(limited, held: unlimited, disk: DiskPlannerTests.imageWithoutQuotas)
        #expect(
            restart.count == 1 && restart[0].hasPrefix("pending-restart Container/dq spec.resources.disk.inodes: unlimited → 512"), "\(restart)")
        // Removed: live (the limit goes), on any backend.
        let removed = plan(unlimited, held: limited, disk: DiskPlannerTests.image)
        #expect(removed.count == 1 && removed[0].hasPrefix("update-live Container/dq spec.resources.disk.inodes: 512 → unlimited"), "\(removed)")
    }

    @Test func aQuotaAddedWithAnInodeLimitIsOneReplace() {
        let plain = container(size: nil)
        let limited = container(size: 32 << 20, inodes: 512)
        let actions = plan(limited, held: plain, disk: DiskQuotaChanges())
        #expect(actions.count == 1, "\(actions)")
        #expect(
            actions.first?.hasPrefix("replace Container/dq spec.resources.disk.size: absent → 32Mi; spec.resources.disk.inodes: unlimited → 512")
                == true, "\(actions)")
    }

    @Test func aUserQuotaTurnedOnOrOffIsARestartAndUnsetIsFalse() {
        let plain = container(size: 32 << 20)
        let quota = container(size: 32 << 20, userQuota: true)
        let on = plan(quota, held: plain, disk: DiskPlannerTests.image)
        #expect(on.count == 1 && on[0].hasPrefix("pending-restart Container/dq spec.resources.disk.userQuota: false → true"), "\(on)")
        let off = plan(plain, held: quota, disk: DiskPlannerTests.image)
        #expect(off.count == 1 && off[0].hasPrefix("pending-restart Container/dq spec.resources.disk.userQuota: true → false"), "\(off)")
        #expect(plan(container(size: 32 << 20, userQuota: false), held: plain, disk: DiskPlannerTests.image).isEmpty)
        // Added with the quota itself: one replace.
        let added = plan(quota, held: container(size: nil), disk: DiskQuotaChanges())
        #expect(added.count == 1 && added[0].hasPrefix("replace Container/dq spec.resources.disk.size: absent → 32Mi"), "\(added)")
    }

    @Test func matchingQuotaPlansNothing() {
        let limited = container(size: 32 << 20, inodes: 512)
        #expect(plan(limited, held: limited, disk: DiskPlannerTests.project).isEmpty)
    }
}

/// numpty is live: the devpts instance's max= changes while the container
/// runs; one the kernel holds otherwise (an admin's remount) is drift.
@Suite struct PseudoTerminalPlannerTests {
    func container(numpty: Int?) -> ContainerObject { DiskPlannerTests.container("pt") { $0.numpty = numpty } }

    func plan(_ wanted: ContainerObject, recorded: ContainerObject, kernel: Int?) -> [String] {
        var held = ResourceValues(spec: recorded.spec.resources)
        held.numpty = kernel
        let observed = ObservedContainer(
            name: "pt", state: .running, recordedSpec: recorded.spec,
            resources: ObservedResources(kernel: held, expected: ResourceValues(spec: wanted.spec.resources)))
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [wanted])
        return Planner.plan(desired: desired, observed: ObservedHost(containers: [observed])).map(\.description)
    }

    @Test func aNewLimitIsLiveAndARemountBehindBerthsBackIsDrift() {
        let eight = container(numpty: 8)
        let live = plan(eight, recorded: container(numpty: 4), kernel: 4)
        #expect(live.count == 1 && live[0].hasPrefix("update-live Container/pt spec.resources.numpty: 4 → 8"), "\(live)")
        let unlimited = plan(container(numpty: nil), recorded: eight, kernel: 8)
        #expect(unlimited.count == 1 && unlimited[0].hasPrefix("update-live Container/pt spec.resources.numpty: 8 → unlimited"), "\(unlimited)")
        let drift = plan(eight, recorded: eight, kernel: 3)
        #expect(drift.count == 1 && drift[0].hasPrefix("update-live Container/pt spec.resources.numpty: 3 → 8"), "\(drift)")
        #expect(plan(eight, recorded: eight, kernel: 8).isEmpty)
    }
}

/// numfile is live where berth may raise the init's hard limit; a raise it
/// may not make (no CAP_SYS_RESOURCE) waits for the next start, where the
/// shim sets it before exec, and is never an update that fails.
@Suite struct OpenFilesPlannerTests {
    func container(numfile: Int?) -> ContainerObject { DiskPlannerTests.container("nf") { $0.numfile = numfile } }

    func plan(_ wanted: ContainerObject, recorded: ContainerObject, kernel: Int?, live: Bool) -> [String] {
        var held = ResourceValues(spec: recorded.spec.resources)
        held.numfile = kernel
        let observed = ObservedContainer(
            name: "nf", state: .running, recordedSpec: recorded.spec,
            resources: ObservedResources(kernel: held, expected: ResourceValues(spec: wanted.spec.resources), openFilesLimitLive: live))
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [wanted])
        return Planner.plan(desired: desired, observed: ObservedHost(containers: [observed])).map(\.description)
    }

    @Test func aRaiseBerthCannotMakeLiveIsPendingRestart() {
        let more = container(numfile: 1024)
        let less = container(numfile: 512)
        let live = plan(more, recorded: less, kernel: 512, live: true)
        #expect(live.count == 1 && live[0].hasPrefix("update-live Container/nf spec.resources.numfile: 512 → 1024"), "\(live)")
        let restart = plan(more, recorded: less, kernel: 512, live: false)
        #expect(restart.count == 1 && restart[0].hasPrefix("pending-restart Container/nf spec.resources.numfile: 512 → 1024"), "\(restart)")
        // Applied (recorded) and still waiting: still pending, never "No changes".
        let waiting = plan(more, recorded: more, kernel: 512, live: false)
        #expect(waiting.count == 1 && waiting[0].hasPrefix("pending-restart"), "\(waiting)")
        // Lowered behind berth's back where it cannot raise it: drift, for the next start.
        #expect(plan(less, recorded: less, kernel: 256, live: false).first?.hasPrefix("pending-restart") == true)
        #expect(plan(less, recorded: less, kernel: 512, live: false).isEmpty)
    }
}
