import Model
import Testing

@testable import Runtime

@Suite struct NATRulesetTests {
    let source = SourceLocation(file: "t", line: 1, column: 1)

    @Test func natNetworkWithAForwardRendersOneTransaction() throws {
        var spec = NetworkSpec(subnet: try CIDR(parsing: "10.89.0.0/24"))
        spec.nat = true
        spec.portForwards = [PortForward(protocol: .tcp, hostPort: 8080, container: "web", containerPort: 80)]
        let network = NetworkObject(metadata: ObjectMeta(name: "edge"), spec: spec, source: source)
        var containerSpec = ContainerSpec()
        containerSpec.networks = [NetworkAttachment(network: "edge", addresses: [try CIDR(parsing: "10.89.0.10", requirePrefix: false)])]
        let container = ContainerObject(metadata: ObjectMeta(name: "web"), spec: containerSpec, source: source)
        let ruleset = NATRuleset(table: NATRuleset.tableName(cgroupParent: "berth"), networks: [network], containers: [container])
        #expect(
            ruleset.text == """
                add table ip berth_berth
                delete table ip berth_berth
                table ip berth_berth {
                  chain prerouting {
                    type nat hook prerouting priority dstnat; policy accept;
                    fib daddr type local tcp dport 8080 dnat to 10.89.0.10:80
                  }
                  chain output {
                    type nat hook output priority -100; policy accept;
                    fib daddr type local tcp dport 8080 dnat to 10.89.0.10:80
                  }
                  chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    ip saddr 10.89.0.0/24 oifname != "br-edge" masquerade
                  }
                }

                """)
        #expect(ruleset.forwardingBridges == ["br-edge"])
    }

    @Test func noNATMeansTheTableIsRemoved() throws {
        let network = NetworkObject(metadata: ObjectMeta(name: "front"), spec: NetworkSpec(subnet: try CIDR(parsing: "10.88.0.0/24")), source: source)
        let ruleset = NATRuleset(table: "berth_x", networks: [network], containers: [])
        #expect(ruleset.text == "add table ip berth_x\ndelete table ip berth_x\n")
        #expect(ruleset.isEmpty)
    }

    @Test(arguments: [("berth", "berth_berth"), ("berth-test-1/a", "berth_berth_test_1_a")])
    func tableNameIsSanitised(parent: String, table: String) {
        #expect(NATRuleset.tableName(cgroupParent: parent) == table)
    }
}
