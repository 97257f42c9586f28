import Model
import Testing

@testable import Manifest

@Suite struct ResolveTests {
    let networks = """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: front}
        spec: {subnet: 10.88.0.0/24}
        ---
        apiVersion: berth/v1
        kind: Network
        metadata: {name: back}
        spec: {subnet: 10.99.0.0/24, gateway: 10.99.0.254}

        """

    func container(_ name: String, _ body: String) -> String {
        """
        ---
        apiVersion: berth/v1
        kind: Container
        metadata: {name: \(name)}
        spec:
          rootfs: {template: busybox}
        \(body)
        """
    }

    @Test func profilesMergeInOrderAndTheContainerWins() throws {
        let yaml = """
            apiVersion: berth/v1
            kind: Profile
            metadata: {name: base}
            spec:
              rootfs: {template: busybox}
              env: {A: base, B: base}
              resources: {memory: {max: 1Gi, high: 512Mi}, pids: {max: 100}}
            ---
            apiVersion: berth/v1
            kind: Profile
            metadata: {name: big}
            spec:
              env: {B: big}
              resources: {memory: {max: 4Gi}}
            ---
            apiVersion: berth/v1
            kind: Container
            metadata: {name: web1}
            spec:
              profiles: [base, big]
              env: {C: own}
              resources: {pids: {max: 200}}
            """
        let decoded = decode(yaml)
        #expect(decoded.errors.isEmpty)
        let (desired, errors) = ManifestSet(documents: decoded.documents).resolve(for: HostFacts(name: "node1"))
        #expect(errors.isEmpty, "\(rendered(errors))")
        let spec = try #require(desired.containers.first?.spec)
        #expect(spec.rootfs == .template("busybox"))
        #expect(spec.env == ["A": "base", "B": "big", "C": "own"])
        #expect(spec.resources.memory?.max == ByteSize(bytes: 4 << 30))
        #expect(spec.resources.memory?.high == ByteSize(bytes: 512 << 20))
        #expect(spec.resources.pids?.max == 200)
    }

