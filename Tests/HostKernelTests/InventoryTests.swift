import Foundation
import Kernel
import Netlink
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Ownership (issue 12): each set of manifests is a source with an
/// inventory of what it applied. A source prunes only its own objects,
/// shows the ones no manifest names any more as orphans (exit 2), refuses
/// another source's objects, and shares a network applied with the same
/// spec. Checked as a user would: the containers' inits, `plan` exit codes,
/// the bridges.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct InventoryTests {
    static func network(_ name: String, subnet: String) -> String {
        "apiVersion: berth/v1\nkind: Network\nmetadata: {name: \(name)}\nspec: {subnet: \(subnet), bridge: br-\(name)}\n"
    }

    static func container(_ name: String, network: String? = nil, address: String? = nil) -> String {
        var text = AgentTests.manifest(name)
        if let network, let address { text += "  networks: [{network: \(network), addresses: [\(address)]}]\n" }
        return text
    }

    static func write(_ files: [String: String], to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
    }

    /// `berth COMMAND` on the test host's state dir, run dir and cgroup parent.
    static func berth(_ host: TestHost, _ arguments: [String]) throws -> (code: Int32, output: String) {
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        let result = try Spawn.run([ContainerCLITests.binary, arguments[0]] + global + arguments.dropFirst(), mergingStandardError: true)
        return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
    }

    func pids(_ host: TestHost) -> [String: Int32] {
        var result: [String: Int32] = [:]
        for entry in host.runtime.list() { if case .running(let pid) = entry.status { result[entry.record.name] = pid } }
        return result
    }

    @Test func aSourcePrunesOnlyItsOwnObjectsAndRefusesAnothers() throws {
        let host = try TestHost()
        func berth(_ arguments: [String]) throws -> (code: Int32, output: String) { try InventoryTests.berth(host, arguments) }
        defer {
            _ = try? berth(["apply", "--prune", "--yes"])
            for bridge in ["br-inva", "br-invb"] { try? RouteNetlink().deleteLink(bridge) }
            #expect(host.tearDown() == [])
        }
        let (a, b, c) = (host.root + "/a", host.root + "/b", host.root + "/c")
        let shared = InventoryTests.network("inva", subnet: "10.86.1.0/24")
        try InventoryTests.write(
            [
                "net.yaml": shared, "ia1.yaml": InventoryTests.container("ia1", network: "inva", address: "10.86.1.11"),
                "ia2.yaml": InventoryTests.container("ia2", network: "inva", address: "10.86.1.12"),
            ], to: a)
        // b names network inva with the very spec a applied: shared, not a conflict.
        try InventoryTests.write(
            [
                "net.yaml": shared + "---\n" + InventoryTests.network("invb", subnet: "10.86.2.0/24"),
                "ib1.yaml": InventoryTests.container("ib1", network: "inva", address: "10.86.1.21"),
                "ib2.yaml": InventoryTests.container("ib2", network: "invb", address: "10.86.2.22"),
            ], to: b)

        let first = try berth(["apply", a])
        #expect(first.code == 0, "\(first.output)")
        #expect(first.output.contains("record Inventory[\(a)]"), "\(first.output)")
        let second = try berth(["apply", b])
        #expect(second.code == 0, "\(second.output)")
        #expect(!second.output.contains("Network/inva"), "b plans a's network: \(second.output)")
        let started = pids(host)
        #expect(started.keys.sorted() == ["ia1", "ia2", "ib1", "ib2"])
        #expect(try berth(["plan", "--detailed-exitcode", a]).code == 0)
        #expect(try berth(["plan", "--detailed-exitcode", b]).code == 0)

        // A manifest deleted: an orphan in plan and drift (exit 2); apply
        // without --prune leaves it running.
        try FileManager.default.removeItem(atPath: a + "/ia2.yaml")
        let orphan = try berth(["plan", "--detailed-exitcode", a])
        #expect(orphan.code == 2, "\(orphan.output)")
        #expect(orphan.output.contains("orphan Container/ia2"), "\(orphan.output)")
        #expect(orphan.output.contains("--prune deletes it"))
        let drift = try berth(["drift", "--detailed-exitcode", a])
        #expect(drift.code == 2 && drift.output.contains("orphan"), "\(drift.output)")
        let kept = try berth(["apply", a])
        #expect(kept.code == 0 && kept.output.contains("1 orphan"), "\(kept.output)")
        #expect(pids(host)["ia2"] == started["ia2"])
        #expect(try berth(["plan", "--detailed-exitcode", a]).code == 2)

        // Another source naming b's container is refused at the manifest,
        // and nothing changes.
        try InventoryTests.write(["ib1.yaml": InventoryTests.container("ib1")], to: c)
        let refused = try berth(["plan", c])
        #expect(refused.code == 1, "\(refused.output)")
        #expect(refused.output.contains("\(c)/ib1.yaml:1:1: error: metadata.name: Container/ib1 belongs to source \(b)"), "\(refused.output)")
        #expect(refused.output.contains("--take-ownership"))
        #expect(try berth(["apply", c]).code == 1)
        #expect(pids(host)["ib1"] == started["ib1"])

        // A subset apply with --prune removes only what that source applied.
        let pruned = try berth(["apply", "--prune", a])
        #expect(pruned.code == 0, "\(pruned.output)")
        #expect(pruned.output.contains("delete Container/ia2"), "\(pruned.output)")
        let afterPrune = pids(host)
        #expect(afterPrune.keys.sorted() == ["ia1", "ib1", "ib2"])
        #expect(afterPrune["ia1"] == started["ia1"] && afterPrune["ib1"] == started["ib1"])
        #expect(ProcessStat.read(started["ia2"] ?? 0)?.isAlive != true)
        #expect(!host.runtime.cgroups.exists(try CgroupPath(host.parent).appending("ia2")))
        #expect(try berth(["plan", "--detailed-exitcode", a]).code == 0)
        #expect(try berth(["plan", "--detailed-exitcode", b]).code == 0)

        // Ownership taken over: b's container moves to c (same init), and b
        // now refuses it.
        let taken = try berth(["apply", "--take-ownership", c])
        #expect(taken.code == 0, "\(taken.output)")
        #expect(taken.output.contains("record Inventory[\(b)]"), "\(taken.output)")
        #expect(try berth(["plan", "--detailed-exitcode", c]).code == 0)
        #expect(pids(host)["ib1"] == started["ib1"])
        let bNow = try berth(["plan", b])
        #expect(bNow.code == 1 && bNow.output.contains("belongs to source \(c)"), "\(bNow.output)")

        // One source removed whole (--prune --source without manifests):
        // the others stay.
        let gone = try berth(["apply", "--prune", "--yes", "--source", c])
        #expect(gone.code == 0, "\(gone.output)")
        #expect(pids(host).keys.sorted() == ["ia1", "ib2"])
        let netlink = try RouteNetlink()
        #expect(try netlink.link(named: "br-inva") != nil && netlink.link(named: "br-invb") != nil)

        // Everything (no manifests, no source): nothing of either source is left.
        #expect(try berth(["apply", "--prune", "--yes"]).code == 0)
        #expect(pids(host).isEmpty)
        #expect(try netlink.link(named: "br-inva") == nil && netlink.link(named: "br-invb") == nil)
        let inventories = (try? FileManager.default.contentsOfDirectory(atPath: host.root + "/state/inventories")) ?? []
        #expect(inventories.isEmpty, "\(inventories)")
    }

    /// The agent prunes its own source by default; another source's
    /// container is never touched.
    @Test func theAgentPrunesItsOwnInventoryByDefault() throws {
        let host = try TestHost()
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        let other = host.root + "/other"
        let manifests = host.root + "/manifests"
        try InventoryTests.write(["o1.yaml": InventoryTests.container("o1")], to: other)
        try InventoryTests.write(["d1.yaml": InventoryTests.container("d1"), "d2.yaml": InventoryTests.container("d2")], to: manifests)
        #expect(try Spawn.run([ContainerCLITests.binary, "apply"] + global + [other]).exitedCleanly)
        let agent = try AgentTests.AgentProcess(host, ["--manifests", manifests, "--interval", "1h"])
        defer {
            agent.kill()
            _ = try? Spawn.run([ContainerCLITests.binary, "apply"] + global + ["--prune", "--yes"])
            #expect(host.tearDown() == [])
        }
        #expect(agent.waitFor(seconds: 90) { $0.contains("READY=1") } != nil, "\(agent.output)")
        #expect(eventually { pids(host).keys.sorted() == ["d1", "d2", "o1"] }, "\(agent.output)")
        let before = pids(host)
        try FileManager.default.removeItem(atPath: manifests + "/d2.yaml")
        #expect(eventually { pids(host)["d2"] == nil }, "\(agent.output)")
        #expect(pids(host) == before.filter { $0.key != "d2" })
        #expect(agent.output.contains("Container/d2"), "\(agent.output)")
    }
}

