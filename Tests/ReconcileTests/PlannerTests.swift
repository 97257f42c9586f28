import Foundation
import Model
import Testing

@testable import Reconcile

/// The planner is a pure function: its tests compare whole typed plans.
@Suite struct PlannerTests {
    static let source = SourceLocation(file: "t", line: 1, column: 1)

    func container(_ name: String, memory: UInt64? = nil, configure: (inout ContainerSpec) -> Void = { _ in }) -> ContainerObject {
        var spec = ContainerSpec()
        spec.rootfs = RootfsSpec(source: .template("busybox"))
        if let memory {
            var resources = ResourcesSpec()
            resources.memory = MemorySpec(max: ByteSize(bytes: memory))
            spec.resources = resources
        }
        configure(&spec)
        return ContainerObject(
            metadata: ObjectMeta(name: name), spec: spec.resolved(name: name, defaultRootfs: .template("busybox")), source: PlannerTests.source)
    }

    /// Running as the manifest says; `kernel` overrides what the kernel holds.
    func running(_ object: ContainerObject, state: ObservedRunState = .running, kernel: (inout ResourceValues) -> Void = { _ in })
        -> ObservedContainer
    {
        let expected = ResourceValues(spec: object.spec.resources)
        var held = expected
        kernel(&held)
        return ObservedContainer(
            name: object.metadata.name, state: state, recordedSpec: object.spec, resources: ObservedResources(kernel: held, expected: expected))
    }

    func network(_ name: String) throws -> NetworkObject {
        NetworkObject(
            metadata: ObjectMeta(name: name), spec: NetworkSpec(subnet: try CIDR(parsing: "10.88.0.0/24")).resolved(name: name),
            source: PlannerTests.source)
    }

    func host(_ containers: [ContainerObject], networks: [NetworkObject] = []) -> DesiredHost {
        DesiredHost(host: HostFacts(name: "h"), networks: networks, containers: containers)
    }

    @Test func emptyHostGetsNetworksBeforeContainers() throws {
        let front = try network("front")
        let web = container("web1")
        let actions = Planner.plan(desired: host([web], networks: [front]), observed: ObservedHost())
        #expect(actions.map(\.kind) == [.create, .create])
        #expect(actions.map(\.object) == [.network("front"), .container("web1")])
        #expect(actions.map(\.reason) == [.doesNotExist, .doesNotExist])
        #expect(actions.last?.description == "create Container/web1 spec.state: absent → running (does not exist)")
    }

    @Test func matchingHostPlansNothing() throws {
        let web = container("web1", memory: 128 << 20)
        let observed = ObservedHost(containers: [running(web)], networks: ["front"])
        let desired = host([web], networks: [try network("front")])
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
        #expect(Planner.drift(desired: desired, observed: observed).isEmpty)
    }

