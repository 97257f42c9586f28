import Foundation
import Kernel
import Netlink
import Runtime
import Testing

/// The Network rows of the field contract on the real kernel, through the
/// berth binary: change a field in the manifest → plan names it → apply →
/// the bridge changed as `ip` and `bridge` show it, the container kept its
/// init, plan says "No changes"; change the bridge behind berth's back
/// with `ip` → drift names the field → apply repairs it.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct NetworkContractTests {
    /// One network with one container on it, in a manifests directory of
    /// its own; bridges with names of their own (deleted at the end).
    struct Bench {
        let host: TestHost
        let manifests: String
        let bridge: String
        let other: String
        static let network = "ncnet"
        static let container = "nc1"
        var global: [String] { ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent] }
        /// The host end of the container's veth.
        var port: String { NetworkAttacher.hostInterfaceName(container: Bench.container, network: Bench.network) }

        init() throws {
            host = try TestHost()
            manifests = host.root + "/manifests"
            try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
            let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
            bridge = "bn" + tag
            other = "bo" + tag
        }

        /// `network` lines go under the Network's `spec:` (`BRIDGE` and
        /// `OTHER` stand for the bridge names); `addresses` are the container's.
        func write(_ network: String, addresses: String = "[10.61.0.10]") throws {
            let lines = network.replacingOccurrences(of: "OTHER", with: other).replacingOccurrences(of: "BRIDGE", with: bridge)
                .split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
            let text = """
                apiVersion: berth/v1
                kind: Network
                metadata: {name: \(Bench.network)}
                spec:
                \(lines)
                ---
                apiVersion: berth/v1
                kind: Container
                metadata: {name: \(Bench.container)}
                spec:
                  rootfs: {template: busybox}
                  init: {command: [/bin/sleep, "600"]}
                  stopTimeout: 200ms
                  networks: [{network: \(Bench.network), addresses: \(addresses)}]

                """
            try text.write(toFile: manifests + "/net.yaml", atomically: true, encoding: .utf8)
        }

        @discardableResult
        func berth(_ command: String, _ arguments: [String] = []) throws -> (code: Int32, output: String) {
            let result = try Spawn.run([ContainerCLITests.binary, command] + global + arguments + [manifests], mergingStandardError: true)
            return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
        }

        func pid() -> Int32? {
            guard let record = host.runtime.state.load(Bench.container), host.runtime.isRunning(record) else { return nil }
            return record.pid
        }

        /// What an admin's command does (`ip`, `bridge`), or its JSON.
        @discardableResult
        func run(_ arguments: [String]) throws -> String {
            let result = try Spawn.run(arguments, mergingStandardError: true)
            let output = String(decoding: result.output, as: UTF8.self)
            #expect(result.exitedCleanly, "\(arguments.joined(separator: " ")): \(output)")
            return output
        }

        func json(_ arguments: [String]) throws -> [[String: Any]] {
            let output = try run(arguments)
            return (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]]) ?? []
        }

        /// `ip -j link show dev NAME`: nil when there is no such link.
        func link(_ name: String) -> [String: Any]? {
            guard let result = try? Spawn.run(["/usr/sbin/ip", "-j", "link", "show", "dev", name]), result.exitedCleanly else { return nil }
            return ((try? JSONSerialization.jsonObject(with: Data(result.output))) as? [[String: Any]])?.first
        }

        /// The bridge's addresses as `ip -j addr` shows them (link-local aside).
        func addresses(_ name: String) throws -> [String] {
            let info = try json(["/usr/sbin/ip", "-j", "addr", "show", "dev", name]).first?["addr_info"] as? [[String: Any]] ?? []
            return info.compactMap { entry -> String? in
                guard let local = entry["local"] as? String, let prefix = entry["prefixlen"] as? Int, !local.hasPrefix("fe80:") else { return nil }
                return "\(local)/\(prefix)"
            }.sorted()
        }

        /// The port's isolation flag as `bridge -d -j link` shows it.
        func isolated() throws -> Bool? {
            try json(["/usr/sbin/bridge", "-d", "-j", "link", "show", "dev", port]).first?["isolated"] as? Bool
        }

        /// The container's default route of a family, as `ip route` inside shows it.
        func defaultGateway(_ family: String) throws -> String? {
            let initPID = try #require(self.pid())
            return try json(["/usr/bin/nsenter", "-t", "\(initPID)", "-n", "/usr/sbin/ip", "-j", family, "route", "show", "default"]).first?[
                "gateway"] as? String
        }

        /// The containers, then the bridges (berth keeps a network's bridge
        /// until a prune); returns what is left behind.
        func tearDown() -> [String] {
            var leaks = host.tearDown()
            for name in [bridge, other] where link(name) != nil { try? RouteNetlink().deleteLink(name) }
            leaks += [bridge, other].filter { link($0) != nil }.map { "bridge \($0)" }
            return leaks
        }
    }

    /// One live Network field: the spec before and after, what `ip` shows
    /// after apply, and what an admin does behind berth's back.
    struct Case: CustomStringConvertible, Sendable {
        var field: String
        var before: String
        var after: String
        var addresses = "[10.61.0.10]"
        /// Checked after the apply and after the repair.
        var applied: @Sendable (Bench) throws -> Void
        var behindBack: @Sendable (Bench) throws -> Void
        /// The field drift names (the same unless said).
        var driftField: String?
        var description: String { field }
    }

    static let cases: [Case] = [
        Case(
            field: "spec.mtu", before: "bridge: BRIDGE\nsubnet: 10.61.0.0/24\nmtu: 1500", after: "bridge: BRIDGE\nsubnet: 10.61.0.0/24\nmtu: 1400",
            applied: { (bench: Bench) throws in
                #expect(bench.link(bench.bridge)?["mtu"] as? Int == 1400)
                #expect(bench.link(bench.port)?["mtu"] as? Int == 1400)
            },
            behindBack: { (bench: Bench) throws in try bench.run(["/usr/sbin/ip", "link", "set", "dev", bench.bridge, "mtu", "1300"]) }),
        Case(
            field: "spec.gateway", before: "bridge: BRIDGE\nsubnet: 10.61.0.0/24",
            after: "bridge: BRIDGE\nsubnet: 10.61.0.0/24\ngateway: 10.61.0.254",
            applied: { (bench: Bench) throws in
                #expect(try bench.addresses(bench.bridge) == ["10.61.0.254/24"])
                #expect(try bench.defaultGateway("-4") == "10.61.0.254")
            },
            behindBack: { (bench: Bench) throws in try bench.run(["/usr/sbin/ip", "addr", "add", "10.61.0.77/24", "dev", bench.bridge]) }),
        Case(
            field: "spec.subnet", before: "bridge: BRIDGE\nsubnet: 10.61.0.0/24", after: "bridge: BRIDGE\nsubnet: 10.61.0.0/16",
            applied: { (bench: Bench) throws in #expect(try bench.addresses(bench.bridge) == ["10.61.0.1/16"]) },
            behindBack: { (bench: Bench) throws in
                try bench.run(["/usr/sbin/ip", "addr", "del", "10.61.0.1/16", "dev", bench.bridge])
                try bench.run(["/usr/sbin/ip", "addr", "add", "10.61.0.1/24", "dev", bench.bridge])
            }),
        Case(
            field: "spec.ipv6.subnet", before: "bridge: BRIDGE\nsubnet: 10.61.0.0/24",
            after: "bridge: BRIDGE\nsubnet: 10.61.0.0/24\nipv6: {subnet: \"fd00:61::/64\"}",
            applied: { (bench: Bench) throws in #expect(try bench.addresses(bench.bridge) == ["10.61.0.1/24", "fd00:61::1/64"]) },
            behindBack: { (bench: Bench) throws in
                try bench.run(["/usr/sbin/ip", "addr", "del", "fd00:61::1/64", "dev", bench.bridge])
                try bench.run(["/usr/sbin/ip", "addr", "add", "fd00:61::1/80", "dev", bench.bridge])
            }),
        // The container has an IPv6 address: its IPv6 default route follows the gateway.
        Case(
            field: "spec.ipv6.gateway", before: "bridge: BRIDGE\nsubnet: 10.61.0.0/24\nipv6: {subnet: \"fd00:61::/64\"}",
            after: "bridge: BRIDGE\nsubnet: 10.61.0.0/24\nipv6: {subnet: \"fd00:61::/64\", gateway: \"fd00:61::fe\"}",
            addresses: "[10.61.0.10, \"fd00:61::10/64\"]",
            applied: { (bench: Bench) throws in
                #expect(try bench.addresses(bench.bridge) == ["10.61.0.1/24", "fd00:61::fe/64"])
                #expect(try bench.defaultGateway("-6") == "fd00:61::fe")
            },
            behindBack: { (bench: Bench) throws in try bench.run(["/usr/sbin/ip", "addr", "del", "fd00:61::fe/64", "dev", bench.bridge]) }),
        Case(
            field: "spec.isolated", before: "bridge: BRIDGE\nsubnet: 10.61.0.0/24\nisolated: false",
            after: "bridge: BRIDGE\nsubnet: 10.61.0.0/24\nisolated: true",
            applied: { (bench: Bench) throws in #expect(try bench.isolated() == true) },
            behindBack: { (bench: Bench) throws in try bench.run(["/usr/sbin/bridge", "link", "set", "dev", bench.port, "isolated", "off"]) }),
        // Renamed behind berth's back: the bridge is made again under its
        // name, the container moves back to it, the renamed one goes.
        Case(
            field: "spec.bridge", before: "bridge: BRIDGE\nsubnet: 10.61.0.0/24", after: "bridge: OTHER\nsubnet: 10.61.0.0/24",
            applied: { (bench: Bench) throws in
                #expect(bench.link(bench.bridge) == nil)
                #expect(try bench.addresses(bench.other) == ["10.61.0.1/24"])
                #expect(bench.link(bench.port)?["master"] as? String == bench.other)
            },
            behindBack: { (bench: Bench) throws in
                try bench.run(["/usr/sbin/ip", "link", "set", "dev", bench.other, "down"])
                try bench.run(["/usr/sbin/ip", "link", "set", "dev", bench.other, "name", bench.bridge])
            }),
    ]

    @Test(arguments: NetworkContractTests.cases)
    func liveNetworkFieldChangesTheBridgeWithoutARestartAndItsDriftIsRepaired(_ field: Case) throws {
        let bench = try Bench()
        defer { #expect(bench.tearDown() == []) }
        try bench.write(field.before, addresses: field.addresses)
        let first = try bench.berth("apply")
        #expect(first.code == 0, "\(first.output)")
        let pid = try #require(bench.pid())
        let settled = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(settled.code == 0, "\(settled.output)")

        try bench.write(field.after, addresses: field.addresses)
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(
            plan.code == 2 && plan.output.contains("update-live Network/\(Bench.network)") && plan.output.contains(field.field),
            "\(plan.output)")
        let apply = try bench.berth("apply")
        #expect(apply.code == 0, "\(apply.output)")
        try field.applied(bench)
        #expect(bench.pid() == pid, "changed live, not restarted")
        let again = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(again.code == 0 && again.output.contains("No changes"), "\(field): \(again.output)")

        try field.behindBack(bench)
        let drift = try bench.berth("drift", ["--detailed-exitcode", "--output", "json"])
        #expect(
            drift.code == 2 && drift.output.contains(field.driftField ?? field.field) && drift.output.contains("\"origin\" : \"drift\""),
            "\(drift.output)")
        let repair = try bench.berth("apply")
        #expect(repair.code == 0, "\(repair.output)")
        try field.applied(bench)
        let quiet = try bench.berth("drift", ["--detailed-exitcode"])
        #expect(quiet.code == 0, "\(quiet.output)")
        #expect(bench.pid() == pid)
    }

    /// A network's `mtu` reaches both ends of its containers' veths: at
    /// creation, live when it changes (same init), and when an admin changes
    /// the container's interface inside, apply puts it back.
    @Test func theContainersInterfacesHaveTheNetworksMTU() throws {
        let bench = try Bench()
        defer { #expect(bench.tearDown() == []) }
        /// eth0's MTU as `ip -j link` inside the container's namespace shows it.
        func inside() throws -> Int? {
            let initPID = try #require(bench.pid())
            return try bench.json(["/usr/bin/nsenter", "-t", "\(initPID)", "-n", "/usr/sbin/ip", "-j", "link", "show", "dev", "eth0"]).first?[
                "mtu"] as? Int
        }
        try bench.write("bridge: BRIDGE\nsubnet: 10.61.0.0/24\nmtu: 1400")
        let first = try bench.berth("apply")
        #expect(first.code == 0, "\(first.output)")
        let pid = try #require(bench.pid())
        #expect(try inside() == 1400)
        #expect(bench.link(bench.port)?["mtu"] as? Int == 1400)
        #expect(bench.link(bench.bridge)?["mtu"] as? Int == 1400)
        let settled = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(settled.code == 0 && settled.output.contains("No changes"), "\(settled.output)")

        try bench.write("bridge: BRIDGE\nsubnet: 10.61.0.0/24\nmtu: 1450")
        let plan = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(plan.code == 2 && plan.output.contains("spec.mtu") && plan.output.contains("spec.networks[0].mtu"), "\(plan.output)")
        let apply = try bench.berth("apply")
        #expect(apply.code == 0, "\(apply.output)")
        #expect(try inside() == 1450)
        #expect(bench.link(bench.port)?["mtu"] as? Int == 1450)
        #expect(bench.link(bench.bridge)?["mtu"] as? Int == 1450)
        #expect(bench.pid() == pid, "changed live, not restarted")
        let again = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(again.code == 0 && again.output.contains("No changes"), "\(again.output)")

        try bench.run(["/usr/bin/nsenter", "-t", "\(pid)", "-n", "/usr/sbin/ip", "link", "set", "dev", "eth0", "mtu", "1300"])
        let drift = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(drift.code == 2 && drift.output.contains("spec.networks[0].mtu"), "\(drift.output)")
        let repair = try bench.berth("apply")
        #expect(repair.code == 0, "\(repair.output)")
        #expect(try inside() == 1450)
        #expect(bench.pid() == pid)
        let quiet = try bench.berth("plan", ["--detailed-exitcode"])
        #expect(quiet.code == 0 && quiet.output.contains("No changes"), "\(quiet.output)")
    }
}
