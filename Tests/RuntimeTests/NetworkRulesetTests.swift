import Foundation
import Model
import Testing

@testable import Runtime

@Suite struct NetworkRulesetTests {
    let source = SourceLocation(file: "t", line: 1, column: 1)

    func network(_ name: String, _ subnet: String, _ configure: (inout NetworkSpec) -> Void = { _ in }) throws -> NetworkObject {
        var spec = NetworkSpec(subnet: try CIDR(parsing: subnet))
        configure(&spec)
        return NetworkObject(metadata: ObjectMeta(name: name), spec: spec.resolved(name: name), source: source)
    }

    @Test func natNetworkWithAForwardAndAReachRendersItsOwnTable() throws {
        let edge = try network("edge", "10.89.0.0/24") {
            $0.nat = true
            $0.reach = ["front"]
            $0.portForwards = [PortForward(protocol: .tcp, hostPort: 8080, container: "web", containerPort: 80)]
        }
        let front = try network("front", "10.88.0.0/24")
        var containerSpec = ContainerSpec()
        containerSpec.networks = [NetworkAttachment(network: "edge", addresses: [try CIDR(parsing: "10.89.0.10", requirePrefix: false)])]
        let container = ContainerObject(
            metadata: ObjectMeta(name: "web"), spec: containerSpec.resolved(name: "web", defaultRootfs: .template("busybox")), source: source)
        let table = NetworkRuleset.tableName(cgroupParent: "berth", network: "edge")
        let ruleset = NetworkRuleset(table: table, network: edge, reached: [front], containers: [container])
        #expect(
            ruleset.text == """
                add table inet berth_berth-edge
                delete table inet berth_berth-edge
                table inet berth_berth-edge {
                  chain prerouting {
                    type nat hook prerouting priority dstnat; policy accept;
                    meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.89.0.10:80
                  }
                  chain output {
                    type nat hook output priority -100; policy accept;
                    meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.89.0.10:80
                  }
                  chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    ip saddr 10.89.0.0/24 oifgroup != 48711 masquerade
                  }
                  chain forward {
                    type filter hook forward priority filter; policy accept;
                    iifname "br-edge" oifgroup 48711 ct state established,related accept
                    iifname "br-edge" oifgroup 48711 ct status dnat accept
                    iifname "br-edge" oifname { "br-edge", "br-front" } accept
                    iifname "br-edge" oifgroup 48711 drop
                  }
                }

                """)
        #expect(ruleset.forwardingBridge == "br-edge")
        #expect(
            ruleset.fields == [
                "spec.portForwards": "tcp 8080 → 10.89.0.10:80", "spec.nat": "masquerade 10.89.0.0/24", "spec.reach": "front",
            ])
    }

    @Test func aPlainNetworkStillHasItsIsolation() throws {
        let ruleset = NetworkRuleset(table: "berth_x-front", network: try network("front", "10.88.0.0/24"), reached: [], containers: [])
        #expect(ruleset.text.contains("iifname \"br-front\" oifgroup 48711 drop"))
        #expect(!ruleset.text.contains("masquerade") && !ruleset.text.contains("dnat ip to"))
        #expect(ruleset.forwardingBridge == nil)
    }

    @Test(arguments: [("berth", "front", "berth_berth-front"), ("berth-test-1/a", "web-net", "berth_berth_test_1_a-web-net")])
    func tableNameIsSanitisedAndKeepsInstancesApart(parent: String, network: String, table: String) {
        #expect(NetworkRuleset.tableName(cgroupParent: parent, network: network) == table)
        #expect(table.hasPrefix(NetworkRuleset.tablePrefix(cgroupParent: parent)))
    }

    @Test func chainsOfAListingAreHashedOneByOne() {
        let listing = """
            table inet berth_x-front {
            \tchain prerouting {
            \t\ttype nat hook prerouting priority dstnat; policy accept;
            \t}
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy accept;
            \t\tiifname "br-front" oifname { "br-front", "br-edge" } accept
            \t}
            }

            """
        let hashes = NetworkRuleset.chainHashes(listing)
        #expect(Set(hashes.keys) == ["prerouting", "forward"])
        let edited = listing.replacingOccurrences(of: ", \"br-edge\"", with: "")
        let after = NetworkRuleset.chainHashes(edited)
        #expect(after["prerouting"] == hashes["prerouting"] && after["forward"] != hashes["forward"])
    }
}

/// A ruleset generation as a record keeps it, and the one a commit later.
struct RulesetGenerationTextTests {
    @Test func readBackFromItsTextAndNothingElse() {
        let generation = RulesetGeneration(boot: "b00t", namespaceCookie: 7, id: 41)
        #expect(generation.description == "b00t 7 41")
        #expect(RulesetGeneration(generation.description) == generation)
        for text in [nil, "", "b00t 7", "b00t 7 x", "b00t -1 4", "b00t 7 41 2"] as [String?] {
            #expect(RulesetGeneration(text) == nil, "\(String(describing: text))")
        }
    }

    @Test func theNextGenerationIsOneOnAndSkipsZero() {
        #expect(RulesetGeneration(boot: "b00t", namespaceCookie: 7, id: 41).next.description == "b00t 7 42")
        #expect(RulesetGeneration(boot: "b00t", namespaceCookie: 7, id: .max).next.description == "b00t 7 1")
    }
}
