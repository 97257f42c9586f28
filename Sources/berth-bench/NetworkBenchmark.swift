import Foundation
import Kernel
import Logging
import Model
import Netlink
import Runtime

/// Network set-up per container (veth with its peer created in the
/// container's namespace, address, lo, default route) and how it scales to
/// 1000 containers on one bridge; iproute2 doing the same steps, in the same
/// run, is the anchor (what a shell hook or a script-driven runtime runs).
func networkBenchmark() throws {
    let environment = ProcessInfo.processInfo.environment
    let count = Int(environment["BERTH_BENCH_NETWORK_CONTAINERS"] ?? "") ?? 1000
    let samples = Int(environment["BERTH_BENCH_ITERATIONS"] ?? "") ?? 20
    // The run dir on a tmpfs, as /run is on a production host.
    let host = try BenchHost("network", runStateOnTmpfs: true)
    defer { host.cleanUp() }
    // 0. Through the binary, while the state dir holds nothing else.
    let berth = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("berth").path
    // Both drivers: a macvlan network has no host end per container.
    let applyLines =
        try networkedApplyBenchmark(host, berth: berth, samples: samples, driver: "bridge")
        + networkedApplyBenchmark(host, berth: berth, samples: samples, driver: "macvlan")
    var spec = NetworkSpec(subnet: try CIDR(parsing: "10.90.0.0/21"))
    spec.bridge = "br-bench"
    let network = NetworkObject(
        metadata: ObjectMeta(name: "bench"), spec: spec.resolved(name: "bench"), source: SourceLocation(file: "bench", line: 1, column: 1))
    defer { try? RouteNetlink().deleteLink("br-bench") }
    let attacher = NetworkAttacher(logger: host.runtime.logger)
    try attacher.ensureBridge(network, netlink: try RouteNetlink())

    func address(_ index: Int) throws -> CIDR {
        try CIDR(parsing: "10.90.\(index / 250).\(index % 250 + 2)", requirePrefix: false)
    }
    func networked(_ name: String, _ index: Int) throws -> ContainerObject {
        let attachment = ContainerConfig.Attachment(network: "bench", addresses: [try address(index)], interface: "eth0", defaultRoute: true)
        return host.container(name, ["/bin/sleep", "3600"]) { $0.networks = [attachment] }
    }

    // 1. One networked container ready, against the same container without a network.
    var plain: [Double] = []
    var withNetwork: [Double] = []
    for index in 0..<samples {
        plain.append(try Stopwatch.seconds { _ = try host.runtime.start(host.container("p\(index)", ["/bin/sleep", "3600"])) })
        withNetwork.append(try Stopwatch.seconds { _ = try host.runtime.start(try networked("n\(index)", 1000 + index), networks: [network]) })
    }
    for index in 0..<samples {
        try host.runtime.delete("p\(index)")
        try host.runtime.delete("n\(index)")
    }

    let emptyBridge = try stepBreakdown(host, network, name: "s0", address: try address(1990))

    // 2. Set-up alone, container after container on one bridge: each
    // container starts without a network, then its network is attached
    // (the same code path as at start) and only that is timed.
    var perContainer: [Double] = []
    for index in 0..<count {
        let record = try host.runtime.start(host.container("c\(index)", ["/bin/sleep", "3600"]))
        guard let pid = record.pid else { throw BenchError("c\(index) did not start") }
        let container = try networked("c\(index)", index)
        perContainer.append(
            try Stopwatch.seconds { try attacher.attach(pid: pid, container: container, networks: ["bench": network]) })
    }

    let fullBridge = try stepBreakdown(host, network, name: "s1", address: try address(1991))

    // 3. The anchor: iproute2 commands doing the same steps for a few more
    // containers on the same (full) bridge.
    var iproute: [Double] = []
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.fileExists(atPath: $0) }
    if let ip {
        for index in 0..<samples {
            let record = try host.runtime.start(host.container("i\(index)", ["/bin/sleep", "3600"]))
            guard let pid = record.pid else { throw BenchError("i\(index) did not start") }
            let veth = "vbi\(index)"
            let addressText = "\(try address(count + index).address)/21"
            let commands = [
                [ip, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", "\(pid)"],
                [ip, "link", "set", veth, "master", "br-bench", "up"],
                ["/usr/bin/nsenter", "-t", "\(pid)", "-n", ip, "addr", "add", addressText, "dev", "eth0"],
                ["/usr/bin/nsenter", "-t", "\(pid)", "-n", ip, "link", "set", "eth0", "up"],
                ["/usr/bin/nsenter", "-t", "\(pid)", "-n", ip, "route", "add", "default", "via", "10.90.0.1"],
            ]
            iproute.append(
                try Stopwatch.seconds {
                    for command in commands where !(try Spawn.run(command)).exitedCleanly {
                        throw BenchError("\(command.joined(separator: " ")) failed")
                    }
                })
        }
    }

    print(
        "berth-bench network: \(count) containers on one bridge (veth into the namespace, address, lo, default route);"
            + " run dir on the tmpfs \(host.runState ?? host.root), state dir on disk")
    print(String(format: "  networked container ready (start, in process)  %7.2f ms median", Stopwatch.median(withNetwork) * 1000))
    print(String(format: "  the same container without a network           %7.2f ms median", Stopwatch.median(plain) * 1000))
    for line in applyLines { print(line) }
    let setup = Stopwatch.median(Array(perContainer.prefix(samples)))
    print(String(format: "  network set-up alone (berth, rtnetlink), first %d   %7.2f ms median", samples, setup * 1000))
    if !iproute.isEmpty {
        // Both on a bridge that already has `count` ports.
        let full = Stopwatch.median(Array(perContainer.suffix(samples)))
        let anchor = Stopwatch.median(iproute)
        print(String(format: "  network set-up alone (berth, rtnetlink), last %d    %7.2f ms median", samples, full * 1000))
        print(String(format: "  the same steps with iproute2 (5 commands), after   %7.2f ms median  → berth %.2fx", anchor * 1000, full / anchor))
    }
    print("  set-up time per container as the bridge fills (mean of the 10 before each mark):")
    for mark in [1, 100, 500, 1000] where mark <= count {
        print(String(format: "    #%-5d %7.3f ms", mark, Stopwatch.mean(perContainer[max(0, mark - 10)..<mark]) * 1000))
    }
    if count >= 200 {
        let first = Stopwatch.mean(perContainer[0..<100])
        let last = Stopwatch.mean(perContainer[(count - 100)..<count])
        print(String(format: "  last hundred / first hundred: %.2fx (target at most 1.2x); one networked container ready: target 5 ms", last / first))
    }
    print("  where the time goes, on an empty bridge and with \(count) ports (µs):")
    for ((step, empty), (_, full)) in zip(emptyBridge, fullBridge) {
        print(String(format: "    %@ %8.0f %8.0f", step.padding(toLength: 44, withPad: " ", startingAt: 0), empty * 1e6, full * 1e6))
    }
    let teardown = Stopwatch.seconds { host.cleanUp() }
    print(String(format: "  teardown of all %d (namespaces let go): %.2f s", count + samples, teardown))
}