    @Test func placementSelectsObjectsForTheHost() throws {
        let yaml = """
            apiVersion: berth/v1
            kind: Container
            metadata: {name: a}
            spec: {rootfs: {template: busybox}, placement: {hostnames: [node1]}}
            ---
            apiVersion: berth/v1
            kind: Container
            metadata: {name: b}
            spec: {rootfs: {template: busybox}, placement: {hostLabels: {role: db}}}
            ---
            apiVersion: berth/v1
            kind: Container
            metadata: {name: c}
            spec: {rootfs: {template: busybox}}
            """
        let documents = decode(yaml).documents
        let set = ManifestSet(documents: documents)
        #expect(set.resolve(for: HostFacts(name: "node1")).desired.containers.map(\.metadata.name) == ["a", "c"])
        #expect(
            set.resolve(for: HostFacts(name: "node2", labels: ["role": "db"])).desired.containers.map(\.metadata.name)
                == ["b", "c"])
    }

    @Test(arguments: [
        (
            "  networks: [{network: front, addresses: [10.88.1.5]}]",
            "spec.networks[0].addresses[0]: address 10.88.1.5 is not inside network 'front' (10.88.0.0/24)"
        ),
        (
            "  networks: [{network: front, addresses: [10.88.0.1]}]",
            "spec.networks[0].addresses[0]: address 10.88.0.1 is the gateway of network 'front'"
        ),
        (
            "  networks: [{network: back, addresses: [10.99.0.254]}]",
            "spec.networks[0].addresses[0]: address 10.99.0.254 is the gateway of network 'back'"
        ),
        (
            "  networks: [{network: front, addresses: [10.88.0.255]}]",
            "spec.networks[0].addresses[0]: address 10.88.0.255 is the broadcast address of 10.88.0.0/24"
        ),
        (
            "  networks: [{network: front, addresses: [10.88.0.9/16]}]",
            "spec.networks[0].addresses[0]: prefix /16 differs from the network's 10.88.0.0/24"
        ),
        (
            "  networks: [{network: frnt}]",
            "spec.networks[0].network: unknown network 'frnt' (did you mean 'front'?)"
        ),
        (
            "  networks: [{network: front}, {network: front}]",
            "spec.networks[1].network: network 'front' is already attached as networks[0]"
        ),
        (
            "  networks: [{network: front, interface: eth0}, {network: back, interface: eth0}]",
            "spec.networks[1].interface: interface 'eth0' is already used by networks[0]"
        ),
        (
            "  networks: [{network: front, addresses: [\"fd00::1\"]}]",
            "spec.networks[0].addresses[0]: network 'front' has no IPv6 subnet for fd00::1"
        ),
        (
            "  profiles: [bse]",
            "spec.profiles[0]: unknown profile 'bse'"
        ),
        (
            "  resources: {memory: {max: 1Gi, high: 2Gi}}",
            "spec.resources.memory.high: memory.high (2Gi) is above memory.max (1Gi)"
        ),
    ])
    func crossDocumentProblemIsReported(body: String, expected: String) {
        let errors = rendered(check(networks + container("web1", body)))
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.contains(": error: " + expected) == true, "\(errors)")
    }

    @Test func addressTakenTwicePointsAtBoth() throws {
        let yaml =
            networks + container("web1", "  networks: [{network: front, addresses: [10.88.0.5]}]")
            + "\n" + container("web2", "  networks: [{network: front, addresses: [10.88.0.5]}]")
        let errors = check(yaml)
        #expect(errors.count == 1)
        let error = try #require(errors.first)
        #expect(error.location.line == 23)
        #expect(error.message == "address 10.88.0.5 is already taken by web1")
        #expect(error.hint == "see test.yaml:16:43")
    }

    @Test func duplicateNamesAreReportedWithTheFirstPosition() {
        let errors = rendered(check(container("web1", "") + "\n" + container("web1", "")))
        #expect(errors == ["test.yaml:11:18: error: metadata.name: Container 'web1' is declared twice (first declared at test.yaml:2:1)"])
    }

    @Test func rootfsIsRequiredAfterMerging() {
        let yaml = """
            apiVersion: berth/v1
            kind: Container
            metadata: {name: bare}
            spec: {hostname: bare}
            """
        #expect(
            rendered(check(yaml)) == [
                "test.yaml:4:7: error: spec.rootfs: required field is missing (set it here or in one of the container's profiles)"
            ])
    }

    @Test func overlappingSubnetsAndBridgesAreRefused() {
        let yaml =
            networks + """
                ---
                apiVersion: berth/v1
                kind: Network
                metadata: {name: wide}
                spec: {subnet: 10.88.0.0/16, bridge: br-front}
                """
        let errors = rendered(check(yaml))
        #expect(errors.count == 2, "\(errors)")
        #expect(errors.contains { $0.contains("spec.subnet: subnet 10.88.0.0/16 overlaps network 'front' (10.88.0.0/24)") })
        #expect(errors.contains { $0.contains("spec.bridge: bridge 'br-front' is also used by network 'front'") })
    }

    @Test func portForwardNeedsAnAttachedContainerAndAFreePort() {
        let yaml = """
            apiVersion: berth/v1
            kind: Network
            metadata: {name: edge}
            spec:
              subnet: 10.89.0.0/24
              portForwards:
                - {hostPort: 8080, container: web}
                - {hostPort: 8080, container: web, containerPort: 81}
                - {hostPort: 9090, container: ghost}
            ---
            apiVersion: berth/v1
            kind: Container
            metadata: {name: web}
            spec:
              rootfs: {template: busybox}
              networks: [{network: edge, addresses: [10.89.0.10]}]
            """
        let errors = rendered(check(yaml))
        #expect(errors.count == 2, "\(errors)")
        #expect(errors.contains { $0.contains("spec.portForwards[1].hostPort: host port tcp/8080 is already forwarded") })
        #expect(errors.contains { $0.contains("spec.portForwards[2].container: unknown container 'ghost' on host 'node1'") })
    }

    @Test func networkPlacedElsewhereIsNamedAsSuch() {
        let yaml = """
            apiVersion: berth/v1
            kind: Network
            metadata: {name: far}
            spec: {subnet: 10.77.0.0/24, placement: {hostnames: [node9]}}
            """ + "\n" + container("web1", "  networks: [{network: far}]")
        #expect(rendered(check(yaml)).first?.contains("network 'far' is not placed on host 'node1'") == true)
    }
}
