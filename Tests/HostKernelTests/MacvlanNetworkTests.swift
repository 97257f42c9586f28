import Foundation
import Kernel
import Logging
import Model
import Netlink
import Runtime
import Testing

/// A Network with `spec.driver: macvlan` on the real kernel, through the
/// berth binary, checked as a user would (`ip -j -d link` on the host and,
/// with nsenter, in each container's namespace; ping; a port forward; plan):
/// the host holds one veth pair (the gateway end named `bridge`, the lower
/// end `bmHASH`) and nothing per container; each container's eth0 is a
/// macvlan on the lower end (mode bridge, private when `spec.isolated`);
/// isolation, MTU and the driver itself change live; a deleted macvlan or
/// a lower end set down is drift that apply repairs; checkpoint refuses.
/// Its subnet (10.64.0.0/24) and names are its own: lane-2 suites run side
/// by side in one network namespace.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct MacvlanNetworkTests {
    /// NetworkContractTests' bench (a host, a manifests directory, bridge
    /// names of its own, the CLI and `ip` as an admin runs them), with
    /// this network's three containers.
    struct Bench {
        let base: NetworkContractTests.Bench
        var host: TestHost { base.host }
        var manifests: String { base.manifests }
        /// The gateway end of the pair (or the bridge, with driver bridge).
        var bridge: String { base.bridge }
        static let network = "mvnet"
        static let containers = ["mv1", "mv2", "mv3"]
        static let hostPort = 8164
        /// The lower end of the pair, as berth names it.
        let lower: String
        /// A third device name of this bench's own.
        let third: String

        init() throws {
            base = try NetworkContractTests.Bench()
            lower = try Bench.lowerEnd(of: base.bridge)
            third = "bv" + base.bridge.dropFirst(2)
        }

        /// The lower end of a macvlan network's pair whose gateway end is `bridge`.
        static func lowerEnd(of bridge: String) throws -> String {
            var config = NetworkConfig(name: Bench.network, subnet: try CIDR(parsing: "10.64.0.0/24"))
            config.bridge = bridge
            return config.macvlanLower
        }

        static func address(_ container: String) -> String { "10.64.0.1" + container.dropFirst(2) }

        /// The network and its three containers; mv1 serves HTTP on 80,
        /// forwarded from the host's port 8164.
        func write(driver: String = "macvlan", isolated: Bool = false, mtu: Int = 1500) throws {
            var text = Bench.network(
                Bench.network, driver: driver, bridge: bridge, subnet: "10.64.0.0/24",
                lines: [
                    "isolated: \(isolated)", "mtu: \(mtu)", "portForwards:",
                    "  - {protocol: tcp, hostPort: \(Bench.hostPort), container: mv1, containerPort: 80}",
                ])
            for name in Bench.containers {
                text += Bench.container(name, networks: "{network: \(Bench.network), addresses: [\(Bench.address(name))]}")
            }
            try write(text)
        }

        func write(_ text: String) throws { try text.write(toFile: manifests + "/mv.yaml", atomically: true, encoding: .utf8) }

        /// A Network's manifest; `lines` go under its spec.
        static func network(_ name: String, driver: String, bridge: String, subnet: String, lines: [String] = []) -> String {
            let spec = (["driver: \(driver)", "bridge: \(bridge)", "subnet: \(subnet)"] + lines).map { "  " + $0 + "\n" }.joined()
            return "---\napiVersion: berth/v1\nkind: Network\nmetadata: {name: \(name)}\nspec:\n" + spec
        }

        /// A Container's manifest on `networks` (a YAML list's items); mv1
        /// serves HTTP on 80, the others sleep.
        static func container(_ name: String, networks: String) -> String {
            let command =
                name == "mv1"
                ? "[/bin/sh, -c, \"mkdir -p /www && echo hello from mv1 > /www/index.html && exec httpd -f -p 80 -h /www\"]"
                : "[/bin/sleep, \"600\"]"
            return """
                ---
                apiVersion: berth/v1
                kind: Container
                metadata: {name: \(name)}
                spec:
                  rootfs: {template: busybox}
                  init: {command: \(command)}
                  stopTimeout: 200ms
                  networks: [\(networks)]

                """
        }

        /// `berth COMMAND` of the manifests directory.
        @discardableResult
        func berth(_ command: String, _ arguments: [String] = []) throws -> (code: Int32, output: String) {
            try base.berth(command, arguments)
        }

        /// `apply`, which succeeds.
        func apply() throws {
            let applied = try berth("apply")
            #expect(applied.code == 0, "\(applied.output)")
        }

        /// The first apply, settled: the containers' inits.
        func started() throws -> [Int32?] {
            try write()
            try apply()
            #expect(try settled())
            let pids = self.pids()
            #expect(pids.allSatisfy { $0 != nil })
            return pids
        }

        /// Apply, then the network as `expectMacvlan` has it, everyone
        /// reaching everyone, and nothing left to plan.
        func appliedAsMacvlan() throws {
            try apply()
            try expectMacvlan(mode: "bridge")
            everyoneReachesEveryone()
            #expect(try settled())
        }

        /// `plan --detailed-exitcode` says "No changes".
        func settled() throws -> Bool {
            let plan = try berth("plan", ["--detailed-exitcode"])
            #expect(plan.code == 0 && plan.output.contains("No changes"), "\(plan.output)")
            return plan.code == 0
        }

        func pid(_ name: String) -> Int32? {
            guard let record = host.runtime.state.load(name), host.runtime.isRunning(record) else { return nil }
            return record.pid
        }

        func pids() -> [Int32?] { Bench.containers.map { pid($0) } }

        /// What an admin's command prints; its JSON.
        @discardableResult
        func run(_ arguments: [String]) throws -> String { try base.run(arguments) }
        func json(_ arguments: [String]) throws -> [[String: Any]] { try base.json(arguments) }

        /// `ip -j -d link show dev NAME` on the host: nil when there is no such link.
        func link(_ name: String) -> [String: Any]? {
            guard let result = try? Spawn.run(["/usr/sbin/ip", "-j", "-d", "link", "show", "dev", name]), result.exitedCleanly else { return nil }
            return ((try? JSONSerialization.jsonObject(with: Data(result.output))) as? [[String: Any]])?.first
        }

        /// `ip -j addr`'s addresses of a link (link-local aside), on the
        /// host or inside `container`.
        func addresses(_ name: String, inside container: String? = nil) throws -> [String] {
            let info = try json(enter(container) + ["/usr/sbin/ip", "-j", "addr", "show", "dev", name]).first?["addr_info"] as? [[String: Any]] ?? []
            return info.compactMap { entry -> String? in
                guard let local = entry["local"] as? String, let prefix = entry["prefixlen"] as? Int, !local.hasPrefix("fe80:") else { return nil }
                return "\(local)/\(prefix)"
            }.sorted()
        }

        /// nsenter into the container's network namespace (nothing: the host).
        func enter(_ container: String?) throws -> [String] {
            guard let container else { return [] }
            let initPID = try #require(pid(container))
            return ["/usr/bin/nsenter", "-t", "\(initPID)", "-n"]
        }

        /// The container's interface as `ip -j -d link` inside shows it.
        func inside(_ container: String, _ interface: String = "eth0") throws -> [String: Any]? {
            let output = try Spawn.run(try enter(container) + ["/usr/sbin/ip", "-j", "-d", "link", "show", "dev", interface])
            guard output.exitedCleanly else { return nil }
            return ((try? JSONSerialization.jsonObject(with: Data(output.output))) as? [[String: Any]])?.first
        }

        static func kind(_ link: [String: Any]?) -> String? { (link?["linkinfo"] as? [String: Any])?["info_kind"] as? String }
        static func mode(_ link: [String: Any]?) -> String? {
            ((link?["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])?["mode"] as? String
        }

        /// The container's IPv4 default route's gateway, as `ip route` inside shows it.
        func defaultGateway(_ container: String) throws -> String? {
            try json(try enter(container) + ["/usr/sbin/ip", "-j", "-4", "route", "show", "default"]).first?["gateway"] as? String
        }

        /// One ICMP echo from inside a container (its busybox ping), answered or not.
        func ping(from container: String, _ address: String) -> Bool {
            (try? host.runtime.exec(container, command: ["/bin/ping", "-c", "1", "-W", "2", address])) == 0
        }

        /// A net sysctl inside `container` (`key` under /proc/sys/net).
        func sysctl(_ container: String, _ key: String) throws -> String {
            let output = try Spawn.run(try enter(container) + ["/bin/cat", "/proc/sys/net/" + key]).output
            return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// One ICMP echo from the sandbox host.
        func pingFromHost(_ address: String) -> Bool {
            (try? Spawn.run(["/bin/busybox", "ping", "-c", "1", "-W", "2", address]))?.exitedCleanly == true
        }

        /// The port forward, fetched from the host at the gateway.
        func fetch() -> String {
            // Bounded: this busybox's own wget -T crashes.
            let result = try? Spawn.run([
                "/usr/bin/timeout", "3", "/bin/busybox", "wget", "-q", "-O", "-", "http://10.64.0.1:\(Bench.hostPort)/",
            ])
            return result.map { String(decoding: $0.output, as: UTF8.self) } ?? ""
        }

        /// Every container reaches the gateway and each other, the host
        /// reaches each container, the forward serves mv1's page.
        func everyoneReachesEveryone() {
            for name in Bench.containers {
                #expect(eventually(seconds: 10) { ping(from: name, "10.64.0.1") }, "\(name) → gateway")
                #expect(eventually(seconds: 10) { pingFromHost(Bench.address(name)) }, "host → \(name)")
                for other in Bench.containers where other != name {
                    #expect(eventually(seconds: 10) { ping(from: name, Bench.address(other)) }, "\(name) → \(other)")
                }
            }
            #expect(eventually(seconds: 10) { fetch().contains("hello from mv1") }, "port forward")
        }

        /// The host side of a macvlan network: the pair, the gateway end
        /// holding the gateway, in group 48711, with the network's MAC, and
        /// no link per container; inside, each eth0 a macvlan in `mode`,
        /// with its address and default route, and `mtu`.
        func expectMacvlan(mode: String, mtu: Int = 1500) throws {
            let gateway = try #require(link(bridge), "no \(bridge)")
            #expect(Bench.kind(gateway) == "veth")
            #expect(gateway["link"] as? String == lower, "the pair's other end")
            #expect(gateway["group"] as? String == "48711")
            #expect(gateway["operstate"] as? String == "UP")
            #expect(gateway["mtu"] as? Int == mtu)
            let gatewayMAC = NetworkAttacher.bridgeMAC(bridge).map { String(format: "%02x", $0) }.joined(separator: ":")
            #expect(gateway["address"] as? String == gatewayMAC)
            #expect(try addresses(bridge) == ["10.64.0.1/24"])
            // The port forward needs forwarding on the gateway's device.
            #expect(cat("/proc/sys/net/ipv4/conf/\(bridge)/forwarding") == "1")
            let end = try #require(link(lower), "no \(lower)")
            #expect(Bench.kind(end) == "veth")
            #expect(end["link"] as? String == bridge)
            #expect(end["operstate"] as? String == "UP")
            #expect(end["mtu"] as? Int == mtu)
            #expect(try addresses(lower) == [])
            for name in Bench.containers {
                #expect(link(NetworkAttacher.hostInterfaceName(container: name, network: Bench.network)) == nil, "a host link for \(name)")
                let inside = try inside(name)
                #expect(Bench.kind(inside) == "macvlan", "\(name): \(String(describing: inside))")
                #expect(Bench.mode(inside) == mode, "\(name)")
                #expect(inside?["mtu"] as? Int == mtu, "\(name)")
                #expect(try addresses("eth0", inside: name) == [Bench.address(name) + "/24"])
                #expect(try defaultGateway(name) == "10.64.0.1")
            }
        }

        /// The hardware address berth gives `container`'s veth on this
        /// network with driver bridge (a macvlan has the kernel's).
        func mac(of container: String) -> String {
            NetworkAttacher.containerMAC(cgroupParent: host.runtime.paths.cgroupParent, container: container, network: Bench.network)
                .map { String(format: "%02x", $0) }.joined(separator: ":")
        }

        /// The same network with driver bridge: a bridge, and a port per container.
        func expectBridge() throws {
            let device = try #require(link(bridge), "no \(bridge)")
            #expect(Bench.kind(device) == "bridge")
            #expect(device["group"] as? String == "48711")
            #expect(try addresses(bridge) == ["10.64.0.1/24"])
            #expect(cat("/proc/sys/net/ipv4/conf/\(bridge)/forwarding") == "1")
            #expect(link(lower) == nil, "the lower end is gone")
            for name in Bench.containers {
                let port = link(NetworkAttacher.hostInterfaceName(container: name, network: Bench.network))
                #expect(port?["master"] as? String == bridge, "\(name)'s port")
                let inside = try inside(name)
                #expect(Bench.kind(inside) == "veth", "\(name)")
                #expect(inside?["address"] as? String == mac(of: name), "\(name)'s hardware address")
                #expect(try addresses("eth0", inside: name) == [Bench.address(name) + "/24"])
                #expect(try defaultGateway(name) == "10.64.0.1")
            }
        }

        /// The manifest removed and everything pruned through berth: the
        /// containers, the networks' devices and tables go.
        func prune(networks: [String] = [Bench.network]) throws {
            try FileManager.default.removeItem(atPath: manifests + "/mv.yaml")
            let pruned = try berth("apply", ["--prune", "--allow-empty"])
            #expect(pruned.code == 0, "\(pruned.output)")
            #expect(host.runtime.state.names().isEmpty)
            for name in try devices() { #expect(link(name) == nil, "\(name) is left") }
            for network in networks {
                let table = NetworkRuleset.tableName(cgroupParent: host.parent, network: network)
                #expect((try? NFTables().run("list table inet \(table)")) == nil, "table \(table) is left")
            }
        }

        /// Every device name this bench may have berth make.
        func devices() throws -> [String] { [bridge, lower, base.other, try Bench.lowerEnd(of: base.other), third, try Bench.lowerEnd(of: third)] }

        /// The containers, then the pair (or bridge) if a test stopped
        /// before its prune; returns what is left behind.
        func tearDown() -> [String] {
            var leaks = base.tearDown()
            let names = (try? devices()) ?? [lower, third]
            for name in names where link(name) != nil { try? RouteNetlink().deleteLink(name) }
            leaks += names.filter { link($0) != nil }.map { "link \($0)" }
            return leaks
        }
    }

    /// Apply, reach, forward, `spec.isolated` and `spec.mtu` live,
    /// checkpoint refused, prune.
    @Test func containersOnAMacvlanNetworkReachEachOtherAndItsFieldsChangeLive() throws {
        let bench = try Bench()
        defer { #expect(bench.tearDown() == []) }
        let pids = try bench.started()
        try bench.expectMacvlan(mode: "bridge")
        bench.everyoneReachesEveryone()

        // spec.isolated: each macvlan in mode private, live (the network's
        // isolation is its containers' macvlans' mode: the plan names those);
        // the containers reach the gateway (and the host reaches them), never
        // each other.
        try bench.write(isolated: true)
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(plan.code == 2 && plan.output.contains("update-live Container/mv1 spec.networks[0].isolated"), "\(plan.output)")
        try bench.apply()
        try bench.expectMacvlan(mode: "private")
        for name in Bench.containers {
            #expect(eventually(seconds: 10) { bench.ping(from: name, "10.64.0.1") }, "\(name) → gateway")
            #expect(eventually(seconds: 10) { bench.pingFromHost(Bench.address(name)) }, "host → \(name)")
            for other in Bench.containers where other != name {
                #expect(!bench.ping(from: name, Bench.address(other)), "\(name) → \(other) on an isolated network")
            }
        }
        #expect(eventually(seconds: 10) { bench.fetch().contains("hello from mv1") }, "port forward")
        #expect(try bench.settled())
        #expect(bench.pids() == pids, "changed live, not restarted")
        try bench.write(isolated: false)
        try bench.appliedAsMacvlan()

        // spec.mtu: both ends of the pair and every macvlan, up and back down.
        for mtu in [9000, 1500] {
            try bench.write(mtu: mtu)
            let resize = try bench.berth("plan", ["--detailed-exitcode"])
            #expect(resize.code == 2 && resize.output.contains("spec.mtu") && resize.output.contains("spec.networks[0].mtu"), "\(resize.output)")
            try bench.apply()
            try bench.expectMacvlan(mode: "bridge", mtu: mtu)
            bench.everyoneReachesEveryone()
            #expect(try bench.settled())
        }
        #expect(bench.pids() == pids, "changed live, not restarted")

        // Stopped and started again at once, while the kernel may still be
        // freeing its last namespace (and that namespace's macvlan on the
        // same lower end): it comes up (a fixed MAC would not: EADDRINUSE).
        // Its new macvlan has a new MAC; mv1, mv2 and the host knew the old
        // one (the pings above) and learn the new one from the gratuitous
        // ARP it sends as it comes up (arp_notify), not when their entry
        // goes stale (20-30 s, during which mv3 is unreachable for them).
        // Only a start again announces: a first start's broadcast would reach
        // every macvlan on the lower end, and no neighbour knew its addresses.
        #expect(try bench.sysctl("mv3", "ipv4/conf/eth0/arp_notify") == "0", "a first start does not announce")
        try bench.host.runtime.stop("mv3", timeout: Interval(milliseconds: 300))
        try bench.apply()
        #expect(bench.pid("mv3") != nil && bench.pid("mv3") != pids[2], "started again")
        #expect(try bench.sysctl("mv3", "ipv4/conf/eth0/arp_notify") == "1", "a start again announces")
        #expect(try bench.sysctl("mv3", "ipv6/conf/eth0/ndisc_notify") == "0", "no IPv6 address: no IPv6 announcement")
        for name in ["mv1", "mv2"] {
            #expect(eventually(seconds: 3) { bench.ping(from: name, Bench.address("mv3")) }, "\(name) → mv3 right after its restart")
        }
        #expect(eventually(seconds: 3) { bench.pingFromHost(Bench.address("mv3")) }, "host → mv3 right after its restart")
        try bench.expectMacvlan(mode: "bridge")
        bench.everyoneReachesEveryone()
        // Stopped, then started after a reboot (its run directory, a tmpfs,
        // gone): no neighbour on this host knew its MACs, no announcement.
        try bench.host.runtime.stop("mv3", timeout: Interval(milliseconds: 300))
        try FileManager.default.removeItem(atPath: bench.host.runtime.state.runDirectory("mv3"))
        try bench.apply()
        #expect(try bench.sysctl("mv3", "ipv4/conf/eth0/arp_notify") == "0", "a start after a reboot does not announce")

        // CRIU would have to make the macvlan again: refused before any dump.
        let images = bench.host.root + "/images"
        let checkpoint = try CheckpointTests().berth(bench.host, ["checkpoint", "mv2", "--to", images])
        #expect(checkpoint.code != 0 && checkpoint.output.contains("checkpoint and migrate need driver bridge"), "\(checkpoint.output)")
        #expect(bench.pid("mv2") == pids[1], "still running")

        try bench.prune()
    }

    /// A container's macvlan deleted or put in another mode, the lower end
    /// set down or to another MTU, the gateway end renamed, the pair
    /// deleted, behind berth's back: drift names them, apply repairs.
    @Test func aDeletedMacvlanAndALowerEndDownAreDriftThatApplyRepairs() throws {
        let bench = try Bench()
        defer { #expect(bench.tearDown() == []) }
        let pids = try bench.started()

        try bench.run(try bench.enter("mv2") + ["/usr/sbin/ip", "link", "del", "dev", "eth0"])
        #expect(try bench.inside("mv2") == nil)
        let deleted = try bench.berth("drift", ["--detailed-exitcode", "--output", "json"])
        #expect(
            deleted.code == 2 && deleted.output.contains("mv2") && deleted.output.contains("spec.networks[0]")
                && deleted.output.contains("\"origin\" : \"drift\""), "\(deleted.output)")
        try bench.appliedAsMacvlan()
        // Made again on the running container: a new MAC, announced.
        #expect(try bench.sysctl("mv2", "ipv4/conf/eth0/arp_notify") == "1", "a macvlan made again announces")

        try bench.run(try bench.enter("mv3") + ["/usr/sbin/ip", "link", "set", "dev", "eth0", "type", "macvlan", "mode", "private"])
        let moded = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(moded.code == 2 && moded.output.contains("spec.networks[0].isolated"), "\(moded.output)")
        try bench.apply()
        try bench.expectMacvlan(mode: "bridge")
        #expect(try bench.settled())

        try bench.run(["/usr/sbin/ip", "link", "set", "dev", bench.lower, "down"])
        let down = try bench.berth("drift", ["--detailed-exitcode"])
        #expect(down.code == 2 && down.output.contains("bridge.lower"), "\(down.output)")
        try bench.appliedAsMacvlan()

        // The lower end at another MTU: the kernel lowers the macvlans on it too.
        try bench.run(["/usr/sbin/ip", "link", "set", "dev", bench.lower, "mtu", "1400"])
        let smaller = try bench.berth("drift", ["--detailed-exitcode"])
        #expect(smaller.code == 2 && smaller.output.contains("bridge.lower"), "\(smaller.output)")
        try bench.apply()
        try bench.expectMacvlan(mode: "bridge")
        #expect(try bench.settled())

        // The gateway end renamed (as NetworkContractTests does to a
        // bridge): the pair is made again under its name (the renamed one
        // goes, and the macvlans on its lower end with it), the containers
        // get their macvlans again, in the same apply.
        try bench.run(["/usr/sbin/ip", "link", "set", "dev", bench.bridge, "down"])
        try bench.run(["/usr/sbin/ip", "link", "set", "dev", bench.bridge, "name", bench.base.other])
        let renamed = try bench.berth("drift", ["--detailed-exitcode"])
        #expect(renamed.code == 2 && renamed.output.contains("spec.bridge"), "\(renamed.output)")
        try bench.appliedAsMacvlan()
        #expect(bench.link(bench.base.other) == nil, "the renamed end is left")

        // The pair deleted: every macvlan on its lower end goes with it.
        try bench.run(["/usr/sbin/ip", "link", "del", "dev", bench.bridge])
        #expect(try bench.inside("mv1") == nil)
        let gone = try bench.berth("drift", ["--detailed-exitcode"])
        #expect(gone.code == 2 && gone.output.contains("Network/\(Bench.network)") && gone.output.contains("mv1"), "\(gone.output)")
        try bench.appliedAsMacvlan()
        #expect(bench.pids() == pids, "repaired live, not restarted")

        try bench.prune()
    }

    /// `spec.driver` changed live, macvlan → bridge → macvlan: the device
    /// made again under the same name, each container's eth0 of the other
    /// kind with the same address, the same inits.
    @Test func theDriverChangesLive() throws {
        let bench = try Bench()
        defer { #expect(bench.tearDown() == []) }
        let pids = try bench.started()
        try bench.expectMacvlan(mode: "bridge")

        try bench.write(driver: "bridge")
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(plan.code == 2 && plan.output.contains("spec.driver"), "\(plan.output)")
        try bench.apply()
        try bench.expectBridge()
        bench.everyoneReachesEveryone()
        #expect(try bench.settled())
        #expect(bench.pids() == pids, "changed live, not restarted")

        try bench.write(driver: "macvlan")
        let back = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(back.code == 2 && back.output.contains("spec.driver"), "\(back.output)")
        try bench.appliedAsMacvlan()
        #expect(bench.pids() == pids, "changed live, not restarted")

        // An isolated network changes driver too: bridge ports isolated,
        // then macvlans in mode private; mv1 never reaches mv2.
        try bench.write(driver: "bridge", isolated: true)
        try bench.apply()
        try bench.expectBridge()
        for name in Bench.containers {
            let port = NetworkAttacher.hostInterfaceName(container: name, network: Bench.network)
            #expect(try bench.json(["/usr/sbin/bridge", "-d", "-j", "link", "show", "dev", port]).first?["isolated"] as? Bool == true)
        }
        #expect(eventually(seconds: 10) { bench.ping(from: "mv1", "10.64.0.1") })
        #expect(!bench.ping(from: "mv1", Bench.address("mv2")))
        #expect(try bench.settled())
        try bench.write(driver: "macvlan", isolated: true)
        try bench.apply()
        try bench.expectMacvlan(mode: "private")
        #expect(eventually(seconds: 10) { bench.ping(from: "mv1", "10.64.0.1") })
        #expect(!bench.ping(from: "mv1", Bench.address("mv2")))
        #expect(eventually(seconds: 10) { bench.fetch().contains("hello from mv1") }, "port forward")
        #expect(try bench.settled())
        #expect(bench.pids() == pids, "changed live, not restarted")

        try bench.prune()
    }

    /// A macvlan network beside a bridge network and another macvlan
    /// network: a container on the first and on the bridge network has a
    /// macvlan eth0 and a veth eth1; IPv6 crosses the macvlans and the
    /// pair; the other macvlan network's container reaches its own gateway
    /// but no container of the first (networks are isolated from each
    /// other: both pairs' gateway ends are in group 48711).
    @Test func aMacvlanNetworkBesideABridgeNetworkAndAnotherMacvlanNetwork() throws {
        let bench = try Bench()
        defer { #expect(bench.tearDown() == []) }
        let networks = [Bench.network, "mvbridge", "mvother"]
        let manifests =
            Bench.network(Bench.network, driver: "macvlan", bridge: bench.bridge, subnet: "10.64.0.0/24", lines: ["ipv6: {subnet: \"fd00:64::/64\"}"])
            + Bench.network(networks[1], driver: "bridge", bridge: bench.base.other, subnet: "10.64.1.0/24")
            + Bench.network(networks[2], driver: "macvlan", bridge: bench.third, subnet: "10.64.2.0/24")
            + Bench.container(
                "mv1",
                networks: "{network: \(Bench.network), addresses: [10.64.0.11, \"fd00:64::11/64\"]}, {network: mvbridge, addresses: [10.64.1.11]}"
            )
            + Bench.container("mv2", networks: "{network: \(Bench.network), addresses: [10.64.0.12, \"fd00:64::12/64\"]}")
            + Bench.container("mv3", networks: "{network: mvother, addresses: [10.64.2.13]}")
        try bench.write(manifests)
        try bench.apply()
        #expect(try bench.settled())

        #expect(Bench.kind(try bench.inside("mv1")) == "macvlan")
        #expect(Bench.kind(try bench.inside("mv1", "eth1")) == "veth")
        #expect(bench.link(NetworkAttacher.hostInterfaceName(container: "mv1", network: "mvbridge"))?["master"] as? String == bench.base.other)
        #expect(bench.link(NetworkAttacher.hostInterfaceName(container: "mv1", network: Bench.network)) == nil)
        #expect(try bench.addresses("eth0", inside: "mv2") == ["10.64.0.12/24", "fd00:64::12/64"])
        #expect(try bench.addresses(bench.bridge) == ["10.64.0.1/24", "fd00:64::1/64"])
        let other = try #require(bench.link(bench.third))
        #expect(Bench.kind(other) == "veth" && other["group"] as? String == "48711")
        #expect(Bench.kind(try bench.inside("mv3")) == "macvlan")

        // IPv6 once duplicate address detection is done.
        #expect(eventually(seconds: 10) { bench.ping(from: "mv2", "fd00:64::11") }, "mv2 → mv1 over IPv6")
        #expect(eventually(seconds: 10) { bench.ping(from: "mv2", "fd00:64::1") }, "mv2 → the IPv6 gateway")
        #expect(eventually(seconds: 10) { bench.pingFromHost("fd00:64::12") }, "host → mv2 over IPv6")
        #expect(eventually(seconds: 10) { bench.ping(from: "mv2", "10.64.0.11") })
        #expect(eventually(seconds: 10) { bench.ping(from: "mv1", "10.64.1.1") }, "mv1 → the bridge network's gateway")
        #expect(eventually(seconds: 10) { bench.ping(from: "mv3", "10.64.2.1") }, "mv3 → its gateway")
        #expect(!bench.ping(from: "mv3", "10.64.0.12"), "mv3 reaches another network")
        #expect(!bench.ping(from: "mv2", "10.64.2.13"), "mv2 reaches another network")

        // mv2 stopped and started again: mv1 and the host knew its IPv6
        // address with its last macvlan's MAC (the pings above) and learn
        // the new one from the unsolicited neighbour advertisement it sends
        // once the address is ready (ndisc_notify), not when their entry
        // goes stale (~30 s). Its duplicate address detection first: ~1 s.
        #expect(try bench.sysctl("mv2", "ipv6/conf/eth0/ndisc_notify") == "0", "a first start does not announce")
        let before = bench.pid("mv2")
        try bench.host.runtime.stop("mv2", timeout: Interval(milliseconds: 300))
        try bench.apply()
        #expect(bench.pid("mv2") != nil && bench.pid("mv2") != before, "started again")
        #expect(try bench.sysctl("mv2", "ipv6/conf/eth0/ndisc_notify") == "1", "a start again announces over IPv6")
        #expect(eventually(seconds: 5) { bench.ping(from: "mv1", "fd00:64::12") }, "mv1 → mv2 over IPv6 right after its restart")
        #expect(eventually(seconds: 5) { bench.pingFromHost("fd00:64::12") }, "host → mv2 over IPv6 right after its restart")
        // Replaced (another root filesystem: its record goes, it is made
        // again): it ran before, and announces.
        let tree = try bench.host.runtime.templates.path(of: "busybox", logger: Logger(label: "test"))
        let parts = manifests.components(separatedBy: "metadata: {name: mv2}")
        try #require(parts.count == 2)
        let replacing = parts[1].replacingOccurrences(of: "rootfs: {template: busybox}", with: "rootfs: {directory: \(tree)}")
        try bench.write(parts[0] + "metadata: {name: mv2}" + replacing)
        let replaced = try bench.berth("apply", ["--replace"])
        #expect(replaced.code == 0 && replaced.output.contains("replaced"), "\(replaced.output)")
        #expect(try bench.sysctl("mv2", "ipv4/conf/eth0/arp_notify") == "1", "a replaced container announces")
        #expect(try bench.sysctl("mv2", "ipv6/conf/eth0/ndisc_notify") == "1", "a replaced container announces over IPv6")
        #expect(eventually(seconds: 5) { bench.ping(from: "mv1", "fd00:64::12") }, "mv1 → mv2 over IPv6 right after its replace")
        #expect(eventually(seconds: 3) { bench.ping(from: "mv1", "10.64.0.12") }, "mv1 → mv2 right after its replace")
        // Its macvlan deleted inside (drift) and made again by apply on the
        // running container: announced over IPv6 too.
        try bench.run(try bench.enter("mv2") + ["/usr/sbin/ip", "link", "del", "dev", "eth0"])
        try bench.apply()
        #expect(try bench.sysctl("mv2", "ipv6/conf/eth0/ndisc_notify") == "1", "a macvlan made again announces over IPv6")
        #expect(eventually(seconds: 5) { bench.ping(from: "mv1", "fd00:64::12") }, "mv1 → mv2 over IPv6 right after the repair")

        try bench.prune(networks: networks)
    }
}
