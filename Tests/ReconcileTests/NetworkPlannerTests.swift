import Model
import Testing

@testable import Reconcile

/// The live fields of a Network (docs/manifests.md, "Field contract"):
/// each changed is an update-live of the network naming the field, with
/// the values and the origin (the manifest, against berth's record of what
/// it applied, or drift); each matching plans nothing.
@Suite struct NetworkPlannerTests {
    static let source = SourceLocation(file: "t", line: 1, column: 1)

    /// A network as a manifest gives it; `configure` changes its spec.
    func network(_ configure: (inout NetworkSpec) throws -> Void = { _ in }) throws -> NetworkObject {
        var spec = NetworkSpec(subnet: try CIDR(parsing: "10.88.0.0/24"))
        try configure(&spec)
        return NetworkObject(metadata: ObjectMeta(name: "front"), spec: spec.resolved(name: "front"), source: NetworkPlannerTests.source)
    }

    /// The bridge exactly as `network` wants it, with two berth ports.
    func bridge(for network: NetworkObject) -> BridgeObservation {
        let isolated = network.spec.isolated
        return BridgeObservation(
            up: true, mtu: network.spec.mtu, addresses: network.spec.bridgeAddresses,
            ports: ["vb00000001": isolated, "vb00000002": isolated])
    }

    func host(_ network: NetworkObject, _ bridge: BridgeObservation, recorded: NetworkConfig? = nil) -> (DesiredHost, ObservedHost) {
        var observed = ObservedHost(networks: ["front"])
        observed.bridges["front"] = bridge
        observed.recordedNetworks["front"] = network.spec.bridge
        if let recorded { observed.networkSpecs["front"] = recorded }
        return (DesiredHost(host: HostFacts(name: "h"), networks: [network], containers: []), observed)
    }

    func cidr(_ text: String) throws -> CIDR { try CIDR(parsing: text) }

    struct Case: CustomStringConvertible, Sendable {
        var field: String
        /// The spec berth applied (and recorded).
        var before: @Sendable (inout NetworkSpec) throws -> Void
        /// The manifest's spec now.
        var after: @Sendable (inout NetworkSpec) throws -> Void
        var desired: FieldValue
        var observed: FieldValue
        var description: String { field }
    }

    static let cases: [Case] = [
        Case(field: "spec.mtu", before: { $0.mtu = 1500 }, after: { $0.mtu = 1400 }, desired: .number(1400), observed: .number(1500)),
        Case(field: "spec.mtu", before: { $0.mtu = 9000 }, after: { $0.mtu = nil }, desired: .number(1500), observed: .number(9000)),
        Case(
            field: "spec.gateway", before: { _ in }, after: { $0.gateway = try IPAddress(parsing: "10.88.0.254") },
            desired: .text("10.88.0.254/24"), observed: .text("10.88.0.1/24")),
        Case(
            field: "spec.subnet", before: { _ in }, after: { $0.subnet = try CIDR(parsing: "10.99.0.0/16") }, desired: .text("10.99.0.1/16"),
            observed: .text("10.88.0.1/24")),
        // The whole `ipv6` block added or removed counts as its subnet.
        Case(
            field: "spec.ipv6.subnet", before: { _ in }, after: { $0.ipv6 = IPv6Subnet(subnet: try CIDR(parsing: "fd00:88::/64")) },
            desired: .text("fd00:88::1/64"), observed: .absent),
        Case(
            field: "spec.ipv6.gateway", before: { $0.ipv6 = IPv6Subnet(subnet: try CIDR(parsing: "fd00:88::/64")) },
            after: { $0.ipv6 = IPv6Subnet(subnet: try CIDR(parsing: "fd00:88::/64"), gateway: try IPAddress(parsing: "fd00:88::fe")) },
            desired: .text("fd00:88::fe/64"), observed: .text("fd00:88::1/64")),
        Case(
            field: "spec.ipv6.subnet", before: { $0.ipv6 = IPv6Subnet(subnet: try CIDR(parsing: "fd00:88::/64")) },
            after: { $0.ipv6 = IPv6Subnet(subnet: try CIDR(parsing: "fd00:99::/64")) }, desired: .text("fd00:99::1/64"),
            observed: .text("fd00:88::1/64")),
        Case(
            field: "spec.ipv6.subnet", before: { $0.ipv6 = IPv6Subnet(subnet: try CIDR(parsing: "fd00:88::/64")) }, after: { $0.ipv6 = nil },
            desired: .absent, observed: .text("fd00:88::1/64")),
        Case(
            field: "spec.isolated", before: { $0.isolated = false }, after: { $0.isolated = true }, desired: .boolean(true), observed: .boolean(false)
        ),
        Case(
            field: "spec.isolated", before: { $0.isolated = true }, after: { $0.isolated = nil }, desired: .boolean(false), observed: .boolean(true)),
    ]

