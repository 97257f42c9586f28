import Foundation
import Kernel
import Netlink
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// berth killed with SIGKILL at every failpoint of a create, an update and a
/// delete; the next apply converges and nothing is left behind once the
/// manifests are gone.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct CrashConvergenceTests {
    static let networks = """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: kfront}
        spec: {subnet: 10.83.0.0/24, bridge: br-kfront}
        ---
        apiVersion: berth/v1
        kind: Network
        metadata: {name: kedge}
        spec:
          subnet: 10.84.0.0/24
          bridge: br-kedge
          nat: true
          portForwards: [{protocol: tcp, hostPort: 18080, container: kweb2, containerPort: 80}]

        """

    static func containers(memory: String, addresses: String) -> String {
        """
        apiVersion: berth/v1
        kind: Container
        metadata: {name: kweb1}
        spec:
          rootfs: {template: busybox}
          init: {command: ["/bin/sleep", "3617"]}
          resources: {memory: {max: \(memory)}, pids: {max: 64}}
          networks: [{network: kfront, addresses: [\(addresses)]}]
        ---
        apiVersion: berth/v1
        kind: Container
        metadata: {name: kweb2}
        spec:
          rootfs: {template: busybox}
          init: {command: ["/bin/sleep", "3618"]}
          networks: [{network: kedge, addresses: [10.84.0.12]}]
          firewall:
            defaultPolicy: drop
            rules: [{action: allow, protocol: tcp, port: 80}]

        """
    }

    enum Phase { case create, update, delete }

    static func phase(_ point: Failpoint) -> Phase {
        switch point {
        case .resourcesWritten, .networksConverged: return .update
        case .containerStopped, .runFilesRemoved, .containerTrashed, .bridgeDeleted: return .delete
        default: return .create
        }
    }

    @Test(arguments: Failpoint.allCases)
    func killedAtEveryStepConvergesAndLeavesNothing(point: Failpoint) throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        defer { for bridge in ["br-kfront", "br-kedge"] { try? RouteNetlink().deleteLink(bridge) } }
        let files = FileManager.default
        func directory(_ name: String, _ documents: [String]) throws -> String {
            let path = host.root + "/" + name
            try files.createDirectory(atPath: path, withIntermediateDirectories: true)
            for (index, text) in documents.enumerated() { try text.write(toFile: "\(path)/\(index).yaml", atomically: true, encoding: .utf8) }
            return path
        }
        let first = try directory("v1", [CrashConvergenceTests.networks, CrashConvergenceTests.containers(memory: "64Mi", addresses: "10.83.0.11")])
        let second = try directory(
            "v2", [CrashConvergenceTests.networks, CrashConvergenceTests.containers(memory: "96Mi", addresses: "10.83.0.11, 10.83.0.21")])
        let empty = try directory("empty", [])
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        func berth(_ arguments: [String], failpoint: Failpoint? = nil) throws -> Spawn.Result {
            let environment = ["/usr/bin/env"] + (failpoint.map { ["BERTH_FAILPOINT=\($0.rawValue)"] } ?? [])
            // v1, v2 and the empty set are versions of one source.
            return try Spawn.run(environment + [ContainerCLITests.binary, arguments[0]] + global + ["--source", "crash"] + arguments.dropFirst())
        }
        func converged(_ arguments: [String]) throws {
            let applied = try berth(["apply"] + arguments)
            #expect(applied.exitedCleanly, "\(point.rawValue): \(String(decoding: applied.output, as: UTF8.self))")
            let plan = try berth(["plan", "--detailed-exitcode"] + arguments.filter { $0 != "--allow-empty" })
            #expect(plan.exitedCleanly, "\(point.rawValue): \(String(decoding: plan.output, as: UTF8.self))")
        }

        let (setUp, target): ([String]?, [String])
        switch CrashConvergenceTests.phase(point) {
        case .create: (setUp, target) = (nil, [first])
        case .update: (setUp, target) = ([first], [second])
        case .delete: (setUp, target) = ([first], ["--prune", "--allow-empty", empty])
        }
        if let setUp { try converged(setUp) }
        let killed = try berth(["apply"] + target, failpoint: point)
        #expect(killed.status & 0x7f == SIGKILL, "\(point.rawValue) was not reached: \(String(decoding: killed.output, as: UTF8.self))")
        let state = host.runtime.state
        if point == .networkRecordRenaming {
            // The temp file is there, and it is no network.
            #expect(CrashConvergenceTests.files(state.networksDirectory).contains(where: Syscall.isTemporaryName))
            #expect(state.recordedNetworks().keys.allSatisfy { ["kfront", "kedge"].contains($0) }, "\(state.recordedNetworks())")
        }
        try converged(target)
        // Each bridge berth made carries its mark again (a kill between the
        // create and the alias left it unmarked).
        let links = try RouteNetlink()
        for (network, bridge) in [("kfront", "br-kfront"), ("kedge", "br-kedge")] {
            guard let link = try links.link(named: bridge) else { continue }
            #expect(link.alias == NetworkAttacher.ownerAlias(cgroupParent: host.parent, network: network), "\(point.rawValue): \(bridge)")
        }
        if CrashConvergenceTests.phase(point) == .update {
            let record = try #require(host.runtime.state.load("kweb1"))
            let limits = try host.runtime.cgroups.observe(try CgroupPath(record.cgroup)).limits
            #expect(limits.memoryMax == 96 << 20)
        }

        // Everything removed through berth, then nothing of it is left:
        // the trash too, once the emptier apply started is done (it holds
        // the trash lock from before apply returns).
        try converged(["--prune", "--allow-empty", empty])
        #expect(host.runtime.state.names().isEmpty)
        let trash = host.runtime.trash
        if let lock = trash.lock(wait: true) { withExtendedLifetime(lock) {} }
        #expect(trash.isEmpty, "\(point.rawValue): trash left: \(trash.entries())")
        #expect(host.runtime.state.recordedNetworks().isEmpty)
        // No temp file a killed write left behind either.
        let left = CrashConvergenceTests.files(state.networksDirectory) + CrashConvergenceTests.files(state.inventoriesDirectory)
        #expect(left.isEmpty, "\(point.rawValue): state files left: \(left)")
        let netlink = try RouteNetlink()
        for name in ["br-kfront", "br-kedge"] + [("kweb1", "kfront"), ("kweb2", "kedge")].map(NetworkAttacher.hostInterfaceName) {
            #expect(try netlink.link(named: name) == nil, "\(point.rawValue): link \(name) left")
        }
        for network in ["kfront", "kedge"] {
            #expect(!(try NFTables().tableExists(family: "inet", name: NetworkRuleset.tableName(cgroupParent: host.parent, network: network))))
        }
        for name in ["kweb1", "kweb2"] {
            #expect(!host.runtime.cgroups.exists(try CgroupPath(host.parent).appending(name)), "\(point.rawValue): cgroup \(name) left")
        }
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        #expect(!mounts.contains(host.root), "\(point.rawValue): mounts left")
        #expect(CrashConvergenceTests.processes(containing: ["3617", "3618"]).isEmpty, "\(point.rawValue): processes left")
    }

    /// The state dir is lost while containers run: the next apply adopts
    /// them (same init, no restart), and a prune still finds what berth owns
    /// (containers by their cgroup under berth's parent, bridges by alias).
    @Test func lostStateDirIsAdoptedNotRestartedAndStillPruned() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        defer { for bridge in ["br-kfront", "br-kedge"] { try? RouteNetlink().deleteLink(bridge) } }
        let manifests = host.root + "/m"
        let empty = host.root + "/empty"
        for path in [manifests, empty] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        try (CrashConvergenceTests.networks + "---\n" + CrashConvergenceTests.containers(memory: "64Mi", addresses: "10.83.0.11"))
            .write(toFile: manifests + "/all.yaml", atomically: true, encoding: .utf8)
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        func berth(_ arguments: [String]) throws -> (code: Int32, output: String) {
            let result = try Spawn.run([ContainerCLITests.binary, arguments[0]] + global + arguments.dropFirst())
            return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
        }
        #expect(try berth(["apply", manifests]).code == 0)
        let pids = try ["kweb1", "kweb2"].map { try #require(host.runtime.state.load($0)?.pid) }

        // The state dir goes (a reinstall, a wiped disk); the containers keep running.
        try FileManager.default.removeItem(atPath: host.root + "/state")
        let plan = try berth(["plan", manifests])
        #expect(plan.output.contains("adopt Container/kweb1") && plan.output.contains("adopt Container/kweb2"), "\(plan.output)")
        #expect(!plan.output.contains("create Container"))
        #expect(try berth(["apply", manifests]).code == 0)
        #expect(try ["kweb1", "kweb2"].map { try #require(host.runtime.state.load($0)?.pid) } == pids)
        #expect(try berth(["plan", "--detailed-exitcode", manifests]).code == 0)

        // Lost again (the inventories with it), then everything pruned:
        // containers and bridges berth made are found and removed.
        try FileManager.default.removeItem(atPath: host.root + "/state")
        let prune = try berth(["apply", "--prune", "--yes"])
        #expect(prune.code == 0, "\(prune.output)")
        #expect(prune.output.contains("delete Container/kweb1") && prune.output.contains("delete Network/kfront"), "\(prune.output)")
        let netlink = try RouteNetlink()
        #expect(try netlink.link(named: "br-kfront") == nil && netlink.link(named: "br-kedge") == nil)
        #expect(CrashConvergenceTests.processes(containing: ["3617", "3618"]).isEmpty)
        for network in ["kfront", "kedge"] {
            #expect(!(try NFTables().tableExists(family: "inet", name: NetworkRuleset.tableName(cgroupParent: host.parent, network: network))))
        }
    }

    /// The names in a directory (none when it does not exist).
    static func files(_ directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }

    /// Pids whose command line contains one of `markers`.
    static func processes(containing markers: [String]) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = Int32(entry), let bytes = try? Syscall.readFile("/proc/\(entry)/cmdline", limit: 4096) else { return nil }
            let line = String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return markers.contains { line.contains("sleep \($0)") } ? pid : nil
        }
    }
}
