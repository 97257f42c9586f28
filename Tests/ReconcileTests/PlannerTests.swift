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

    func host(_ web: ContainerObject, _ namespace: NetworkObservation, recorded: ContainerSpec? = nil) throws -> (DesiredHost, ObservedHost) {
        var current = running(web)
        current.network = namespace
        if let recorded { current.recordedSpec = recorded }
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [try network("front")], containers: [web])
        var observed = ObservedHost(containers: [current], networks: ["front"])
        observed.bridges["front"] = BridgeObservation(up: true, hasGateway: true)
        return (desired, observed)
    }

    @Test func matchingNamespacePlansNothing() throws {
        // An address written without a prefix takes the network's.
        let (desired, observed) = try host(try attached(["10.88.0.10"]), try namespace(["10.88.0.10/24"]))
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
        #expect(Planner.drift(desired: desired, observed: observed).isEmpty)
    }

    @Test func addedAddressIsLiveNotPendingRestart() throws {
        let before = try attached(["10.88.0.10"])
        let (desired, observed) = try host(
            try attached(["10.88.0.10", "10.88.0.11"]), try namespace(["10.88.0.10/24"]), recorded: before.spec)
        let actions = Planner.plan(desired: desired, observed: observed)
        #expect(
            actions == [
                Action(
                    .updateLive, "Container/web1", field: "spec.networks[0].addresses", old: "10.88.0.10/24",
                    new: "10.88.0.10/24,10.88.0.11/24", reason: "the container's network is changed live")
            ])
    }

    @Test func strayAddressDownLinkAndLostRouteAreDrift() throws {
        let (desired, observed) = try host(
            try attached(["10.88.0.10"]), try namespace(["10.88.0.10/24", "10.88.0.99/24"], up: false, gateway: nil))
        let fields = Planner.drift(desired: desired, observed: observed).map(\.field)
        #expect(fields == ["spec.networks[0].interface", "spec.networks[0].addresses", "spec.networks.defaultRoute"])
        #expect(Planner.plan(desired: desired, observed: observed).allSatisfy { $0.kind == .updateLive })
    }

    @Test func attachAndDetachAreLive() throws {
        // Desired: no networks; observed: eth0 → detach.
        let bare = container("web1")
        let (desired, observed) = try host(bare, try namespace(["10.88.0.10/24"]))
        let detach = Planner.plan(desired: desired, observed: observed)
        #expect(detach.map(\.field) == ["spec.networks", "spec.networks.defaultRoute"])
        #expect(detach.allSatisfy { $0.kind == .updateLive })
        // Desired: eth0; observed: nothing → attach.
        let empty = NetworkObservation(interfaces: [], defaultGateways: [], ipv6: false)
        let (desired2, observed2) = try host(try attached(["10.88.0.10"]), empty, recorded: bare.spec)
        let attach = Planner.plan(desired: desired2, observed: observed2)
        #expect(attach.first?.field == "spec.networks[0]")
        #expect(attach.first?.old == "absent")
        #expect(!attach.contains { $0.kind == .pendingRestart })
    }

    @Test func hostEndOffItsBridgeIsRepaired() throws {
        let (desired, observed) = try host(try attached(["10.88.0.10"]), try namespace(["10.88.0.10/24"], attached: false))
        #expect(Planner.plan(desired: desired, observed: observed).map(\.field) == ["spec.networks[0].network"])
    }

    @Test func ipv6AddressWaitsForARestartWhenIPv6IsOff() throws {
        let (desired, observed) = try host(try attached(["10.88.0.10", "fd00::10/64"]), try namespace(["10.88.0.10/24"]))
        let actions = Planner.plan(desired: desired, observed: observed)
        #expect(actions.map(\.kind) == [.pendingRestart])
        #expect(actions.first?.field == "spec.networks[0].addresses")
    }

    @Test func bridgeDownOrWithoutGatewayIsRepairedLive() throws {
        let (desired, _) = try host(try attached(["10.88.0.10"]), try namespace(["10.88.0.10/24"]))
        var observed = ObservedHost(containers: [], networks: ["front"])
        observed.bridges["front"] = BridgeObservation(up: false, hasGateway: false)
        let actions = Planner.plan(desired: DesiredHost(host: desired.host, networks: desired.networks, containers: []), observed: observed)
        #expect(actions.map(\.field) == ["bridge.state", "spec.gateway"])
        #expect(actions.allSatisfy { $0.kind == .updateLive && $0.object == "Network/front" })
    }

    @Test func editedFirewallTableIsDriftAndReplacedLive() {
        let web = container("web1") { $0.firewall = FirewallSpec(defaultPolicy: .drop, rules: []) }
        var current = running(web)
        current.firewallCurrent = false
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [web])
        let observed = ObservedHost(containers: [current])
        #expect(Planner.plan(desired: desired, observed: observed).map(\.field) == ["spec.firewall"])
        #expect(Planner.drift(desired: desired, observed: observed).map(\.field) == ["spec.firewall"])
        current.firewallCurrent = true
        #expect(Planner.plan(desired: desired, observed: ObservedHost(containers: [current])).isEmpty)
    }

    @Test func warnPolicyReportsDriftButLeavesItAloneUntilTheManifestChanges() {
        let web = container("web1", memory: 128 << 20) { $0.policy = ObjectPolicy(drift: .warn) }
        var current = running(web, memory: 64 << 20)
        current.firewallCurrent = false
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [web])
        #expect(Planner.plan(desired: desired, observed: ObservedHost(containers: [current])).isEmpty)
        #expect(Planner.drift(desired: desired, observed: ObservedHost(containers: [current])).count == 2)
        // The manifest changed since it was applied: that is applied.
        current.recordedSpec?.resources?.memory?.max = ByteSize(bytes: 256 << 20)
        #expect(Planner.plan(desired: desired, observed: ObservedHost(containers: [current])).map(\.field) == ["spec.resources.memory.max"])
    }

    @Test func planSaysWhenItTurnsOnForwardingForABridge() throws {
        var edge = try network("edge")
        edge.spec.nat = true
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [edge], containers: [])
        let fresh = Planner.plan(desired: desired, observed: ObservedHost())
        #expect(fresh.map(\.object) == ["Network/edge", "Sysctl/net.ipv4.conf.br-edge.forwarding"])
        #expect(fresh.last?.old == "absent" && fresh.last?.new == "1")
        var observed = ObservedHost(networks: ["edge"])
        observed.bridges["edge"] = BridgeObservation(up: true, hasGateway: true)
        observed.forwarding["edge"] = false
        #expect(Planner.plan(desired: desired, observed: observed).map(\.old) == ["0"])
        #expect(Planner.drift(desired: desired, observed: observed).map(\.object) == ["Sysctl/net.ipv4.conf.br-edge.forwarding"])
        observed.forwarding["edge"] = true
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
    }

    @Test func containerRunningWithoutARecordIsAdoptedNotCreated() {
        let web = container("web1")
        var observed = ObservedHost()
        observed.unrecorded = ["web1": 4242, "old": 4343]
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [], containers: [web])
        #expect(Planner.plan(desired: desired, observed: observed).map(\.kind) == [.adopt])
        #expect(Planner.drift(desired: desired, observed: observed).first?.observed == "running without a record (init pid 4242)")
        let pruned = Planner.plan(desired: desired, observed: observed, options: PlanOptions(prune: true))
        #expect(pruned.map(\.kind) == [.adopt, .delete])
        #expect(pruned.last?.object == "Container/old")
    }
}