    @Test func changedMemoryIsOneUpdateLiveWithItsPayloadAndBothValues() {
        let web = container("web1", memory: 256 << 20)
        var current = running(web) { $0.memoryMax = 128 << 20 }
        current.recordedSpec?.resources.memory?.max = ByteSize(bytes: 128 << 20)
        let actions = Planner.plan(desired: host([web]), observed: ObservedHost(containers: [current]))
        #expect(
            actions == [
                Action(
                    .container("web1"), .updateResources(web.spec.resources),
                    changes: [FieldChange("spec.resources.memory.max", desired: .bytes(256 << 20), observed: .bytes(128 << 20), origin: .manifest)],
                    reason: .liveChange)
            ])
        #expect(actions.first?.description == "update-live Container/web1 spec.resources.memory.max: 128Mi → 256Mi (the kernel can change it live)")
    }

    /// Every resource field the manifest can set is compared with the
    /// kernel: a value changed behind berth's back is an update-live.
    /// A kernel value changed behind berth's back, per manifest field.
    static func changeKernel(_ field: String, _ values: inout ResourceValues) {
        switch field {
        case "spec.resources.cpu.weight": values.cpuWeight = 300
        case "spec.resources.cpu.limit": values.cpuLimit = CPUQuantity(millicores: 250)
        case "spec.resources.cpu.cpus": values.cpus = CPUSet(cpus: [1])
        case "spec.resources.memory.max": values.memoryMax = 64 << 20
        case "spec.resources.memory.high": values.memoryHigh = nil
        case "spec.resources.memory.swap": values.swap = 1 << 20
        case "spec.resources.pids.max": values.pidsMax = 7
        case "spec.resources.io.weight": values.ioWeight = 100
        default: values.ioLimits = [:]
        }
    }

    @Test(arguments: [
        "spec.resources.cpu.weight", "spec.resources.cpu.limit", "spec.resources.cpu.cpus", "spec.resources.memory.max",
        "spec.resources.memory.high", "spec.resources.memory.swap", "spec.resources.pids.max", "spec.resources.io.weight",
        "spec.resources.io.limits[/dev/vda]",
    ])
    func everyResourceFieldIsObservedAndRepairedLive(field: String) throws {
        let change = { (values: inout ResourceValues) in PlannerTests.changeKernel(field, &values) }
        let web = container("web1") { spec in
            var resources = ResourcesSpec()
            resources.cpu = CPUSpec(weight: 200, limit: CPUQuantity(millicores: 500), cpus: CPUSet(cpus: [0]))
            resources.memory = MemorySpec(max: ByteSize(bytes: 128 << 20), high: ByteSize(bytes: 96 << 20), swap: ByteSize(bytes: 0))
            resources.pids = PidsSpec(max: 64)
            var limit = IODeviceLimit(device: "/dev/vda")
            limit.readBytesPerSecond = ByteSize(bytes: 1 << 20)
            resources.io = IOSpec(weight: 300, limits: [limit])
            spec.resources = resources
        }
        let actions = Planner.plan(desired: host([web]), observed: ObservedHost(containers: [running(web, kernel: change)]))
        #expect(actions.map(\.kind) == [.updateLive])
        #expect(actions.first?.changes.map(\.field) == [field])
        #expect(actions.first?.origin == .drift)
        #expect(Planner.drift(desired: host([web]), observed: ObservedHost(containers: [running(web, kernel: change)])).map(\.field) == [field])
    }

    @Test func changedInitIsPendingRestartAndAnotherTemplateIsAReplace() {
        let old = container("web1")
        let new = container("web1") { spec in
            spec.`init` = InitSpec(command: ["/bin/httpd", "-f"])
            spec.rootfs = RootfsSpec(source: .directory("/srv/root"))
        }
        let actions = Planner.plan(desired: host([new]), observed: ObservedHost(containers: [running(old)]))
        #expect(actions.map(\.kind) == [.replace, .pendingRestart])
        #expect(actions.last?.changes.map(\.field) == ["spec.init.command"])
        #expect(actions.last?.changes.first?.desired == .text("/bin/httpd -f"))
    }

    /// A record written before berth had spec.logs holds no driver: it
    /// is the file driver the manifest's default names, so nothing is planned.
    @Test func aRecordWithoutALogDriverMatchesTheDefaultFileDriver() throws {
        let new = container("web1")
        var written = ContainerSpec(new.spec)
        written.logs = nil
        var old = new
        old.spec = try JSONDecoder().decode(ContainerConfig.self, from: JSONEncoder().encode(written))
        #expect(Planner.plan(desired: host([new]), observed: ObservedHost(containers: [running(old)])).isEmpty)
        #expect(new.spec.logDriver == .file)
    }

    static func changeSpec(_ field: String, _ spec: inout ContainerSpec) {
        switch field {
        case "spec.userNamespace": spec.userNamespace = UserNamespaceSpec(uidMap: [IDRange(containerID: 0, hostID: 100_000, size: 65536)])
        case "spec.devices": spec.devices = [DeviceSpec(path: "/dev/net/tun")]
        case "spec.hostname": spec.hostname = "other"
        case "spec.env": spec.env = ["A": "1"]
        case "spec.capabilities": spec.capabilities = CapabilitiesSpec(add: ["CAP_NET_ADMIN"])
        case "spec.mounts": spec.mounts = [MountSpec(type: .tmpfs, destination: "/scratch")]
        case "spec.security":
            var security = SecuritySpec()
            security.noNewPrivileges = false
            spec.security = security
        case "spec.init.workingDir": spec.`init` = InitSpec(workingDir: "/srv")
        case "spec.restartPolicy": spec.restartPolicy = .always
        case "spec.stopTimeout": spec.stopTimeout = Interval(milliseconds: 3000)
        case "spec.rootfs.persistent": spec.rootfs?.persistent = true
        case "spec.logs.driver": spec.logs = LogsSpec(driver: .journal)
        default: spec.policy = ObjectPolicy(drift: .warn)
        }
    }

    @Test(arguments: [
        "spec.userNamespace", "spec.devices", "spec.hostname", "spec.env", "spec.capabilities", "spec.mounts", "spec.security",
        "spec.init.workingDir", "spec.logs.driver",
    ])
    func restartFieldsArePendingRestart(field: String) {
        let old = container("web1")
        let new = container("web1") { PlannerTests.changeSpec(field, &$0) }
        let actions = Planner.plan(desired: host([new]), observed: ObservedHost(containers: [running(old)]))
        #expect(actions.map(\.kind) == [.pendingRestart])
        #expect(actions.first?.changes.map(\.field) == [field])
        guard case .restartContainer(let carried, _) = actions.first?.operation else {
            Issue.record("expected a restart operation")
            return
        }
        #expect(carried == new)
    }

    /// A pending change reads as what changed: an env value (its name
    /// only: values may be secrets), a tmpfs's size, a bind's source.
    @Test func aPendingChangeShowsWhatChanged() {
        let old = container("web1") { spec in
            spec.env = ["FOO": "bar", "KEEP": "1"]
            spec.mounts = [MountSpec(type: .tmpfs, destination: "/scratch", size: ByteSize(bytes: 8 << 20))]
        }
        let new = container("web1") { spec in
            spec.env = ["FOO": "baz", "KEEP": "1"]
            spec.mounts = [
                MountSpec(type: .tmpfs, destination: "/scratch", size: ByteSize(bytes: 16 << 20)),
                MountSpec(type: .bind, source: "/srv/data", destination: "/data", readOnly: true),
            ]
        }
        let text = Planner.plan(desired: host([new]), observed: ObservedHost(containers: [running(old)])).map(\.description).joined()
        #expect(text.contains("spec.env: FOO,KEEP → FOO (value changed),KEEP"), "\(text)")
        #expect(!text.contains("bar") && !text.contains("baz"), "\(text)")
        #expect(text.contains("spec.mounts: tmpfs /scratch size=8Mi → tmpfs /scratch size=16Mi, bind /srv/data -> /data ro"), "\(text)")
    }

    @Test(arguments: ["spec.restartPolicy", "spec.stopTimeout", "spec.rootfs.persistent", "spec.policy.drift"])
    func recordOnlyFieldsUpdateTheRecordLive(field: String) {
        let old = container("web1")
        let new = container("web1") { PlannerTests.changeSpec(field, &$0) }
        let actions = Planner.plan(desired: host([new]), observed: ObservedHost(containers: [running(old)]))
        #expect(actions.map(\.kind) == [.updateLive])
        #expect(actions.first?.operation == .updateRecord(new.spec))
        #expect(actions.first?.changes.map(\.field) == [field])
    }

    /// metadata.labels live in berth's record (list -l): a change is
    /// recorded live, running or stopped; the same labels plan nothing.
    @Test(arguments: [ObservedRunState.running, .stopped])
    func labelsAreRecordedLive(state: ObservedRunState) {
        // A stopped one's manifest says so (else the plan starts it, which records them too).
        let old = container("web1") { $0.state = state == .stopped ? .stopped : .running }
        var new = old
        new.metadata.labels = ["tier": "web", "env": "prod"]
        var current = running(old, state: state)
        current.recordedLabels = ["tier": "web"]
        let actions = Planner.plan(desired: host([new]), observed: ObservedHost(containers: [current]))
        #expect(actions.map(\.kind) == [.updateLive])
        #expect(actions.first?.operation == .updateRecord(new.spec, labels: ["tier": "web", "env": "prod"]))
        #expect(actions.first?.changes.map(\.field) == ["metadata.labels"])
        #expect(actions.first?.changes.first?.desired == .text("env=prod,tier=web"))
        #expect(actions.first?.changes.first?.observed == .text("tier=web"))
        current.recordedLabels = new.metadata.labels
        #expect(Planner.plan(desired: host([new]), observed: ObservedHost(containers: [current])).isEmpty)
    }

    @Test func aLimitInTheKernelButNotInTheRecordIsRecordedAgain() {
        // A live update wrote the kernel, then failed to save the record (a
        // full disk): the plan must not say "No changes".
        let web = container("web1", memory: 256 << 20)
        var current = running(web)
        current.recordedSpec?.resources.memory?.max = ByteSize(bytes: 128 << 20)
        let actions = Planner.plan(desired: host([web]), observed: ObservedHost(containers: [current]))
        #expect(actions.map(\.operation) == [.updateResources(web.spec.resources)])
        #expect(actions.first?.changes.first?.observed == .text("128Mi in berth's record"))
    }

    @Test func pruneDeletesOnlyWhenAskedAndOnlyWhatIsObserved() {
        let observed = ObservedHost(containers: [running(container("old"))])
        #expect(Planner.plan(desired: host([]), observed: observed).isEmpty)
        let pruned = Planner.plan(desired: host([]), observed: observed, options: PlanOptions(prune: true))
        #expect(pruned.map(\.operation) == [.deleteContainer])
        #expect(pruned.map(\.reason) == [.noManifest])
    }

    @Test func pruneDeletesRecordedNetworksAfterContainers() {
        var observed = ObservedHost(containers: [running(container("old"))])
        observed.recordedNetworks = ["front": "br-front"]
        let actions = Planner.plan(desired: host([]), observed: observed, options: PlanOptions(prune: true))
        #expect(actions.map(\.object) == [.container("old"), .network("front")])
        #expect(actions.last?.operation == .deleteNetwork(bridge: "br-front"))
    }

    @Test func driftRespectsPolicy() {
        let warn = container("warn", memory: 128 << 20) { $0.policy = ObjectPolicy(drift: .warn) }
        let ignore = container("ignore", memory: 128 << 20) { $0.policy = ObjectPolicy(drift: .ignore) }
        let observed = ObservedHost(containers: [
            running(warn) { $0.memoryMax = 64 << 20 }, running(ignore) { $0.memoryMax = 64 << 20 },
        ])
        let drifts = Planner.drift(desired: host([warn, ignore]), observed: observed)
        #expect(drifts.map(\.object) == [.container("warn")])
        #expect(drifts.first?.policy == .warn)
        #expect(drifts.first?.origin == .drift)
    }

    // MARK: State

    @Test func stoppedStateStopsARunningContainer() {
        let web = container("web1") { $0.state = .stopped }
        let actions = Planner.plan(desired: host([web]), observed: ObservedHost(containers: [running(web)]))
        #expect(actions.map(\.operation) == [.stopContainer(timeout: Defaults.stopTimeout)])
    }

    @Test func frozenStateFreezesAndAContainerFrozenBehindBerthsBackIsThawed() {
        let frozen = container("web1") { $0.state = .frozen }
        let plan = Planner.plan(desired: host([frozen]), observed: ObservedHost(containers: [running(container("web1"))]))
        #expect(plan.map(\.operation) == [.freezeContainer])
        #expect(plan.first?.origin == .manifest)
        // Frozen by hand (or left frozen by a killed apply): drift, thawed.
        let web = container("web1")
        let observed = ObservedHost(containers: [running(web, state: .frozen)])
        let thaw = Planner.plan(desired: host([web]), observed: observed)
        #expect(thaw.map(\.operation) == [.thawContainer])
        #expect(thaw.first?.origin == .drift)
        #expect(Planner.drift(desired: host([web]), observed: observed).map(\.field) == ["spec.state"])
        // Frozen as wanted: nothing.
        #expect(Planner.plan(desired: host([frozen]), observed: ObservedHost(containers: [running(frozen, state: .frozen)])).isEmpty)
    }

    @Test(arguments: [
        (RestartPolicy.never, Int32?.some(1), false), (.never, nil, false), (.onFailure, 0, false), (.onFailure, 1, true),
        (.onFailure, nil, true), (.always, 0, true),
    ])
    func anInitThatEndedIsStartedAgainOnlyAsItsRestartPolicySays(policy: RestartPolicy, code: Int32?, starts: Bool) {
        let web = container("web1") { $0.restartPolicy = policy }
        let observed = ObservedHost(containers: [running(web, state: .exited(code: code))])
        let actions = Planner.plan(desired: host([web]), observed: observed)
        #expect(actions.map(\.kind) == (starts ? [.start] : []))
        if starts { #expect(actions.first?.reason == .exited(code: code, policy: policy)) }
        #expect(Planner.drift(desired: host([web]), observed: observed).isEmpty == !starts)
    }

    @Test func aContainerStoppedByBerthIsStartedWhenTheManifestSaysRunning() {
        let web = container("web1")
        let actions = Planner.plan(desired: host([web]), observed: ObservedHost(containers: [running(web, state: .stopped)]))
        #expect(actions.map(\.kind) == [.start])
        #expect(actions.first?.reason == .notRunning)
    }

    // MARK: Networks, live

    func attached(_ addresses: [String], extra: [NetworkAttachment] = []) throws -> ContainerObject {
        let cidrs = try addresses.map { try CIDR(parsing: $0, requirePrefix: false) }
        return container("web1") { spec in spec.networks = [NetworkAttachment(network: "front", addresses: cidrs)] + extra }
    }

    func namespace(_ addresses: [String], up: Bool = true, attached: Bool = true, gateway: String? = "10.88.0.1") throws
        -> NetworkObservation
    {
        NetworkObservation(
            interfaces: [
                NetworkObservation.Interface(
                    name: "eth0", kind: "veth", up: up, addresses: try addresses.map { try CIDR(parsing: $0) }, hostSideAttached: attached)
            ],
            defaultGateways: try gateway.map { [try IPAddress(parsing: $0)] } ?? [], ipv6: false)
    }

    func host(_ web: ContainerObject, _ namespace: NetworkObservation, recorded: ContainerConfig? = nil) throws -> (DesiredHost, ObservedHost) {
        var current = running(web)
        current.network = namespace
        if let recorded { current.recordedSpec = recorded }
        let desired = host([web], networks: [try network("front")])
        var observed = ObservedHost(containers: [current], networks: ["front"])
        observed.bridges["front"] = BridgeObservation(up: true)
        return (desired, observed)
    }

    func fields(_ actions: [Action]) -> [String] { actions.flatMap { $0.changes.map(\.field) } }

    @Test func matchingNamespacePlansNothing() throws {
        // An address written without a prefix takes the network's.
        let (desired, observed) = try host(try attached(["10.88.0.10"]), try namespace(["10.88.0.10/24"]))
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
        #expect(Planner.drift(desired: desired, observed: observed).isEmpty)
    }

    @Test func addedAddressIsLiveNotPendingRestart() throws {
        let before = try attached(["10.88.0.10"])
        let after = try attached(["10.88.0.10", "10.88.0.11"])
        let (desired, observed) = try host(after, try namespace(["10.88.0.10/24"]), recorded: before.spec)
        let actions = Planner.plan(desired: desired, observed: observed)
        #expect(
            actions == [
                Action(
                    .container("web1"), .updateNetworks(after, networks: [try network("front")]),
                    changes: [
                        FieldChange(
                            "spec.networks[0].addresses", desired: .text("10.88.0.10/24,10.88.0.11/24"), observed: .text("10.88.0.10/24"),
                            origin: .manifest)
                    ], reason: .networkChangedLive)
            ])
    }

    @Test func strayAddressDownLinkAndLostRouteAreDrift() throws {
        let (desired, observed) = try host(
            try attached(["10.88.0.10"]), try namespace(["10.88.0.10/24", "10.88.0.99/24"], up: false, gateway: nil))
        #expect(
            Planner.drift(desired: desired, observed: observed).map(\.field) == [
                "spec.networks[0].interface", "spec.networks[0].addresses", "spec.networks.defaultRoute",
            ])
        #expect(Planner.plan(desired: desired, observed: observed).allSatisfy { $0.kind == .updateLive && $0.origin == .drift })
    }

    @Test func attachAndDetachAreLive() throws {
        let bare = container("web1")
        let (desired, observed) = try host(bare, try namespace(["10.88.0.10/24"]))
        let detach = Planner.plan(desired: desired, observed: observed)
        #expect(fields(detach) == ["spec.networks", "spec.networks.defaultRoute"])
        #expect(detach.allSatisfy { $0.kind == .updateLive })
        let empty = NetworkObservation(interfaces: [], defaultGateways: [], ipv6: false)
        let (desired2, observed2) = try host(try attached(["10.88.0.10"]), empty, recorded: bare.spec)
        let attach = Planner.plan(desired: desired2, observed: observed2)
        #expect(attach.first?.changes.first?.field == "spec.networks[0]")
        #expect(attach.first?.changes.first?.observed == .text("absent"))
        #expect(!attach.contains { $0.kind == .pendingRestart })
    }

    @Test func hostEndOffItsBridgeIsRepaired() throws {
        let (desired, observed) = try host(try attached(["10.88.0.10"]), try namespace(["10.88.0.10/24"], attached: false))
        #expect(fields(Planner.plan(desired: desired, observed: observed)) == ["spec.networks[0].network"])
    }

    @Test func ipv6AddressWaitsForARestartWhenIPv6IsOff() throws {
        let (desired, observed) = try host(try attached(["10.88.0.10", "fd00::10/64"]), try namespace(["10.88.0.10/24"]))
        let actions = Planner.plan(desired: desired, observed: observed)
        #expect(actions.map(\.kind) == [.pendingRestart])
        #expect(actions.first?.reason == .ipv6NeedsRestart)
        #expect(fields(actions) == ["spec.networks[0].addresses"])
    }

    @Test func bridgeDownOrWithoutGatewayIsRepairedLive() throws {
        let front = try network("front")
        var observed = ObservedHost(containers: [], networks: ["front"])
        observed.bridges["front"] = BridgeObservation(up: false, addresses: [])
        let actions = Planner.plan(desired: host([], networks: [front]), observed: observed)
        #expect(actions.map(\.operation) == [.repairBridge(front)])
        #expect(fields(actions) == ["bridge.state", "spec.gateway"])
    }

    @Test func editedFirewallTableIsDriftAndReplacedLive() {
        let web = container("web1") { $0.firewall = FirewallSpec(defaultPolicy: .drop, rules: []) }
        var current = running(web)
        current.firewallCurrent = false
        let observed = ObservedHost(containers: [current])
        #expect(fields(Planner.plan(desired: host([web]), observed: observed)) == ["spec.firewall"])
        #expect(Planner.drift(desired: host([web]), observed: observed).map(\.field) == ["spec.firewall"])
        current.firewallCurrent = true
        #expect(Planner.plan(desired: host([web]), observed: ObservedHost(containers: [current])).isEmpty)
    }

    @Test func aChangedFirewallRuleShowsInThePlan() throws {
        let from = try CIDR(parsing: "0.0.0.0/0")
        let before = container("web1") {
            $0.firewall = FirewallSpec(
                defaultPolicy: .drop,
                rules: [FirewallRule(action: .allow, protocol: .tcp, port: 80, from: from), FirewallRule(action: .allow, protocol: .icmp)])
        }
        let after = container("web1") {
            $0.firewall = FirewallSpec(
                defaultPolicy: .drop,
                rules: [FirewallRule(action: .allow, protocol: .tcp, port: 81, from: from), FirewallRule(action: .allow, protocol: .icmp)])
        }
        let change = try #require(Planner.plan(desired: host([after]), observed: ObservedHost(containers: [running(before)])).first?.changes.first)
        #expect(change.field == "spec.firewall")
        #expect("\(change.desired)" == "policy drop: allow tcp 81 from 0.0.0.0/0, allow icmp")
        #expect("\(change.observed)" == "policy drop: allow tcp 80 from 0.0.0.0/0, allow icmp")
        let open = container("web1") { $0.firewall = FirewallSpec(defaultPolicy: .drop, rules: []) }
        #expect(
            "\(Planner.plan(desired: host([open]), observed: ObservedHost(containers: [running(before)])).first?.changes.first?.desired ?? .absent)"
                == "policy drop, no rules")
    }

    @Test func warnPolicyReportsDriftButLeavesItAloneUntilTheManifestChanges() {
        let web = container("web1", memory: 128 << 20) { $0.policy = ObjectPolicy(drift: .warn) }
        var current = running(web) { $0.memoryMax = 64 << 20 }
        current.firewallCurrent = false
        #expect(Planner.plan(desired: host([web]), observed: ObservedHost(containers: [current])).isEmpty)
        #expect(Planner.drift(desired: host([web]), observed: ObservedHost(containers: [current])).count == 2)
        // The manifest changed since it was applied: that is applied.
        current.recordedSpec?.resources.memory?.max = ByteSize(bytes: 256 << 20)
        let actions = Planner.plan(desired: host([web]), observed: ObservedHost(containers: [current]))
        #expect(fields(actions) == ["spec.resources.memory.max"])
        #expect(actions.first?.origin == .manifest)
    }

    /// A manifest edit of one limit and drift of another in the same pass:
    /// each change says where it came from.
    @Test func aManifestEditBesideDriftKeepsEachFieldsOrigin() {
        let web = container("web1", memory: 128 << 20) { $0.resources?.numpty = 8 }
        var current = running(web) {
            $0.memoryMax = 64 << 20
            $0.numpty = 4
        }
        current.recordedSpec?.resources.numpty = 4
        let actions = Planner.plan(desired: host([web]), observed: ObservedHost(containers: [current]))
        let origins = Dictionary(uniqueKeysWithValues: (actions.first?.changes ?? []).map { ($0.field, $0.origin) })
        #expect(origins == ["spec.resources.memory.max": .drift, "spec.resources.numpty": .manifest])
    }

    @Test func planSaysWhenItTurnsOnForwardingForABridge() throws {
        var edge = try network("edge")
        edge.spec.nat = true
        let desired = host([], networks: [edge])
        let fresh = Planner.plan(desired: desired, observed: ObservedHost())
        #expect(fresh.map(\.object) == [.network("edge"), .forwarding(bridge: "br-edge")])
        #expect(fresh.last?.changes.first?.observed == .absent && fresh.last?.changes.first?.desired == .flag(true))
        #expect(fresh.last?.description.contains("Sysctl/net.ipv4.conf.br-edge.forwarding value: absent → 1") == true)
        var observed = ObservedHost(networks: ["edge"])
        observed.bridges["edge"] = BridgeObservation(up: true)
        observed.forwarding["edge"] = false
        #expect(Planner.plan(desired: desired, observed: observed).map(\.operation) == [.enableForwarding(bridge: "br-edge")])
        #expect(Planner.drift(desired: desired, observed: observed).map(\.object) == [.forwarding(bridge: "br-edge")])
        observed.forwarding["edge"] = true
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
    }

    @Test func containerRunningWithoutARecordIsAdoptedNotCreated() {
        let web = container("web1")
        var observed = ObservedHost()
        observed.unrecorded = ["web1": 4242, "old": 4343]
        #expect(Planner.plan(desired: host([web]), observed: observed).map(\.kind) == [.adopt])
        #expect(Planner.drift(desired: host([web]), observed: observed).first?.observed == .text("running without a record (init pid 4242)"))
        let pruned = Planner.plan(desired: host([web]), observed: observed, options: PlanOptions(prune: true))
        #expect(pruned.map(\.kind) == [.adopt, .delete])
        #expect(pruned.last?.object == .container("old"))
    }
}