/// The attach of one container, step by step (the same requests as
/// NetworkAttacher.converge makes), each timed.
func stepBreakdown(_ host: BenchHost, _ network: NetworkObject, name: String, address: CIDR) throws -> [(String, Double)] {
    let record = try host.runtime.start(host.container(name, ["/bin/sleep", "3600"]))
    guard let pid = record.pid else { throw BenchError("\(name) did not start") }
    let netlink = try RouteNetlink()
    let hostName = NetworkAttacher.hostInterfaceName(container: name, network: network.metadata.name)
    let attacher = NetworkAttacher(logger: host.runtime.logger)
    let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
    defer { Syscall.close(namespaceFD) }
    var inside: RouteNetlink?
    var bridge: Int32 = 0
    let cidr = CIDR(address: address.address, prefixLength: network.spec.subnet.prefixLength)
    let steps: [(String, () throws -> Void)] = [
        ("netlink socket in the namespace (C thread)", { inside = RouteNetlink(transport: try NetlinkSocket(networkNamespaceFD: namespaceFD)) }),
        (
            "dump links and addresses inside",
            {
                _ = try inside?.links(); _ = try inside?.addresses()
            }
        ),
        ("bridge checked (get + its addresses)", { bridge = try attacher.ensureBridge(network, netlink: netlink) }),
        ("host end looked up by name", { _ = try netlink.link(named: hostName) }),
        ("veth created, peer in the namespace", { try netlink.createVeth(hostName, peer: "eth0", peerNamespaceFD: namespaceFD) }),
        ("IPv6 off on the host end (sysctl)", { try NetworkAttacher.disableIPv6(onPort: hostName) }),
        ("host end made a port of the bridge", { try netlink.setLink(named: hostName, master: bridge) }),
        ("address added inside", { try inside?.addAddress(cidr, to: "eth0") }),
        ("eth0 up inside", { try inside?.setLink(named: "eth0", up: true) }),
        ("host end up (carrier on)", { try netlink.setLink(named: hostName, up: true) }),
        (
            "default route added inside",
            {
                _ = try inside?.defaultRoutes(); try inside?.addDefaultRoute(via: network.spec.gateway, replace: true)
            }
        ),
    ]
    return try steps.map { step, body in (step, try Stopwatch.seconds(body)) }
}
