import Foundation
import Testing

@testable import Model

/// A network's defaults are applied once, when it is resolved: the planner,
/// the runtime and the network records see no unset field.
@Suite struct NetworkConfigTests {
    static func subnet(_ text: String = "10.88.0.0/24") throws -> CIDR { try CIDR(parsing: text) }

    @Test func aSpecWithOnlyItsSubnetGetsEveryDefault() throws {
        let config = NetworkSpec(subnet: try Self.subnet()).resolved(name: "front")
        #expect(config.bridge == "br-front")
        #expect(config.gateway == (try IPAddress(parsing: "10.88.0.1")))
        #expect(config.gatewayAddress.description == "10.88.0.1/24")
        #expect(config.ipv6 == nil && config.placement == nil)
        #expect(!config.nat && !config.isolated && !config.needsForwarding)
        #expect(config.mtu == Defaults.bridgeMTU)
        #expect(config.portForwards.isEmpty && config.reach.isEmpty)
        #expect(config.drift == Defaults.drift)
        #expect(config.driver == .bridge)
        #expect(config == NetworkConfig(name: "front", subnet: try Self.subnet()))
    }

    /// An address written without a prefix takes its network's: the IPv4
    /// subnet's, or the IPv6 subnet's when inside it (a /128 has no route
    /// to the IPv6 gateway, and the default route via it is refused).
    @Test func anAddressWithoutAPrefixTakesItsSubnets() throws {
        var network = NetworkSpec(subnet: try Self.subnet())
        network.ipv6 = IPv6Subnet(subnet: try Self.subnet("fd00:88::/64"))
        let front = NetworkObject(
            metadata: ObjectMeta(name: "front"), spec: network.resolved(name: "front"), source: SourceLocation(file: "t", line: 1, column: 1))
        var spec = ContainerSpec()
        spec.rootfs = RootfsSpec(source: .template("busybox"))
        let written = ["10.88.0.10", "fd00:88::10", "fd00:99::10", "fd00:88::11/120"]
        spec.networks = [NetworkAttachment(network: "front", addresses: try written.map { try CIDR(parsing: $0, requirePrefix: false) })]
        let web = ContainerObject(
            metadata: ObjectMeta(name: "web"), spec: spec.resolved(name: "web", defaultRootfs: .template("busybox")),
            source: SourceLocation(file: "t", line: 1, column: 1))
        let layout = web.interfaceLayout(networks: ["front": front])
        #expect(layout.first?.addresses.map(\.description) == ["10.88.0.10/24", "fd00:88::10/64", "fd00:99::10/128", "fd00:88::11/120"])
        #expect(layout.first?.gateway6 == (try IPAddress(parsing: "fd00:88::1")))
    }

    /// Each driver's host device and container interface, by kernel kind, both ways.
    @Test func aDriverIsKnownByItsDevicesKind() {
        #expect(NetworkDriver.bridge.deviceKind == "bridge" && NetworkDriver.macvlan.deviceKind == "veth")
        #expect(NetworkDriver(deviceKind: "bridge") == .bridge && NetworkDriver(deviceKind: "veth") == .macvlan)
        #expect(NetworkDriver(deviceKind: "macvlan") == nil && NetworkDriver(deviceKind: nil) == nil)
        #expect(NetworkDriver.interfaceKinds == ["veth", "macvlan"])
    }

    /// A macvlan network's lower end: named from the bridge's name, within
    /// IFNAMSIZ, never a container's host-end name nor the bridge's own.
    @Test func aMacvlanNetworksLowerEndIsNamedFromItsBridge() throws {
        var spec = NetworkSpec(subnet: try Self.subnet())
        spec.driver = .macvlan
        let config = spec.resolved(name: "front")
        #expect(config.driver == .macvlan)
        #expect(config.macvlanLower.hasPrefix("bm") && config.macvlanLower.utf8.count == 10)
        #expect(config.macvlanLower != config.bridge)
        spec.bridge = "br-other"
        #expect(spec.resolved(name: "front").macvlanLower != config.macvlanLower)
        // Stored with its driver, read back equal; a record without one is a bridge network.
        let stored = try JSONEncoder().encode(config)
        #expect(String(decoding: stored, as: UTF8.self).contains("\"driver\":\"macvlan\""))
        #expect(try JSONDecoder().decode(NetworkConfig.self, from: stored) == config)
        let old = #"{"subnet":"10.88.0.0/24","bridge":"br-front"}"#
        #expect(try JSONDecoder().decode(NetworkConfig.self, from: Data(old.utf8)).driver == .bridge)
    }

    @Test func aLongNameGetsAHashedBridgeThatFitsIFNAMSIZ() throws {
        let config = NetworkSpec(subnet: try Self.subnet()).resolved(name: "a-network-with-a-long-name")
        #expect(config.bridge.utf8.count <= 15 && config.bridge.hasPrefix("br-"))
        #expect(config.bridge == NetworkSpec.defaultBridgeName(for: "a-network-with-a-long-name"))
    }

    @Test func givenValuesWinAndForwardsGetTheirContainerPort() throws {
        var spec = NetworkSpec(subnet: try Self.subnet())
        spec.bridge = "brx"
        spec.gateway = try IPAddress(parsing: "10.88.0.254")
        spec.ipv6 = IPv6Subnet(subnet: try Self.subnet("fd00:88::/64"))
        spec.nat = true
        spec.mtu = 1400
        spec.portForwards = [PortForward(protocol: .tcp, hostPort: 8080, container: "web1")]
        spec.policy = ObjectPolicy(drift: .warn)
        let config = spec.resolved(name: "front")
        #expect(config.bridge == "brx" && config.mtu == 1400 && config.nat && config.needsForwarding)
        #expect(config.gatewayAddress.description == "10.88.0.254/24")
        #expect(config.ipv6?.gateway == (try IPAddress(parsing: "fd00:88::1")))
        #expect(config.bridgeAddresses.map(\.description) == ["10.88.0.254/24", "fd00:88::1/64"])
        #expect(config.portForwards.map(\.containerPort) == [8080])
        #expect(config.drift == .warn)
    }

    /// Stored in the manifest form with every field written, read back equal.
    @Test func encodingSpellsEveryFieldOutAndReadsBackEqual() throws {
        var spec = NetworkSpec(subnet: try Self.subnet())
        spec.isolated = true
        spec.reach = ["edge"]
        let config = spec.resolved(name: "front")
        let data = try JSONEncoder().encode(config)
        let stored = try JSONDecoder().decode(NetworkSpec.self, from: data)
        #expect(stored.bridge == "br-front" && stored.mtu == Defaults.bridgeMTU && stored.nat == false)
        #expect(stored.policy?.drift == Defaults.drift)
        #expect(try JSONDecoder().decode(NetworkConfig.self, from: data) == config)
        #expect(NetworkSpec(config).resolved(name: "other") == config)
    }

    /// A spec written without its bridge cannot name it: refused, not guessed.
    @Test func aStoredConfigWithoutABridgeIsRefused() throws {
        let data = try JSONEncoder().encode(NetworkSpec(subnet: try Self.subnet()))
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(NetworkConfig.self, from: data) }
    }
}
