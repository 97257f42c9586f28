import Foundation
import Kernel
import Logging
import Model
import Netlink
import Runtime
import Testing

/// Containers on a bridge network inside the sandbox host: what a user would
/// check with ping, a request and `ip`.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct ContainerNetworkTests {
    func network(_ name: String, subnet: String, bridge: String) throws -> NetworkObject {
        var spec = NetworkSpec(subnet: try CIDR(parsing: subnet))
        spec.bridge = bridge
        return NetworkObject(metadata: ObjectMeta(name: name), spec: spec, source: SourceLocation(file: "test", line: 1, column: 1))
    }

    @Test func twoContainersOnABridgePingAndServeEachOther() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let front = try network("front", subnet: "10.77.0.0/24", bridge: "br-t77")
        defer { try? RouteNetlink().deleteLink("br-t77") }
        let addressA = try CIDR(parsing: "10.77.0.11", requirePrefix: false)
        let addressB = try CIDR(parsing: "10.77.0.12", requirePrefix: false)
        let server = "mkdir -p /www; echo hello-from-b > /www/index.html; exec httpd -f -p 80 -h /www"
        _ = try host.runtime.start(
            host.container("b", command: ["/bin/sh", "-c", server]) {
                $0.networks = [NetworkAttachment(network: "front", addresses: [addressB])]
            }, networks: [front])
        let client =
            "ping -c 1 -W 3 10.77.0.12 > /tmp/ping 2>&1; echo $? > /tmp/ping.rc; "
            + "for i in 1 2 3 4 5; do wget -q -O /tmp/page http://10.77.0.12/ && break; sleep 0.2; done; "
            + "ip -o -4 addr > /tmp/addrs; ip route > /tmp/routes; exec sleep 300"
        _ = try host.runtime.start(
            host.container("a", command: ["/bin/sh", "-c", client]) {
                $0.networks = [NetworkAttachment(network: "front", addresses: [addressA])]
            }, networks: [front])
        #expect(host.written("a", "/tmp/ping.rc") == "0", "\(host.written("a", "/tmp/ping", waitSeconds: 1) ?? "")")
        #expect(host.written("a", "/tmp/page") == "hello-from-b")
        let addresses = try #require(host.written("a", "/tmp/addrs"))
        #expect(addresses.contains("eth0") && addresses.contains("10.77.0.11/24"))
        #expect(addresses.split(separator: "\n").allSatisfy { $0.contains(" lo ") || $0.contains(" eth0 ") })
        #expect(host.written("a", "/tmp/routes")?.contains("default via 10.77.0.1 dev eth0") == true)

        // Host side: the bridge holds the gateway and both veths.
        let netlink = try RouteNetlink()
        let bridgeIndex = try netlink.index(of: "br-t77")
        #expect(try netlink.links().filter { $0.master == bridgeIndex }.count == 2)
        #expect(try netlink.addresses().contains { $0.index == bridgeIndex && $0.cidr.description == "10.77.0.1/24" })

        // Teardown by letting the namespaces go: no veth is left.
        try host.runtime.delete("a")
        try host.runtime.delete("b")
        var left = try netlink.links().filter { $0.master == bridgeIndex }
        for _ in 0..<100 where !left.isEmpty {
            usleep(20_000)
            left = try netlink.links().filter { $0.master == bridgeIndex }
        }
        #expect(left.isEmpty)
    }
}