    @Test(arguments: NetworkPlannerTests.cases)
    func changedFieldIsAnUpdateLiveOfTheBridgeFromTheManifest(_ field: Case) throws {
        let applied = try network(field.before)
        let wanted = try network(field.after)
        let (desired, observed) = host(wanted, bridge(for: applied), recorded: applied.spec)
        let actions = Planner.plan(desired: desired, observed: observed)
        #expect(actions.map(\.kind) == [.updateLive])
        #expect(actions.map(\.object) == [.network("front")])
        #expect(actions.first?.operation == .repairBridge(wanted))
        #expect(actions.first?.reason == .bridgeRepaired)
        #expect(actions.first?.changes == [FieldChange(field.field, desired: field.desired, observed: field.observed, origin: .manifest)])
        // Once applied, the kernel and the record match: nothing to do.
        let (_, settled) = host(wanted, bridge(for: wanted), recorded: wanted.spec)
        #expect(Planner.plan(desired: desired, observed: settled).isEmpty)
        #expect(Planner.drift(desired: desired, observed: settled).isEmpty)
    }

    @Test(arguments: NetworkPlannerTests.cases)
    func theSameDifferenceBehindBerthsBackIsDrift(_ field: Case) throws {
        // The record says what the manifest says: the kernel moved.
        let applied = try network(field.before)
        let wanted = try network(field.after)
        let (desired, observed) = host(wanted, bridge(for: applied), recorded: wanted.spec)
        let actions = Planner.plan(desired: desired, observed: observed)
        #expect(actions.map(\.operation) == [.repairBridge(wanted)])
        // Named as the gateway (the subnet did not change in the manifest).
        let name = field.field.hasSuffix(".subnet") ? field.field.dropLast("subnet".count) + "gateway" : field.field
        #expect(actions.first?.changes == [FieldChange(name, desired: field.desired, observed: field.observed, origin: .drift)])
        let drift = Planner.drift(desired: desired, observed: observed)
        #expect(drift.map(\.field) == [name] && drift.allSatisfy { $0.origin == .drift && $0.kind == .updateLive })
        // Without a record (an older berth's), a difference is drift too.
        let (_, unrecorded) = host(wanted, bridge(for: applied))
        #expect(Planner.plan(desired: desired, observed: unrecorded).flatMap(\.changes).map(\.origin) == [.drift])
    }

    @Test func matchingBridgePlansNothing() throws {
        let wanted = try network {
            $0.mtu = 9000
            $0.isolated = true
            $0.gateway = try IPAddress(parsing: "10.88.0.254")
            $0.ipv6 = IPv6Subnet(subnet: try CIDR(parsing: "fd00:88::/64"))
        }
        let (desired, observed) = host(wanted, bridge(for: wanted))
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
        #expect(Planner.drift(desired: desired, observed: observed).isEmpty)
        // The kernel's IPv6 link-local address is not berth's: not a difference.
        var linkLocal = bridge(for: wanted)
        linkLocal.addresses? += [try cidr("fe80::1/64")]
        #expect(Planner.plan(desired: desired, observed: host(wanted, linkLocal).1).isEmpty)
    }

