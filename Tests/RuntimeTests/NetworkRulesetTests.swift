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

/// One of berth's commits in a container's namespace, and what it tells of
/// the other table berth keeps there (RulesetStep, ContainerRecord).
struct RulesetStepTests {
    let at41 = RulesetGeneration(boot: "b00t", namespaceCookie: 7, id: 41)

    @Test func aCommitIsTheOnlyChangeWhenTheGenerationMovedOnByOne() {
        #expect(RulesetStep(before: at41, after: at41.next).isSole)
        #expect(!RulesetStep(before: at41, after: at41.next.next).isSole)
        #expect(!RulesetStep(before: at41, after: at41).isSole)
        #expect(!RulesetStep(before: nil, after: at41).isSole)
        #expect(!RulesetStep(before: at41, after: nil).isSole)
        // Another namespace (a container started again) or another boot.
        #expect(!RulesetStep(before: at41, after: RulesetGeneration(boot: "b00t", namespaceCookie: 8, id: 42)).isSole)
        #expect(!RulesetStep(before: at41, after: RulesetGeneration(boot: "other", namespaceCookie: 7, id: 42)).isSole)
    }

    @Test func anotherTableIsCarriedOnOnlyWhenItWasKnownRightBefore() {
        let sole = RulesetStep(before: at41, after: at41.next)
        #expect(sole.carried(at41.description) == at41.next.description)
        // Known at an older generation: something changed since, left as it was.
        let older = RulesetGeneration(boot: "b00t", namespaceCookie: 7, id: 40).description
        #expect(sole.carried(older) == older)
        #expect(sole.carried(nil) == nil)
        // Another commit came between: left as it was (listed at the next observe).
        #expect(RulesetStep(before: at41, after: at41.next.next).carried(at41.description) == at41.description)
    }

    @Test func theRecordKeepsBothTablesAcrossEachOthersCommits() {
        var record = ContainerRecord(
            name: "c", pid: 1, startTime: 1, cgroup: "berth/c", scope: nil, rootfs: "/r", lower: "/l", upper: "/u", work: "/w",
            keepPrivateLayer: false)
        let at42 = at41.next
        // At start: the connection limit's commit, then the firewall's.
        record.keepConnectionLimit(RulesetStep(before: at41, after: at42))
        #expect(record.connectionLimitGeneration == at42.description)
        record.keepFirewall(ContainerFirewall.Applied(fingerprint: "f1", step: RulesetStep(before: at42, after: at42.next)))
        #expect(record.firewallFingerprint == "f1" && record.firewallGeneration == at42.next.description)
        #expect(record.connectionLimitGeneration == at42.next.description)
        // A live change of the limit carries the firewall on.
        record.keepConnectionLimit(RulesetStep(before: at42.next, after: at42.next.next))
        #expect(record.connectionLimitGeneration == at42.next.next.description)
        #expect(record.firewallGeneration == at42.next.next.description)
        // Someone else's commit came between: the limit is not known, and the
        // firewall stays where it was known (both listed at the next observe).
        let known = record.firewallGeneration
        record.keepConnectionLimit(RulesetStep(before: at42.next.next.next, after: at42.next.next.next.next))
        #expect(record.connectionLimitGeneration == at42.next.next.next.next.description)
        #expect(record.firewallGeneration == known)
        record.keepConnectionLimit(RulesetStep(before: at41, after: at42.next))
        #expect(record.connectionLimitGeneration == nil)
        // The firewall removed: no fingerprint, no generation.
        record.keepFirewall(ContainerFirewall.Applied(fingerprint: nil, step: RulesetStep(before: at42, after: at42.next)))
        #expect(record.firewallFingerprint == nil && record.firewallGeneration == nil)
    }
}
