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
        return NetworkObject(
            metadata: ObjectMeta(name: name), spec: spec.resolved(name: name), source: SourceLocation(file: "test", line: 1, column: 1))
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
            + "ip -o -4 addr > /tmp/addrs; ip route > /tmp/routes; ip -o -6 addr | wc -l > /tmp/inet6; "
            + "cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6 > /tmp/v6off; exec sleep 300"
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
        // No IPv6 address in the manifest: IPv6 is off inside.
        #expect(host.written("a", "/tmp/v6off") == "1")
        #expect(host.written("a", "/tmp/inet6") == "0")

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

    /// What the sandbox host reaches: one ICMP echo, answered or not.
    func reachable(_ address: String) -> Bool {
        guard let result = try? Spawn.run(["/bin/busybox", "ping", "-c", "1", "-W", "2", address]) else { return false }
        return result.status == 0
    }

    /// `ip -j addr` inside the container's network namespace, as a user checks it.
    func addressesInside(pid: Int32) throws -> [String: [String]] {
        let output = try Spawn.run(["/usr/bin/nsenter", "-t", "\(pid)", "-n", "/usr/sbin/ip", "-j", "addr"]).output
        let links = try #require(try JSONSerialization.jsonObject(with: Data(output)) as? [[String: Any]])
        var result: [String: [String]] = [:]
        for link in links {
            guard let name = link["ifname"] as? String else { continue }
            result[name] = ((link["addr_info"] as? [[String: Any]]) ?? []).compactMap { info in
                guard let local = info["local"] as? String, let prefix = info["prefixlen"] as? Int else { return nil }
                return "\(local)/\(prefix)"
            }
        }
        return result
    }

    @Test func addressesAndNetworksChangeLiveWithoutARestart() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let front = try network("livefront", subnet: "10.81.0.0/24", bridge: "br-t81")
        let back = try network("liveback", subnet: "10.82.0.0/24", bridge: "br-t82")
        defer { for bridge in ["br-t81", "br-t82"] { try? RouteNetlink().deleteLink(bridge) } }
        func attachment(_ network: String, _ addresses: [String]) throws -> NetworkAttachment {
            NetworkAttachment(network: network, addresses: try addresses.map { try CIDR(parsing: $0, requirePrefix: false) })
        }
        let first = try attachment("livefront", ["10.81.0.10"])
        var container = host.container("live1", command: ["/bin/sleep", "300"]) { spec in spec.networks = [first] }
        let record = try host.runtime.start(container, networks: [front, back])
        let pid = try #require(record.pid)
        #expect(reachable("10.81.0.10"))
        #expect(!reachable("10.81.0.11"))
        // A neighbour on the other network only: not reachable (nothing routes
        // between the bridges) until live1 joins that network too.
        let neighbour = try attachment("liveback", ["10.82.0.20"])
        _ = try host.runtime.start(
            host.container("live2", command: ["/bin/sleep", "300"]) { spec in spec.networks = [neighbour] }, networks: [front, back])
        let ping = ["/bin/ping", "-c", "1", "-W", "2", "10.82.0.20"]
        #expect(try host.runtime.exec("live1", command: ping) != 0)

        // An address added live answers at once; init is the same process.
        container.spec.networks = ContainerConfig.attachments([try attachment("livefront", ["10.81.0.10", "10.81.0.11"])])
        try host.runtime.updateNetworks(container, networks: [front, back])
        #expect(reachable("10.81.0.11"))
        #expect(try addressesInside(pid: pid)["eth0"] == ["10.81.0.10/24", "10.81.0.11/24"])

        // A second network attached live: eth1 with its address, a port of the second bridge.
        container.spec.networks = ContainerConfig.attachments([
            try attachment("livefront", ["10.81.0.10", "10.81.0.11"]), try attachment("liveback", ["10.82.0.10"]),
        ])
        try host.runtime.updateNetworks(container, networks: [front, back])
        #expect(reachable("10.82.0.10"))
        // No IPv6 address in the manifest: none inside, not even on lo or on
        // the interface attached live (no link-local one either).
        let attached = try addressesInside(pid: pid)
        #expect(attached["eth1"] == ["10.82.0.10/24"])
        #expect(attached["lo"] == ["127.0.0.1/8"])
        #expect(try host.runtime.exec("live1", command: ping) == 0)
        let netlink = try RouteNetlink()
        let backPort = NetworkAttacher.hostInterfaceName(container: "live1", network: "liveback")
        #expect(try netlink.link(named: backPort)?.master == (try netlink.index(of: "br-t82")))
        // Bridge ports carry no IPv6 address (no neighbour discovery across the bridge).
        let frontPort = try netlink.index(of: NetworkAttacher.hostInterfaceName(container: "live1", network: "livefront"))
        #expect(try netlink.addresses(index: frontPort).isEmpty)

        // Detached live, and the extra address removed: gone inside and on the host.
        container.spec.networks = ContainerConfig.attachments([try attachment("livefront", ["10.81.0.10"])])
        try host.runtime.updateNetworks(container, networks: [front, back])
        let inside = try addressesInside(pid: pid)
        #expect(inside["eth1"] == nil)
        #expect(inside["eth0"] == ["10.81.0.10/24"])
        #expect(try netlink.link(named: backPort) == nil)
        #expect(!reachable("10.81.0.11"))
        #expect(reachable("10.81.0.10"))

        // Nothing restarted, and the next start uses the new attachments.
        #expect(host.runtime.state.load("live1")?.pid == pid)
        #expect(host.runtime.state.load("live1")?.spec?.networks == container.spec.networks)
    }

    @Test func containerFirewallBlocksWhatItShouldAndChangesLive() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let net = try network("fw", subnet: "10.78.0.0/24", bridge: "br-t78")
        defer { try? RouteNetlink().deleteLink("br-t78") }
        let address = try CIDR(parsing: "10.78.0.10", requirePrefix: false)
        var firewall = FirewallSpec(defaultPolicy: .drop, rules: [FirewallRule(action: .allow, protocol: .tcp, port: 80)])
        let server = "mkdir -p /www; echo fw > /www/index.html; httpd -p 8081 -h /www; exec httpd -f -p 80 -h /www"
        _ = try host.runtime.start(
            host.container("fw1", command: ["/bin/sh", "-c", server]) { spec in
                spec.networks = [NetworkAttachment(network: "fw", addresses: [address])]
                spec.firewall = firewall
            }, networks: [net])
        func get(_ port: Int) throws -> Bool {
            for _ in 0..<3 {
                // (busybox-static's wget crashes with -T; coreutils' timeout bounds it.)
                let result = try Spawn.run(["/usr/bin/timeout", "2", "/bin/busybox", "wget", "-q", "-O", "-", "http://10.78.0.10:\(port)/"])
                if result.exitedCleanly { return true }
                usleep(100_000)
            }
            return false
        }
        #expect(try get(80))
        #expect(try !get(8081))
        #expect(!(try Spawn.run(["/usr/bin/timeout", "3", "/bin/busybox", "ping", "-c", "1", "-W", "1", "10.78.0.10"]).exitedCleanly))

        // Live: allow 8081 and icmp without a restart.
        firewall.rules?.append(FirewallRule(action: .allow, protocol: .tcp, port: 8081))
        firewall.rules?.append(FirewallRule(action: .allow, protocol: .icmp))
        let pid = host.runtime.state.load("fw1")?.pid
        // numiptent: the table's rules, found over nfnetlink, then listed.
        let rules = try pid.map { try ContainerFirewall.ruleCount(pid: $0) } ?? 0
        #expect(rules > 0)
        try host.runtime.updateFirewall("fw1", ContainerConfig.Firewall(firewall))
        #expect(try pid.map { try ContainerFirewall.ruleCount(pid: $0) } == rules + 2)
        #expect(try get(8081))
        #expect(try Spawn.run(["/usr/bin/timeout", "3", "/bin/busybox", "ping", "-c", "1", "-W", "2", "10.78.0.10"]).exitedCleanly)
        #expect(host.runtime.state.load("fw1")?.pid == pid)

        // Observed without a listing while nothing in its namespace's ruleset
        // changed (the fingerprint given back is the one recorded, even a
        // wrong one); a chain flushed behind berth's back is listed and seen.
        let record = try #require(host.runtime.state.load("fw1"))
        let fingerprint = try #require(record.firewallFingerprint)
        let generation = try #require(record.firewallGeneration)
        let initPID = try #require(pid)
        #expect(try ContainerFirewall.observe(pid: initPID) == fingerprint)
        #expect(try ContainerFirewall.observe(pid: initPID, recorded: ("not listed", generation)) == "not listed")
        let namespace = try Syscall.open("/proc/\(initPID)/ns/net", O_RDONLY)
        defer { Syscall.close(namespace) }
        try NFTables.run("flush chain inet berth input", inNetworkNamespace: namespace)
        let flushed = try ContainerFirewall.observe(pid: initPID, recorded: (fingerprint, generation))
        #expect(flushed != nil && flushed != fingerprint)
    }

    /// `ip -j` in the sandbox host, as a user checks it.
    func ip(_ arguments: [String]) throws -> [[String: Any]] {
        let output = try Spawn.run(["/usr/sbin/ip", "-j"] + arguments).output
        return (try JSONSerialization.jsonObject(with: Data(output)) as? [[String: Any]]) ?? []
    }

    /// What berth sets up front on the bridge it makes and on each port
    /// (issue 16: the kernel walks every port per port added or brought up
    /// otherwise): the bridge's own address, kept as ports join; its MTU
    /// kept when a port of another MTU joins (1400 here, veths have 1500);
    /// multicast snooping off; IPv6 off on each host end (no address, no
    /// multicast route of its own). Containers still reach each other.
    @Test func theBridgeAndItsPortsAreSetUpFront() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var lan = try network("lan", subnet: "10.78.0.0/24", bridge: "br-t78")
        lan.spec.mtu = 1400
        defer { try? RouteNetlink().deleteLink("br-t78") }
        let addressA = try CIDR(parsing: "10.78.0.11", requirePrefix: false)
        let addressB = try CIDR(parsing: "10.78.0.12", requirePrefix: false)
        _ = try host.runtime.start(
            host.container("b", command: ["sleep", "300"]) { $0.networks = [NetworkAttachment(network: "lan", addresses: [addressB])] },
            networks: [lan])
        let mac = NetworkAttacher.bridgeMAC("br-t78").map { String(format: "%02x", $0) }.joined(separator: ":")
        #expect(mac.hasPrefix("02:"))
        func bridge() throws -> [String: Any] { try #require(try ip(["-d", "link", "show", "br-t78"]).first) }
        let first = try bridge()
        #expect(first["address"] as? String == mac)
        #expect(first["mtu"] as? Int == 1400)
        let data = (first["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any]
        #expect(data?["mcast_snooping"] as? Int == 0)

        let probe = "ping -c 1 -W 3 10.78.0.12 > /dev/null 2>&1; echo $? > /tmp/ping; exec sleep 300"
        _ = try host.runtime.start(
            host.container("a", command: ["/bin/sh", "-c", probe]) { $0.networks = [NetworkAttachment(network: "lan", addresses: [addressA])] },
            networks: [lan])
        #expect(host.written("a", "/tmp/ping") == "0")
        let second = try bridge()
        #expect(second["address"] as? String == mac)
        #expect(second["mtu"] as? Int == 1400)

        for name in ["a", "b"] {
            let port = NetworkAttacher.hostInterfaceName(container: name, network: "lan")
            let link = try #require(try ip(["link", "show", port]).first)
            #expect(link["master"] as? String == "br-t78")
            #expect(link["operstate"] as? String == "UP")
            let disabled = try Syscall.readFile("/proc/sys/net/ipv6/conf/\(port)/disable_ipv6", limit: 8)
            #expect(disabled.first == UInt8(ascii: "1"))
            #expect((try ip(["-6", "addr", "show", "dev", port]).first?["addr_info"] as? [Any] ?? []).isEmpty)
            #expect(try ip(["-6", "route", "show", "table", "all", "dev", port]).isEmpty)
            // The container's end: the hardware address berth derives for
            // it (the same at every start), not the kernel's random one.
            let pid = try #require(host.runtime.state.load(name)?.pid)
            let inside = try Spawn.run(["/usr/bin/nsenter", "-t", "\(pid)", "-n", "/usr/sbin/ip", "-j", "link", "show", "eth0"]).output
            let eth0 = (try JSONSerialization.jsonObject(with: Data(inside)) as? [[String: Any]])?.first
            let mac = NetworkAttacher.containerMAC(cgroupParent: host.runtime.paths.cgroupParent, container: name, network: "lan")
            #expect(eth0?["address"] as? String == mac.map { String(format: "%02x", $0) }.joined(separator: ":"), "\(name)")
        }
        // Stopped and started again at once (its last namespace may still be
        // being freed): the same address, and a reaches it.
        func eth0(_ name: String) throws -> String? {
            let pid = try #require(host.runtime.state.load(name)?.pid)
            let output = try Spawn.run(["/usr/bin/nsenter", "-t", "\(pid)", "-n", "/usr/sbin/ip", "-j", "link", "show", "eth0"]).output
            return (try JSONSerialization.jsonObject(with: Data(output)) as? [[String: Any]])?.first?["address"] as? String
        }
        let before = try eth0("b")
        try host.runtime.stop("b", timeout: Interval(milliseconds: 300))
        _ = try host.runtime.start(
            host.container("b", command: ["sleep", "300"]) { $0.networks = [NetworkAttachment(network: "lan", addresses: [addressB])] },
            networks: [lan])
        #expect(try eth0("b") == before)
        // Its last run's host end, if the kernel had not freed it yet, was
        // set aside (renamed into the instance's set-aside group), not
        // deleted in the start; the new one is the bridge's port under the
        // name, and nothing of the group is left once the pass ends.
        let port = NetworkAttacher.hostInterfaceName(container: "b", network: "lan")
        let ports = try RouteNetlink().links().filter { $0.name == port }
        let bridgeIndex = try RouteNetlink().index(of: "br-t78")
        #expect(ports.count == 1 && ports.first?.isUp == true && ports.first?.master == bridgeIndex)
        NetworkAttacher.deleteSetAside(cgroupParent: host.runtime.paths.cgroupParent)
        let group = NetworkAttacher.setAsideGroup(cgroupParent: host.runtime.paths.cgroupParent)
        #expect(try RouteNetlink().links().filter { $0.group == group }.isEmpty, "a set-aside host end left")
        let pidA = try #require(host.runtime.state.load("a")?.pid)
        #expect(try Spawn.run(["/usr/bin/nsenter", "-t", "\(pidA)", "-n", "/bin/busybox", "ping", "-c", "1", "-W", "3", "10.78.0.12"]).exitedCleanly)
    }

    /// A host end left by a start that crashed (its init gone, its veth
    /// still there): the next start's create finds the name taken, sets it
    /// aside (renamed into the instance's set-aside group) and makes the
    /// pair again, a port of the bridge, up; the old pair goes at the end
    /// of the pass.
    @Test func aHostEndLeftByACrashedStartIsMadeAgain() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let lan = try network("left", subnet: "10.79.0.0/24", bridge: "br-t79")
        defer { try? RouteNetlink().deleteLink("br-t79") }
        let port = NetworkAttacher.hostInterfaceName(container: "lefty", network: "left")
        let netlink = try RouteNetlink()
        try netlink.createVeth(port, peer: "vbleftpeer")
        let stale = try #require(try netlink.link(named: port))
        let probe = "ping -c 1 -W 3 10.79.0.1 > /dev/null 2>&1; echo $? > /tmp/ping; exec sleep 300"
        let address = try CIDR(parsing: "10.79.0.11", requirePrefix: false)
        _ = try host.runtime.start(
            host.container("lefty", command: ["/bin/sh", "-c", probe]) { $0.networks = [NetworkAttachment(network: "left", addresses: [address])] },
            networks: [lan])
        #expect(host.written("lefty", "/tmp/ping") == "0")
        let link = try #require(try netlink.link(named: port))
        #expect(link.index != stale.index)
        #expect(link.master == (try netlink.index(of: "br-t79")))
        #expect(link.isUp)
        let aside = try #require(try netlink.link(named: "vs" + port.dropFirst(2)), "set aside")
        #expect(aside.index == stale.index && !aside.isUp)
        #expect(aside.group == NetworkAttacher.setAsideGroup(cgroupParent: host.runtime.paths.cgroupParent))
        NetworkAttacher.deleteSetAside(cgroupParent: host.runtime.paths.cgroupParent)
        #expect(try netlink.link(named: "vbleftpeer") == nil)
        #expect(try netlink.link(named: aside.name) == nil)
        // One an earlier berth left in the group (it ended before its pass
        // did): a pass that sees it in its link dump deletes it at its end.
        let group = NetworkAttacher.setAsideGroup(cgroupParent: host.runtime.paths.cgroupParent)
        try netlink.createVeth("vsleft", peer: "vsleftpeer")
        try netlink.setGroup("vsleft", group)
        NetworkAttacher.deleteSetAside(cgroupParent: host.runtime.paths.cgroupParent)
        #expect(try netlink.link(named: "vsleft") != nil, "not noted yet: left alone")
        NetworkAttacher.noteSetAside(in: try netlink.links(), cgroupParent: host.runtime.paths.cgroupParent)
        NetworkAttacher.deleteSetAside(cgroupParent: host.runtime.paths.cgroupParent)
        #expect(try netlink.link(named: "vsleft") == nil && netlink.link(named: "vsleftpeer") == nil)
    }

    @Test func containersOnAnIsolatedNetworkReachTheGatewayButNotEachOther() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var isolated = try network("iso", subnet: "10.79.0.0/24", bridge: "br-t79")
        isolated.spec.isolated = true
        defer { try? RouteNetlink().deleteLink("br-t79") }
        let addressA = try CIDR(parsing: "10.79.0.11", requirePrefix: false)
        let addressB = try CIDR(parsing: "10.79.0.12", requirePrefix: false)
        _ = try host.runtime.start(
            host.container("b", command: ["sleep", "300"]) { $0.networks = [NetworkAttachment(network: "iso", addresses: [addressB])] },
            networks: [isolated])
        let probe =
            "ping -c 1 -W 1 10.79.0.12 > /dev/null 2>&1; echo $? > /tmp/neighbour; "
            + "ping -c 1 -W 2 10.79.0.1 > /dev/null 2>&1; echo $? > /tmp/gateway; exec sleep 300"
        _ = try host.runtime.start(
            host.container("a", command: ["/bin/sh", "-c", probe]) { $0.networks = [NetworkAttachment(network: "iso", addresses: [addressA])] },
            networks: [isolated])
        #expect(host.written("a", "/tmp/neighbour") != "0")
        #expect(host.written("a", "/tmp/gateway") == "0")
    }
}
