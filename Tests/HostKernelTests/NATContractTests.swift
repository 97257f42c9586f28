import Foundation
import Kernel
import Netlink
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The host NAT table's fields on the real kernel: `spec.nat` and
/// `spec.portForwards` changed in the manifest are applied live (the
/// container keeps its init), the table berth applied is observed, and a
/// table deleted behind berth's back is drift, repaired by apply.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct NATContractTests {
    static func manifests(nat: Bool, hostPort: Int, containerPort: Int = 80) -> String {
        """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: natnet}
        spec:
          subnet: 10.97.0.0/24
          bridge: br-natc
          nat: \(nat)
          portForwards:
            - {protocol: tcp, hostPort: \(hostPort), container: nat1, containerPort: \(containerPort)}
        ---
        apiVersion: berth/v1
        kind: Container
        metadata: {name: nat1}
        spec:
          rootfs: {template: busybox}
          init: {command: [/bin/sh, -c, "mkdir -p /www && echo hello from nat1 > /www/index.html && exec httpd -f -p 80 -h /www"]}
          networks: [{network: natnet, addresses: [10.97.0.10]}]

        """
    }

    @Test func natAndPortForwardsChangeLiveAndADeletedTableIsDrift() throws {
        let bench = try FieldContractTests.Bench()
        defer {
            try? RouteNetlink().deleteLink("br-natc")
            #expect(bench.host.tearDown() == [])
        }
        let table = NetworkRuleset.tableName(cgroupParent: bench.host.parent, network: "natnet")
        func listing() -> String { (try? NFTables().run("list table inet \(table)")) ?? "" }
        func fetch(_ port: Int) -> String {
            // Bounded: this busybox's own wget -T crashes.
            let result = try? Spawn.run(["/usr/bin/timeout", "3", "/bin/busybox", "wget", "-q", "-O", "-", "http://10.97.0.1:\(port)/"])
            return result.map { String(decoding: $0.output, as: UTF8.self) } ?? ""
        }
        func served(_ port: Int) -> Bool { eventually(seconds: 10) { fetch(port).contains("hello from nat1") } }
        let file = bench.manifests + "/nat.yaml"

        try NATContractTests.manifests(nat: false, hostPort: 8081).write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try bench.berth("apply").code == 0)
        let pid = try #require(bench.pid("nat1"))
        #expect(served(8081))
        #expect(!listing().contains("masquerade"))
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)

        // spec.portForwards[].hostPort and spec.nat changed in the manifest.
        try NATContractTests.manifests(nat: true, hostPort: 8082).write(toFile: file, atomically: true, encoding: .utf8)
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(plan.code == 2 && plan.output.contains("update-live Ruleset/nat"), "\(plan.output)")
        #expect(try bench.berth("apply").code == 0)
        #expect(served(8082) && fetch(8081).isEmpty)
        #expect(listing().contains("masquerade") && listing().contains("dport 8082"))
        #expect(bench.pid("nat1") == pid)
        #expect(try bench.berth("plan", ["--detailed-exitcode"]).code == 0)

        // The table deleted behind berth's back.
        _ = try NFTables().run("delete table inet \(table)")
        let drift = try bench.berth("drift", ["--detailed-exitcode"])
        #expect(drift.code == 2 && drift.output.contains("Ruleset/nat") && drift.output.contains("drift"), "\(drift.output)")
        #expect(try bench.berth("apply").code == 0)
        #expect(served(8082))
        #expect(try bench.berth("drift", ["--detailed-exitcode"]).code == 0)
    }
}