extension InventoryTests {
    /// A container renamed in its manifest, same address: without --prune
    /// the old one still runs and holds it, so plan and apply refuse (never
    /// two containers with one address on the bridge); with --prune the old
    /// one is deleted first and the new one gets the address.
    @Test func aRenamedContainersAddressIsRefusedUntilTheOldOneIsPruned() throws {
        let host = try TestHost()
        func berth(_ arguments: [String]) throws -> (code: Int32, output: String) { try InventoryTests.berth(host, arguments) }
        defer {
            _ = try? berth(["apply", "--prune", "--allow-empty", "--yes"])
            try? RouteNetlink().deleteLink("br-invr")
            #expect(host.tearDown() == [])
        }
        let a = host.root + "/a"
        let net = InventoryTests.network("invr", subnet: "10.86.3.0/24")
        try InventoryTests.write(["net.yaml": net, "web.yaml": InventoryTests.container("rn2", network: "invr", address: "10.86.3.12")], to: a)
        #expect(try berth(["apply", a]).code == 0)
        let old = try #require(pids(host)["rn2"])
        try InventoryTests.write(["web.yaml": InventoryTests.container("rn3", network: "invr", address: "10.86.3.12")], to: a)
        let refused = try berth(["plan", a])
        #expect(refused.code == 1, "\(refused.output)")
        #expect(
            refused.output.contains(
                "\(a)/web.yaml:1:1: error: spec.networks[0].addresses[0]: address 10.86.3.12 on network invr is held by running container rn2"),
            "\(refused.output)")
        #expect(refused.output.contains("--prune"), "\(refused.output)")
        #expect(try berth(["apply", a]).code == 1)
        #expect(pids(host).keys.sorted() == ["rn2"] && pids(host)["rn2"] == old)

