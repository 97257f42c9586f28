import Foundation
import Kernel
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Networks on the real kernel, each berth instance in a network namespace
/// of its own: every network has its own nftables table (applying some
/// manifests leaves the other networks' rules alone), networks are isolated
/// from each other until one lists the other in `spec.reach`, and a subnet
/// the host's interfaces use is refused by plan.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct NetworkIsolationTests {
    typealias Instance = ExampleTests.Instance

    func network(_ name: String, subnet: String, _ lines: [String] = []) -> String {
        """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: \(name)}
        spec:
          subnet: \(subnet)
          bridge: br-\(name)
        \(lines.map { "  " + $0 + "\n" }.joined())
        """
    }

    /// A container serving "hello from NAME" on port 80.
    func web(_ name: String, network: String, address: String) -> String {
        """
        apiVersion: berth/v1
        kind: Container
        metadata: {name: \(name)}
        spec:
          rootfs: {template: busybox}
          init: {command: [/bin/sh, -c, "mkdir -p /www && echo hello from \(name) > /www/index.html && exec httpd -f -p 80 -h /www"]}
          networks: [{network: \(network), addresses: [\(address)]}]

        """
    }

    func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]), withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// A page fetched over TCP from the network namespace `namespace` (a
    /// path or /proc/PID/ns/net), bounded: busybox's own wget -T crashes.
    func fetch(_ url: String, from namespace: String) -> String {
        let result = try? Spawn.run([
            "/usr/bin/nsenter", "--net=" + namespace, "--", "/usr/bin/timeout", "3", "/bin/busybox", "wget", "-q", "-O", "-", url,
        ])
        return result.map { String(decoding: $0.output, as: UTF8.self) } ?? ""
    }

    func ping(_ address: String, from namespace: String) -> Bool {
        let result = try? Spawn.run(["/usr/bin/nsenter", "--net=" + namespace, "--", "/bin/busybox", "ping", "-c", "1", "-W", "1", address])
        return result?.status == 0
    }

    @Test func applyingOneNetworksManifestsLeavesAnotherNetworksForwardAlone() throws {
        let instance = try Instance()
        defer { #expect(instance.tearDown() == []) }
        // A client: a namespace of the test's, linked to the instance's by a veth.
        let client = "berth-client-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = try Spawn.run(["/usr/sbin/ip", "netns", "add", client])
        defer { _ = try? Spawn.run(["/usr/sbin/ip", "netns", "del", client]) }
        for command in [
            ["link", "add", "vh0", "type", "veth", "peer", "name", "vc0", "netns", client], ["addr", "add", "10.70.0.1/24", "dev", "vh0"],
            ["link", "set", "vh0", "up"],
        ] {
            #expect(try instance.inNamespace(["/usr/sbin/ip"] + command).code == 0)
        }
        // Forwarding on the uplink side, as a host with port forwards has it.
        #expect(try instance.inNamespace(["/bin/sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/vh0/forwarding"]).code == 0)
        for command in [["addr", "add", "10.70.0.2/24", "dev", "vc0"], ["link", "set", "vc0", "up"], ["link", "set", "lo", "up"]] {
            _ = try Spawn.run(["/usr/sbin/ip", "-n", client] + command)
        }
        _ = try Spawn.run(["/usr/sbin/ip", "-n", client, "route", "add", "default", "via", "10.70.0.1"])
        let from = "/run/netns/" + client
        func served(_ port: Int, _ name: String) -> Bool {
            eventually(seconds: 10) { fetch("http://10.70.0.1:\(port)/", from: from).contains("hello from \(name)") }
        }

        let root = instance.host.root
        func networkA(port: Int) -> String {
            network("isoa", subnet: "10.71.0.0/24", ["portForwards: [{hostPort: \(port), container: isoa1, containerPort: 80}]"])
                + "---\n" + web("isoa1", network: "isoa", address: "10.71.0.10")
        }
        let networkB =
            network("isob", subnet: "10.72.0.0/24", ["portForwards: [{hostPort: 8092, container: isob1, containerPort: 80}]"])
            + "---\n" + web("isob1", network: "isob", address: "10.72.0.10")
        // Two sources: a directory with network A and its container, another with B.
        try write(networkA(port: 8091), root + "/a/a.yaml")
        try write(networkB, root + "/b/b.yaml")
        // The one table an older berth kept for the whole instance goes once every network has its own.
        let namespace = try Syscall.open("/run/netns/" + instance.netns, O_RDONLY)
        defer { Syscall.close(namespace) }
        let legacy = String(NetworkRuleset.tablePrefix(cgroupParent: instance.host.parent).dropLast())
        try NFTables.run(
            "table ip \(legacy) {\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n  }\n}\n",
            inNetworkNamespace: namespace)
        #expect(try instance.berth(["apply", root + "/a"]).output.contains("delete Ruleset/*"))
        #expect((try? NFTables.run("list table ip \(legacy)", inNetworkNamespace: namespace)) == nil)
        #expect(try instance.berth(["apply", root + "/b"]).code == 0)
        #expect(served(8091, "isoa1") && served(8092, "isob1"))
        let tableB = NetworkRuleset.tableName(cgroupParent: instance.host.parent, network: "isob")
        func listing(_ table: String) throws -> String {
            try NFTables.run("list table inet \(table)", inNetworkNamespace: namespace)
        }
        let before = try listing(tableB)
        #expect(before.contains("dport 8092"))

        // The directory with network A's manifests alone, its forward changed.
        try write(networkA(port: 8093), root + "/a/a.yaml")
        let plan = try instance.berth(["plan", "--detailed-exitcode", root + "/a"])
        #expect(plan.code == 2 && plan.output.contains("update-live Ruleset/isoa spec.portForwards"), "\(plan.output)")
        #expect(!plan.output.contains("isob"), "\(plan.output)")
        #expect(try instance.berth(["apply", root + "/a"]).code == 0)
        #expect(served(8093, "isoa1"))
        #expect(fetch("http://10.70.0.1:8091/", from: from).isEmpty)
        // B's forward still answers, and its table is as it was.
        #expect(served(8092, "isob1"))
        #expect(try listing(tableB) == before)
        #expect(try instance.berth(["plan", "--detailed-exitcode", root + "/a"]).code == 0)
        #expect(try instance.berth(["plan", "--detailed-exitcode", root + "/b"]).code == 0)
    }

    @Test func networksAreIsolatedUntilOneReachesTheOtherAndADeletedRuleIsDrift() throws {
        let instance = try Instance()
        defer { #expect(instance.tearDown() == []) }
        // Host forwarding on for every interface: isolation must not depend on it.
        #expect(try instance.inNamespace(["/bin/sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]).code == 0)
        let file = instance.host.root + "/m/all.yaml"
        func manifests(reach: Bool) -> String {
            [
                network("isoc", subnet: "10.73.0.0/24", ["nat: true"] + (reach ? ["reach: [isod]"] : [])),
                network("isod", subnet: "10.74.0.0/24"), web("isoc1", network: "isoc", address: "10.73.0.10"),
                web("isod1", network: "isod", address: "10.74.0.10"),
            ].joined(separator: "---\n")
        }
        try write(manifests(reach: false), file)
        let directory = instance.host.root + "/m"
        #expect(try instance.berth(["apply", directory]).code == 0)
        let c = "/proc/\(try #require(instance.host.runtime.state.load("isoc1")?.pid))/ns/net"
        let d = "/proc/\(try #require(instance.host.runtime.state.load("isod1")?.pid))/ns/net"
        func reaches(_ from: String, _ address: String, _ name: String) -> Bool {
            fetch("http://\(address)/", from: from).contains("hello from \(name)")
        }
        // Each container is up (its own gateway answers), yet neither reaches the other network.
        #expect(eventually(seconds: 10) { ping("10.73.0.1", from: c) && ping("10.74.0.1", from: d) })
        #expect(!reaches(c, "10.74.0.10", "isod1") && !ping("10.74.0.10", from: c))
        #expect(!reaches(d, "10.73.0.10", "isoc1") && !ping("10.73.0.10", from: d))

        // isoc may reach isod: one way, replies come back.
        try write(manifests(reach: true), file)
        let plan = try instance.berth(["plan", directory])
        #expect(plan.output.contains("update-live Ruleset/isoc spec.reach: no other network → isod"), "\(plan.output)")
        #expect(try instance.berth(["apply", directory]).code == 0)
        #expect(eventually(seconds: 10) { reaches(c, "10.74.0.10", "isod1") })
        #expect(ping("10.74.0.10", from: c))
        #expect(!reaches(d, "10.73.0.10", "isoc1") && !ping("10.73.0.10", from: d))

        // isod's drop rule deleted behind berth's back: drift of isod alone, repaired by apply.
        let table = NetworkRuleset.tableName(cgroupParent: instance.host.parent, network: "isod")
        let namespace = try Syscall.open("/run/netns/" + instance.netns, O_RDONLY)
        defer { Syscall.close(namespace) }
        try NFTables.run(
            "flush chain inet \(table) forward\nadd rule inet \(table) forward iifname \"br-isod\" oifgroup 48711 ct state established,related accept\n",
            inNetworkNamespace: namespace)
        #expect(eventually(seconds: 10) { reaches(d, "10.73.0.10", "isoc1") })
        let drift = try instance.berth(["drift", "--detailed-exitcode", directory])
        #expect(drift.code == 2 && drift.output.contains("Ruleset/isod") && drift.output.contains("spec.reach"), "\(drift.output)")
        #expect(drift.output.contains("chain forward edited") && !drift.output.contains("Ruleset/isoc"), "\(drift.output)")
        #expect(try instance.berth(["apply", directory]).code == 0)
        #expect(try instance.berth(["drift", "--detailed-exitcode", directory]).code == 0)
        #expect(!reaches(d, "10.73.0.10", "isoc1"))

        // A chain berth never made, added to isod's table: drift too, and gone after apply.
        try NFTables.run(
            "add chain inet \(table) extra { type filter hook forward priority -5; policy accept; }\n", inNetworkNamespace: namespace)
        let added = try instance.berth(["drift", "--detailed-exitcode", directory])
        #expect(added.code == 2 && added.output.contains("chain extra added"), "\(added.output)")
        #expect(try instance.berth(["apply", directory]).code == 0)
        #expect(!(try NFTables.run("list table inet \(table)", inNetworkNamespace: namespace)).contains("chain extra"))
    }

    @Test func aSubnetTheHostsInterfacesUseIsRefusedByPlan() throws {
        let instance = try Instance()
        defer { #expect(instance.tearDown() == []) }
        // A dummy interface where the kernel has the driver, else one end of a veth pair.
        if try instance.inNamespace(["/usr/sbin/ip", "link", "add", "lan0", "type", "dummy"]).code != 0 {
            #expect(try instance.inNamespace(["/usr/sbin/ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p"]).code == 0)
        }
        for command in [
            ["addr", "add", "10.75.3.1/24", "dev", "lan0"], ["link", "set", "lan0", "up"], ["route", "add", "10.76.0.0/16", "dev", "lan0"],
        ] {
            #expect(try instance.inNamespace(["/usr/sbin/ip"] + command).code == 0)
        }
        let directory = instance.host.root + "/m"
        try write(network("lan", subnet: "10.75.3.0/24") + "---\n" + network("routed", subnet: "10.76.5.0/24"), directory + "/net.yaml")
        // validate does not look at the host; plan does.
        #expect(try instance.berth(["validate", directory]).code == 0)
        let plan = try instance.berth(["plan", directory])
        #expect(plan.code == 1)
        #expect(
            plan.output.contains(
                "net.yaml:5:11: error: spec.subnet: subnet 10.75.3.0/24 overlaps address 10.75.3.1/24 of the host's interface lan0"),
            "\(plan.output)")
        #expect(
            plan.output.contains(
                "net.yaml:12:11: error: spec.subnet: subnet 10.76.5.0/24 overlaps a route to 10.76.0.0/16 of the host's interface lan0"),
            "\(plan.output)")
        // A free subnet is applied; berth's own bridge then holds it, and plan still passes.
        try write(network("lan", subnet: "10.75.4.0/24"), directory + "/net.yaml")
        #expect(try instance.berth(["apply", directory]).code == 0)
        #expect(try instance.berth(["plan", "--detailed-exitcode", directory]).code == 0)
    }
}
