import Foundation
import Kernel
import Model
import Netlink
import Runtime
import Synchronization
import Testing

/// rtnetlink against the sandbox's own network namespace, checked from the
/// outside with `ip -j` as a user would.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct NetlinkHostTests {
    func ip(_ arguments: [String]) throws -> [[String: Any]] {
        let output = try Spawn.run(["/sbin/ip", "-j"] + arguments).output
        return (try JSONSerialization.jsonObject(with: Data(output)) as? [[String: Any]]) ?? []
    }

    @Test func bridgeVethAddressAndTeardownShowInIp() throws {
        let netlink = try RouteNetlink()
        try netlink.createBridge("brt-test0")
        defer { try? netlink.deleteLink("brt-test0") }
        try netlink.setLink("brt-test0", up: true)
        try netlink.addAddress(try CIDR(parsing: "10.123.0.1/24"), to: "brt-test0")
        try netlink.createVeth("vt-test0", peer: "vt-test0p")
        defer { try? netlink.deleteLink("vt-test0") }
        try netlink.setLink("vt-test0", up: true, master: "brt-test0")

        let bridge = try #require(try ip(["-d", "link", "show", "brt-test0"]).first)
        #expect((bridge["linkinfo"] as? [String: Any])?["info_kind"] as? String == "bridge")
        let veth = try #require(try ip(["link", "show", "vt-test0"]).first)
        #expect(veth["master"] as? String == "brt-test0")
        let addresses = try ip(["addr", "show", "brt-test0"]).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(addresses.contains { $0["local"] as? String == "10.123.0.1" && $0["prefixlen"] as? Int == 24 })
        #expect(try netlink.addresses().contains { $0.cidr.description == "10.123.0.1/24" })
        #expect(try netlink.links().first { $0.name == "brt-test0" }?.kind == "bridge")

        // The kernel's refusal comes back typed, naming the operation.
        #expect(throws: NetlinkError(operation: "create bridge brt-test0", errno: EEXIST)) { try netlink.createBridge("brt-test0") }

        // MTU and MAC set, then the peer moved into another namespace by fd and renamed there.
        try netlink.setLink("vt-test0p", mtu: 1400, mac: [0x02, 0xbe, 0x27, 0, 0, 0x01])
        let peer = try #require(try ip(["link", "show", "vt-test0p"]).first)
        #expect(peer["mtu"] as? Int == 1400)
        #expect(peer["address"] as? String == "02:be:27:00:00:01")
        let holder = try Child(held: "exec /usr/bin/unshare --net /bin/sleep 30")
        defer { holder.kill() }
        holder.release()
        let mine = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        for _ in 0..<200 where (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(holder.pid)/ns/net")) == mine {
            usleep(10_000)
        }
        let namespace = try Syscall.open("/proc/\(holder.pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespace) }
        try netlink.moveLink("vt-test0p", toNamespaceFD: namespace, rename: "eth7")
        #expect(try netlink.link(named: "vt-test0p") == nil)
        let inside = RouteNetlink(transport: try NetlinkSocket(networkNamespaceFD: namespace))
        #expect(try inside.link(named: "eth7")?.mac == [0x02, 0xbe, 0x27, 0, 0, 0x01])

        try netlink.deleteLink("vt-test0")
        try netlink.deleteLink("brt-test0")
        #expect(
            try ip(["link", "show"]).allSatisfy { ($0["ifname"] as? String)?.hasPrefix("vt-test0") != true && $0["ifname"] as? String != "brt-test0" }
        )
    }

    /// Sockets in other namespaces come from a helper thread that goes
    /// back home after each (one per asking thread, not a thread per
    /// socket: berth-bench scale). Asked alternately for two namespaces,
    /// each socket sees its own namespace, the asker's never changes, and
    /// after each ask no thread of this process is left in either.
    @Test func socketsInOtherNamespacesComeFromAHelperThatGoesBackHome() throws {
        let holders = try (0..<2).map { _ in try Child(held: "exec /usr/bin/unshare --net /bin/sleep 30") }
        defer { for holder in holders { holder.kill() } }
        for holder in holders { holder.release() }
        let mine = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        var opened: [Int32] = []
        var names: [String] = []
        for holder in holders {
            for _ in 0..<200 where (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(holder.pid)/ns/net")) == mine {
                usleep(10_000)
            }
            opened.append(try Syscall.open("/proc/\(holder.pid)/ns/net", O_RDONLY))
            names.append(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(holder.pid)/ns/net"))
        }
        let namespaces = opened
        defer { for namespace in namespaces { Syscall.close(namespace) } }
        #expect(names[0] != mine && names[1] != mine && names[0] != names[1])
        // A bridge in the first namespace tells the two apart.
        try RouteNetlink(transport: try NetlinkSocket(networkNamespaceFD: namespaces[0])).createBridge("brt-helper0")
        let visited = Set(names)
        @Sendable func threadsVisiting() -> Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            let namespaces = tasks.map { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/task/\($0)/ns/net")) ?? "" }
            return namespaces.filter { visited.contains($0) }.count
        }
        let results = Mutex<(seen: [Bool], home: Bool, visiting: Int)>(([], true, 0))
        let thread = try Threads.start {
            for round in 0..<40 {
                let inside = try? RouteNetlink(transport: try NetlinkSocket(networkNamespaceFD: namespaces[round % 2]))
                let seen = (try? inside?.link(named: "brt-helper0")) != nil
                let here = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")) == mine
                let left = threadsVisiting()
                results.withLock {
                    $0.seen.append(inside != nil && seen == (round % 2 == 0))
                    $0.home = $0.home && here
                    $0.visiting = max($0.visiting, left)
                }
            }
        }
        pthread_join(thread, nil)
        let (seen, home, visiting) = results.withLock { $0 }
        #expect(seen.count == 40 && seen.allSatisfy { $0 })
        #expect(home)
        #expect(visiting == 0)
    }

    /// Sockets in several namespaces opened in one ask
    /// (NetlinkSocket.inNamespaces, observe's runs of containers): each in
    /// its own process's namespace, none for a process that is gone, the
    /// asker and every thread back home after.
    @Test func socketsInSeveralNamespacesComeFromOneAsk() throws {
        let holders = try (0..<3).map { _ in try Child(held: "exec /usr/bin/unshare --net /bin/sleep 30") }
        defer { for holder in holders { holder.kill() } }
        for holder in holders { holder.release() }
        let mine = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        for holder in holders {
            for _ in 0..<200 where (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(holder.pid)/ns/net")) == mine {
                usleep(10_000)
            }
        }
        // A bridge in each namespace, named for it, tells them apart.
        for (index, holder) in holders.enumerated() {
            try RouteNetlink.inNamespace(ofProcess: holder.pid).createBridge("brt-many\(index)")
        }
        // The second one gone (and reaped) before the ask.
        holders[1].kill()
        let sockets = NetlinkSocket.inNamespaces(ofProcesses: holders.map(\.pid))
        #expect(sockets.count == 3)
        #expect(sockets[1] == nil)
        for index in [0, 2] {
            let client = RouteNetlink(transport: try #require(sockets[index]))
            let bridges = try client.links().map(\.name).filter { $0.hasPrefix("brt-many") }
            #expect(bridges == ["brt-many\(index)"])
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net") == mine)
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")
        #expect(tasks.allSatisfy { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/task/\($0)/ns/net")) == mine })
    }

    /// A batch delete's veths go in one request: the named host ends are
    /// put in a group no link is in, and that group's delete takes them
    /// (their peers and bridge ports with them) and nothing else, whatever
    /// group the others are in; a name that is not there is skipped.
    @Test func hostEndsAreDeletedAsOneGroupAndNothingElse() throws {
        let netlink = try RouteNetlink()
        try netlink.createBridge("brt-ends")
        defer { try? netlink.deleteLink("brt-ends") }
        let bridge = try netlink.index(of: "brt-ends")
        let names = (0..<4).map { NetworkAttacher.hostInterfaceName(container: "ends\($0)", network: "test") }
        defer { for name in names { _ = try? netlink.deleteLinkIfPresent(name) } }
        for (index, name) in names.enumerated() {
            try netlink.createVeth(name, peer: "vt-ends\(index)p")
            try netlink.setLink(named: name, master: bridge)
        }
        // One left in a group of its own, one in the default group.
        try netlink.setGroup(names[3], 77)

        let grouped = try #require(try NetworkAttacher.groupHostEnds(Set(names[0..<2] + ["vb00000000"]), netlink: netlink))
        #expect(grouped.count == 2 && grouped.group != 0 && grouped.group != 77 && grouped.group != NetworkConfig.bridgeGroup)
        #expect(try netlink.link(named: names[0])?.group == grouped.group)
        try netlink.deleteLinks(group: grouped.group)
        let left = Set(try netlink.links().map(\.name))
        #expect(left.isDisjoint(with: [names[0], names[1], "vt-ends0p", "vt-ends1p"]))
        #expect(left.isSuperset(of: [names[2], names[3], "vt-ends2p", "vt-ends3p", "brt-ends"]))
        #expect(try netlink.link(named: names[3])?.group == 77)
        #expect(try netlink.bridgePorts(master: bridge).map(\.name).sorted() == [names[2], names[3]].sorted())
        // The link dump says of the ports what the AF_BRIDGE dump does
        // (observe reads them from it), an isolated one too.
        try netlink.setPortIsolated(names[2], true)
        let fromLinks = BridgePort.ports(of: try netlink.links(), master: bridge).sorted { $0.index < $1.index }
        #expect(fromLinks == (try netlink.bridgePorts(master: bridge)).sorted { $0.index < $1.index })
        #expect(fromLinks.map(\.isolated) == [true, false] || fromLinks.map(\.isolated) == [false, true])
        #expect(fromLinks.first { $0.name == names[2] }?.isolated == true)
        // Nothing of the batch left: no group.
        #expect(try NetworkAttacher.groupHostEnds(Set(names[0..<2]), netlink: netlink) == nil)
        // A group no link is in: the kernel says so.
        #expect(throws: NetlinkError.self) { try netlink.deleteLinks(group: grouped.group) }
    }
}