        let pruned = try berth(["apply", "--prune", a])
        #expect(pruned.code == 0, "\(pruned.output)")
        let deleted = pruned.output.range(of: "delete Container/rn2")
        let created = pruned.output.range(of: "create Container/rn3")
        #expect((deleted?.lowerBound ?? pruned.output.endIndex) < (created?.lowerBound ?? pruned.output.startIndex), "\(pruned.output)")
        let now = try #require(pids(host)["rn3"])
        #expect(pids(host).keys.sorted() == ["rn3"])
        let addresses = try Spawn.run(["/usr/bin/nsenter", "-t", "\(now)", "-n", "/usr/sbin/ip", "-br", "addr", "show", "eth0"])
        #expect(String(decoding: addresses.output, as: UTF8.self).contains("10.86.3.12/24"))
        #expect(try berth(["plan", "--detailed-exitcode", a]).code == 0)
    }
}

extension InventoryTests {
    /// The agent's manifests give a container an address another source's
    /// running container holds: the agent leaves that one alone, says so
    /// once, and applies the rest.
    @Test func theAgentLeavesAContainerWhoseAddressIsHeldAlone() throws {
        let host = try TestHost()
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        let other = host.root + "/other"
        let manifests = host.root + "/manifests"
        let net = InventoryTests.network("invh", subnet: "10.86.4.0/24")
        try InventoryTests.write(["net.yaml": net, "h1.yaml": InventoryTests.container("h1", network: "invh", address: "10.86.4.12")], to: other)
        try InventoryTests.write(
            [
                "net.yaml": net, "h2.yaml": InventoryTests.container("h2", network: "invh", address: "10.86.4.12"),
                "h3.yaml": InventoryTests.container("h3", network: "invh", address: "10.86.4.13"),
            ], to: manifests)
        #expect(try Spawn.run([ContainerCLITests.binary, "apply"] + global + [other]).exitedCleanly)
        let agent = try AgentTests.AgentProcess(host, ["--manifests", manifests, "--interval", "1h"])
        defer {
            agent.kill()
            _ = try? Spawn.run([ContainerCLITests.binary, "apply"] + global + ["--prune", "--allow-empty", "--yes"])
            try? RouteNetlink().deleteLink("br-invh")
            #expect(host.tearDown() == [])
        }
        #expect(agent.waitFor(seconds: 90) { $0.contains("READY=1") } != nil, "\(agent.output)")
        #expect(eventually { pids(host).keys.sorted() == ["h1", "h3"] }, "\(agent.output)")
        #expect(eventually { agent.output.contains("address held by another container") }, "\(agent.output)")
        #expect(agent.output.contains("h1") && agent.output.contains("10.86.4.12"), "\(agent.output)")
        #expect(pids(host)["h2"] == nil)
    }
}
