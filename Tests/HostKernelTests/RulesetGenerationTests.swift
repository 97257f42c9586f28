import Foundation
import Kernel
import Model
import Runtime
import Testing

/// A network's table is listed (libnftables) only when the kernel's ruleset
/// moved on since berth listed it at apply: any committed change to any
/// table does, so a change behind berth's back is still seen, and an
/// unrelated one is listed and found no drift. In the sandbox's own network
/// namespace.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct RulesetGenerationTests {
    @Test func anUnchangedRulesetIsNotListedAgainAndEveryChangeIsSeen() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var spec = NetworkSpec(subnet: try CIDR(parsing: "10.93.0.0/24"))
        spec.bridge = "br-gen"
        let network = NetworkObject(
            metadata: ObjectMeta(name: "gen"), spec: spec.resolved(name: "gen"), source: SourceLocation(file: "t", line: 1, column: 1))
        let table = NetworkRuleset.tableName(cgroupParent: host.parent, network: "gen")
        let ruleset = NetworkRuleset(table: table, network: network, reached: [], containers: [])
        defer { try? NetworkRuleset.delete(table: table, network: "gen", state: host.runtime.state) }
        try ruleset.apply(state: host.runtime.state)

        // The record holds where the ruleset stood when its chains were listed: now.
        let recordFile = host.root + "/state/rulesets/gen"
        let record = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: recordFile))) as? [String: Any])
        let generation = try #require(record["generation"] as? String)
        #expect(generation.split(separator: " ").count == 3, "\(generation)")
        #expect(generation.hasPrefix(try #require(HostIdentity.bootID)))

        var listings = 0
        func differences() -> [NetworkRuleset.Difference] {
            ruleset.differences(state: host.runtime.state) {
                listings += 1
                return try NFTables()
            }
        }
        // Nothing changed: no listing, no difference.
        #expect(differences() == [])
        #expect(listings == 0)

        // Another table made and deleted: the ruleset moved on; listed, and no drift.
        try NFTables().run("add table inet berth_gen_other\ndelete table inet berth_gen_other\n")
        #expect(differences() == [])
        #expect(listings == 1)

        // A chain added to berth's table behind its back: listed, and drift.
        try NFTables().run("add chain inet \(table) extra { type filter hook forward priority -5; policy accept; }\n")
        let drift = differences()
        #expect(listings == 2)
        #expect(drift.contains { $0.drift && $0.observed == "chain extra added" }, "\(drift)")

        // Applied again: recorded at the new generation, and not listed again.
        try ruleset.apply(state: host.runtime.state)
        #expect(differences() == [])
        #expect(listings == 2)
    }
}
