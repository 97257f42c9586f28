import Model
import Testing

@testable import Manifest

/// A Network's subnet may not take the host's loopback, link-local or
/// multicast ranges or every address, and `reach` names other networks
/// placed on the host: refused by validate at the field's position.
@Suite struct NetworkRangeTests {
    func network(_ spec: String, name: String = "net") -> String {
        """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: \(name)}
        spec:
        \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

        """
    }

    /// An IPv4 subnet, or an IPv6 one (with ':') beside a valid IPv4 subnet:
    /// one error, at the subnet's line and column.
    @Test(arguments: [
        ("127.0.0.0/8", "subnet 127.0.0.0/8 overlaps the loopback range 127.0.0.0/8"),
        ("127.0.5.0/24", "subnet 127.0.5.0/24 overlaps the loopback range 127.0.0.0/8"),
        ("169.254.0.0/24", "subnet 169.254.0.0/24 overlaps the link-local range 169.254.0.0/16"),
        ("224.0.0.0/24", "subnet 224.0.0.0/24 overlaps the multicast range 224.0.0.0/4"),
        ("0.0.0.0/0", "0.0.0.0/0 is every address (a default route), not a subnet"),
        ("0.0.0.0/8", "subnet 0.0.0.0/8 overlaps the 'this network' range 0.0.0.0/8"),
        ("96.0.0.0/3", "subnet 96.0.0.0/3 overlaps the loopback range 127.0.0.0/8"),
        ("::/0", "::/0 is every address (a default route), not a subnet"),
        ("::/64", "subnet ::/64 overlaps the loopback address ::1/128"),
        ("fe80::/64", "subnet fe80::/64 overlaps the link-local range fe80::/10"),
        ("ff02::/16", "subnet ff02::/16 overlaps the multicast range ff00::/8"),
        ("::ffff:0:0/96", "subnet ::ffff:0:0/96 overlaps the IPv4-mapped range ::ffff:0:0/96"),
    ])
    func reservedSubnetIsRefusedAtItsLine(subnet: String, message: String) {
        let ipv6 = subnet.contains(":")
        let errors = rendered(check(network(ipv6 ? "subnet: 10.88.0.0/24\nipv6: {subnet: \"\(subnet)\"}" : "subnet: \(subnet)")))
        let at = ipv6 ? "test.yaml:6:18: error: spec.ipv6.subnet: " : "test.yaml:5:11: error: spec.subnet: "
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix(at + message) == true, "\(errors)")
    }

    @Test(arguments: ["10.88.0.0/24", "172.16.0.0/12", "192.168.1.0/24", "100.64.0.0/10"])
    func privateSubnetIsAccepted(subnet: String) {
        #expect(check(network("subnet: \(subnet)")).isEmpty)
    }

    @Test func reachNamesOtherNetworksPlacedOnTheHost() {
        let yaml =
            network("subnet: 10.88.0.0/24\nreach: [back, frnt, front, back, db]", name: "front") + "---\n"
            + network("subnet: 10.89.0.0/24", name: "back") + "---\n"
            + network("subnet: 10.90.0.0/24\nplacement: {hostnames: [other]}", name: "db")
        let errors = rendered(check(yaml))
        #expect(
            errors == [
                "test.yaml:6:17: error: spec.reach[1]: unknown network 'frnt' (did you mean 'front'?)",
                "test.yaml:6:23: error: spec.reach[2]: a network always reaches its own containers; list other networks only",
                "test.yaml:6:30: error: spec.reach[3]: network 'back' is listed twice",
                "test.yaml:6:36: error: spec.reach[4]: network 'db' is not placed on host 'node1'",
            ], "\(errors)")
        #expect(
            check(network("subnet: 10.88.0.0/24\nreach: [back]", name: "front") + "---\n" + network("subnet: 10.89.0.0/24", name: "back")).isEmpty)
    }
}