    @Test func strayAddressOnTheBridgeIsDrift() throws {
        let wanted = try network()
        var stray = bridge(for: wanted)
        stray.addresses = [try cidr("10.88.0.1/24"), try cidr("10.88.0.77/24"), try cidr("fd00::5/64")]
        let (desired, observed) = host(wanted, stray, recorded: wanted.spec)
        let changes = Planner.plan(desired: desired, observed: observed).flatMap(\.changes)
        #expect(
            changes == [
                FieldChange("spec.gateway", desired: .text("10.88.0.1/24"), observed: .text("10.88.0.1/24,10.88.0.77/24"), origin: .drift),
                FieldChange("spec.ipv6.gateway", desired: .absent, observed: .text("fd00::5/64"), origin: .drift),
            ])
    }

    @Test func aPrefixChangedBehindBerthsBackIsNamedAsTheSubnet() throws {
        let wanted = try network { $0.ipv6 = IPv6Subnet(subnet: try CIDR(parsing: "fd00:88::/64")) }
        var edited = bridge(for: wanted)
        edited.addresses = [try cidr("10.88.0.1/16"), try cidr("fd00:88::1/80")]
        let (desired, observed) = host(wanted, edited, recorded: wanted.spec)
        #expect(
            Planner.plan(desired: desired, observed: observed).flatMap(\.changes) == [
                FieldChange("spec.subnet", desired: .text("10.88.0.1/24"), observed: .text("10.88.0.1/16"), origin: .drift),
                FieldChange("spec.ipv6.subnet", desired: .text("fd00:88::1/64"), observed: .text("fd00:88::1/80"), origin: .drift),
            ])
    }

    @Test func onePortOutOfStepIsNamed() throws {
        let wanted = try network { $0.isolated = true }
        var mixed = bridge(for: wanted)
        mixed.ports["vb00000002"] = false
        let (desired, observed) = host(wanted, mixed, recorded: wanted.spec)
        let changes = Planner.plan(desired: desired, observed: observed).flatMap(\.changes)
        #expect(changes == [FieldChange("spec.isolated", desired: .boolean(true), observed: .text("false on vb00000002"), origin: .drift)])
    }

    @Test func warnPolicyLeavesBridgeDriftAloneButAppliesManifestChanges() throws {
        let applied = try network { $0.policy = ObjectPolicy(drift: .warn) }
        let wanted = try network {
            $0.policy = ObjectPolicy(drift: .warn)
            $0.mtu = 1400
        }
        var drifted = bridge(for: applied)
        drifted.ports["vb00000001"] = true
        // Drift only: reported, not planned.
        let (desired, observed) = host(applied, drifted, recorded: applied.spec)
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
        #expect(Planner.drift(desired: desired, observed: observed).map(\.field) == ["spec.isolated"])
        // The manifest changed the MTU: that alone is applied.
        let (changed, both) = host(wanted, drifted, recorded: applied.spec)
        #expect(Planner.plan(desired: changed, observed: both).flatMap(\.changes).map(\.field) == ["spec.mtu"])
    }

    // MARK: spec.bridge

    func web(drift: DriftPolicy = .enforce) throws -> ContainerObject {
        var spec = ContainerSpec()
        spec.rootfs = RootfsSpec(source: .template("busybox"))
        spec.policy = ObjectPolicy(drift: drift)
        spec.networks = [NetworkAttachment(network: "front", addresses: [try CIDR(parsing: "10.88.0.10/24")])]
        return ContainerObject(
            metadata: ObjectMeta(name: "web1"), spec: spec.resolved(name: "web1", defaultRootfs: .template("busybox")),
            source: NetworkPlannerTests.source)
    }

    /// web1 runs with its veth still on the old bridge.
    func renamed(_ web: ContainerObject, newBridgeExists: Bool) throws -> (DesiredHost, ObservedHost, NetworkObject) {
        let wanted = try network { $0.bridge = "br-new" }
        var current = ObservedContainer(name: "web1", state: .running, recordedSpec: web.spec)
        current.network = NetworkObservation(
            interfaces: [
                NetworkObservation.Interface(
                    name: "eth0", kind: "veth", up: true, addresses: [try cidr("10.88.0.10/24")], hostSideAttached: false)
            ], defaultGateways: [try IPAddress(parsing: "10.88.0.1")], ipv6: false)
        var observed = ObservedHost(containers: [current], networks: newBridgeExists ? ["front"] : [])
        if newBridgeExists { observed.bridges["front"] = bridge(for: wanted) }
        observed.recordedNetworks["front"] = newBridgeExists ? "br-new" : "br-old"
        observed.oldBridges["front"] = ["br-old"]
        return (DesiredHost(host: HostFacts(name: "h"), networks: [wanted], containers: [web]), observed, wanted)
    }

    @Test(arguments: [DriftPolicy.enforce, .warn])
    func renamedBridgeIsMadeTheContainersMoveLiveAndTheOldBridgeGoes(policy: DriftPolicy) throws {
        let web = try web(drift: policy)
        let (desired, observed, wanted) = try renamed(web, newBridgeExists: false)
        let actions = Planner.plan(desired: desired, observed: observed)
        let row = FieldChange("spec.bridge", desired: .text("br-new"), observed: .text("br-old"), origin: .manifest)
        #expect(
            actions == [
                Action(.network("front"), .moveBridge(wanted, from: "br-old"), changes: [row], reason: .bridgeRenamed(from: "br-old")),
                Action(
                    .container("web1"), .updateNetworks(web, networks: [wanted]),
                    changes: [
                        FieldChange(
                            "spec.networks[0].network", desired: .text("front"), observed: .text("not a port of its bridge"), origin: .manifest)
                    ], reason: .networkChangedLive),
                Action(
                    .network("front"), .deleteOldBridge(bridge: "br-old", movedContainers: ["web1"]), changes: [row],
                    reason: .containersMoved(to: "br-new")),
            ])
        #expect(actions.map(\.kind) == [.updateLive, .updateLive, .delete])
        // A move that stopped half-way (the old bridge could not go) is finished.
        let (_, halfway, _) = try renamed(web, newBridgeExists: true)
        var moved = halfway
        moved.containers[0].network?.interfaces[0].hostSideAttached = true
        #expect(Planner.plan(desired: desired, observed: moved).map(\.operation) == [.deleteOldBridge(bridge: "br-old", movedContainers: ["web1"])])
        moved.oldBridges = [:]
        #expect(Planner.plan(desired: desired, observed: moved).isEmpty)
    }

    @Test func bridgeRenamedBehindBerthsBackIsDriftAndMovedBack() throws {
        // The record has the manifest's name; the kernel has the bridge under another.
        let (desired, observed, _) = try renamed(try web(), newBridgeExists: false)
        var behind = observed
        behind.recordedNetworks["front"] = "br-new"
        let drift = Planner.drift(desired: desired, observed: behind)
        #expect(drift.filter { $0.field == "spec.bridge" }.map(\.origin) == [.drift, .drift])
        #expect(
            Planner.plan(desired: desired, observed: behind).map(\.kind) == [.updateLive, .updateLive, .delete])
    }

    // MARK: spec.mtu on the containers' interfaces

    /// web1 on `front` (bridge as wanted), its eth0 and host end at `mtu` and `hostMTU`.
    func sized(_ web: ContainerObject, _ wanted: NetworkObject, applied: NetworkObject, mtu: Int, hostMTU: Int) throws -> (DesiredHost, ObservedHost)
    {
        let interface = NetworkObservation.Interface(
            name: "eth0", kind: "veth", up: true, addresses: [try cidr("10.88.0.10/24")], hostSideAttached: true, mtu: mtu, hostMTU: hostMTU)
        return try running(web, with: interface, wanted, bridge(for: wanted), recorded: applied.spec)
    }

    /// web1 running with `interface` as its eth0 (gateway 10.88.0.1), on
    /// `wanted`, whose device the kernel has as `device`.
    func running(
        _ web: ContainerObject, with interface: NetworkObservation.Interface, _ wanted: NetworkObject, _ device: BridgeObservation,
        recorded: NetworkConfig
    ) throws -> (DesiredHost, ObservedHost) {
        var current = ObservedContainer(name: "web1", state: .running, recordedSpec: web.spec)
        current.network = NetworkObservation(interfaces: [interface], defaultGateways: [try IPAddress(parsing: "10.88.0.1")], ipv6: false)
        var (desired, observed) = host(wanted, device, recorded: recorded)
        desired.containers = [web]
        observed.containers = [current]
        return (desired, observed)
    }

    @Test(arguments: [DriftPolicy.enforce, .warn])
    func aNewMTUReachesTheContainersInterfacesLive(policy: DriftPolicy) throws {
        let web = try web(drift: policy)
        let applied = try network()
        let wanted = try network { $0.mtu = 1450 }
        let (desired, observed) = try sized(web, wanted, applied: applied, mtu: 1500, hostMTU: 1500)
        let update = Planner.plan(desired: desired, observed: observed).filter { $0.object == .container("web1") }
        #expect(
            update == [
                Action(
                    .container("web1"), .updateNetworks(web, networks: [wanted]),
                    changes: [
                        FieldChange(
                            "spec.networks[0].mtu", desired: .text("1450"), observed: .text("1500, 1500 on the host end"), origin: .manifest)
                    ], reason: .networkChangedLive)
            ])
        // Both ends as wanted: nothing.
        let (_, settled) = try sized(web, wanted, applied: wanted, mtu: 1450, hostMTU: 1450)
        #expect(Planner.plan(desired: desired, observed: settled).isEmpty)
    }

    @Test func anInterfacesMTUChangedInsideIsDriftRepairedLive() throws {
        let wanted = try network { $0.mtu = 1450 }
        let (desired, observed) = try sized(try web(), wanted, applied: wanted, mtu: 1300, hostMTU: 1450)
        let actions = Planner.plan(desired: desired, observed: observed)
        #expect(actions.map(\.kind) == [.updateLive])
        #expect(actions.flatMap(\.changes) == [FieldChange("spec.networks[0].mtu", desired: .text("1450"), observed: .text("1300"), origin: .drift)])
        // With drift policy warn it is reported, not planned.
        let (_, warned) = try sized(try web(drift: .warn), wanted, applied: wanted, mtu: 1300, hostMTU: 1450)
        var warnDesired = desired
        warnDesired.containers = [try web(drift: .warn)]
        #expect(Planner.plan(desired: warnDesired, observed: warned).isEmpty)
        #expect(Planner.drift(desired: warnDesired, observed: warned).map(\.field) == ["spec.networks[0].mtu"])
    }

    // MARK: Each network's nftables table

    @Test func onlyTheNetworkWhoseTableDiffersIsPlannedBeforeTheContainers() throws {
        let front = try network()
        var edgeSpec = NetworkSpec(subnet: try cidr("10.89.0.0/24"))
        edgeSpec.reach = ["front"]
        edgeSpec.portForwards = [PortForward(protocol: .tcp, hostPort: 8080, container: "web1", containerPort: 80)]
        let edge = NetworkObject(metadata: ObjectMeta(name: "edge"), spec: edgeSpec.resolved(name: "edge"), source: NetworkPlannerTests.source)
        let web = try web()
        var observed = ObservedHost(networks: ["front", "edge"])
        observed.rulesets["front"] = []
        observed.rulesets["edge"] = [
            FieldChange("spec.portForwards", desired: .text("tcp 8080 → 10.89.0.10:80"), observed: .text("none"), origin: .manifest)
        ]
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [front, edge], containers: [web])
        let plan = Planner.plan(desired: desired, observed: observed)
        let ruleset = try #require(plan.first { $0.object == .ruleset(network: "edge") })
        guard case .applyRuleset(let applied, let reached, let containers) = ruleset.operation else {
            Issue.record("not a ruleset: \(ruleset)")
            return
        }
        #expect(applied.metadata.name == "edge" && applied.spec.reach == ["front"])
        #expect(reached.map(\.metadata.name) == ["front"] && containers.map(\.metadata.name) == ["web1"])
        #expect(ruleset.description.hasPrefix("update-live Ruleset/edge spec.portForwards: none → tcp 8080 → 10.89.0.10:80"))
        #expect(!plan.contains { $0.object == .ruleset(network: "front") })
        // Before any container action: a container never runs without its network's isolation.
        let index = try #require(plan.firstIndex(of: ruleset))
        #expect(!plan.prefix(index).contains { if case .container = $0.object { return true } else { return false } })
    }

    @Test func aTableEditedBehindBerthsBackIsDriftOfItsNetworkOnlyAndFollowsItsPolicy() throws {
        let front = try network { $0.policy = ObjectPolicy(drift: .warn) }
        var observed = ObservedHost(networks: ["front"])
        observed.rulesets["front"] = [
            FieldChange("spec.reach", desired: .text("no other network"), observed: .text("chain forward edited"), origin: .drift)
        ]
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [front], containers: [])
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
        let drift = Planner.drift(desired: desired, observed: observed)
        #expect(drift.map(\.object) == [.ruleset(network: "front")] && drift.first?.policy == .warn && drift.first?.origin == .drift)
        let enforcing = DesiredHost(host: HostFacts(name: "h"), networks: [try network()], containers: [])
        #expect(Planner.plan(desired: enforcing, observed: observed).map(\.object) == [.ruleset(network: "front")])
    }

    @Test func aBridgeOutOfBerthsDeviceGroupIsDrift() throws {
        let front = try network()
        var bridge = bridge(for: front)
        bridge.group = 0
        let (desired, observed) = host(front, bridge, recorded: front.spec)
        let plan = Planner.plan(desired: desired, observed: observed)
        #expect(plan.map(\.object) == [.network("front")] && plan.map(\.kind) == [.updateLive])
        #expect(plan.first?.changes == [FieldChange("bridge.group", desired: .number(0xbe47), observed: .number(0), origin: .drift)])
    }

    @Test func theOldInstanceWideNATTableGoesOnlyWhenEveryRecordedNetworkHasItsOwn() throws {
        let front = try network()
        var observed = ObservedHost(networks: ["front"])
        observed.legacyNATTable = "berth_berth"
        observed.recordedNetworks = ["front": "br-front", "edge": "br-edge"]
        let subset = DesiredHost(host: HostFacts(name: "h"), networks: [front], containers: [])
        // edge is not in this run: its forwards still live in the old table.
        #expect(Planner.plan(desired: subset, observed: observed).isEmpty)
        // Once edge has its own table (another source applied it), it goes.
        observed.networksWithTables = ["edge"]
        let plan = Planner.plan(desired: subset, observed: observed)
        #expect(plan.map(\.operation) == [.deleteLegacyNAT(table: "berth_berth")])
        #expect(plan.first?.description.hasPrefix("delete Ruleset/* table: ip berth_berth → absent") == true)
    }

    @Test func anotherSourcesNetworkKeepsItsTable() throws {
        let front = try network()
        var observed = ObservedHost(networks: ["front"])
        observed.bridges["front"] = bridge(for: front)
        observed.networkSpecs["front"] = front.spec
        observed.inventories = ["/srv/b": Inventory(source: "/srv/b", networks: ["front"])]
        observed.rulesets["front"] = [FieldChange("table", desired: .text("berth_x-front"), observed: .absent, origin: .manifest)]
        let desired = DesiredHost(host: HostFacts(name: "h"), networks: [front], containers: [])
        // Shared with /srv/b (same spec): its own source plans its table.
        let plan = Planner.plan(desired: desired, observed: observed, options: PlanOptions(scope: .source("/srv/a")))
        #expect(!plan.contains { $0.object == .ruleset(network: "front") })
        #expect(
            Planner.plan(desired: desired, observed: observed, options: PlanOptions(scope: .source("/srv/b"))).map(\.object).contains(
                .ruleset(network: "front")))
    }
    // MARK: spec.driver macvlan

    /// web1 on `front`, its eth0 of `kind` (a macvlan in `mode` private or not).
    func onMacvlan(_ web: ContainerObject, _ wanted: NetworkObject, applied: NetworkObject, kind: String, attached: Bool, isolated: Bool?)
        throws -> (DesiredHost, ObservedHost)
    {
        var interface = NetworkObservation.Interface(
            name: "eth0", kind: kind, up: true, addresses: [try cidr("10.88.0.10/24")], hostSideAttached: attached, mtu: 1500)
        interface.isolated = isolated
        var device = bridge(for: applied)
        device.ports = [:]
        device.driver = applied.spec.driver
        device.lower = applied.spec.driver == .macvlan ? true : nil
        return try running(web, with: interface, wanted, device, recorded: applied.spec)
    }

    @Test(arguments: [DriftPolicy.enforce, .warn])
    func aDriverChangeMakesTheDeviceAndTheContainersInterfacesAgainLive(policy: DriftPolicy) throws {
        let web = try web(drift: policy)
        let applied = try network()
        let wanted = try network { $0.driver = .macvlan }
        let (desired, observed) = try onMacvlan(web, wanted, applied: applied, kind: "veth", attached: false, isolated: nil)
        #expect(
            Planner.plan(desired: desired, observed: observed) == [
                Action(
                    .network("front"), .repairBridge(wanted),
                    changes: [FieldChange("spec.driver", desired: .text("macvlan"), observed: .text("bridge"), origin: .manifest)],
                    reason: .bridgeRepaired),
                Action(
                    .container("web1"), .updateNetworks(web, networks: [wanted]),
                    changes: [
                        FieldChange(
                            "spec.networks[0].network", desired: .text("front"), observed: .text("not a macvlan on its lower end"),
                            origin: .manifest)
                    ], reason: .networkChangedLive),
            ])
        // Made again and attached: nothing.
        let (_, settled) = try onMacvlan(web, wanted, applied: wanted, kind: "macvlan", attached: true, isolated: false)
        #expect(Planner.plan(desired: desired, observed: settled).isEmpty)
    }

    @Test(arguments: [DriftPolicy.enforce, .warn])
    func aMacvlanNetworksIsolationIsEachContainersModeLive(policy: DriftPolicy) throws {
        let web = try web(drift: policy)
        let applied = try network { $0.driver = .macvlan }
        let wanted = try network {
            $0.driver = .macvlan
            $0.isolated = true
        }
        let (desired, observed) = try onMacvlan(web, wanted, applied: applied, kind: "macvlan", attached: true, isolated: false)
        let plan = Planner.plan(desired: desired, observed: observed)
        // No bridge ports to flag: the network itself has nothing to change.
        #expect(
            plan == [
                Action(
                    .container("web1"), .updateNetworks(web, networks: [wanted]),
                    changes: [FieldChange("spec.networks[0].isolated", desired: .text("private"), observed: .text("bridge"), origin: .manifest)],
                    reason: .networkChangedLive)
            ])
        // A mode changed behind berth's back is drift, left alone under warn.
        let (_, behind) = try onMacvlan(web, wanted, applied: wanted, kind: "macvlan", attached: true, isolated: false)
        let drifted = Planner.plan(desired: desired, observed: behind)
        #expect(drifted.map(\.operation) == (policy == .enforce ? [.updateNetworks(web, networks: [wanted])] : []))
        #expect(Planner.drift(desired: desired, observed: behind).map(\.field) == ["spec.networks[0].isolated"])
    }

    @Test func aMacvlanNetworksLowerEndDownIsDriftRepairedLive() throws {
        let wanted = try network { $0.driver = .macvlan }
        var device = bridge(for: wanted)
        device.ports = [:]
        device.driver = .macvlan
        device.lower = false
        let (desired, observed) = host(wanted, device, recorded: wanted.spec)
        let plan = Planner.plan(desired: desired, observed: observed)
        #expect(plan.map(\.operation) == [.repairBridge(wanted)])
        #expect(plan.first?.changes.map(\.field) == ["bridge.lower"])
        #expect(plan.first?.changes.map(\.origin) == [.drift])
        device.lower = true
        #expect(Planner.plan(desired: desired, observed: host(wanted, device, recorded: wanted.spec).1).isEmpty)
    }
}
