import Foundation
import Kernel
import Logging
import Netlink
import Runtime
import Testing

/// plan → apply → plan (nothing) → drift → apply → prune, on the bundled
/// manifests, through the berth binary.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct ReconcileCLITests {
    static let manifests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("manifests").path

    @Test func applyConvergesIsIdempotentRepairsDriftAndPrunes() throws {
        let host = try TestHost()
        defer {
            for bridge in ["br-front", "br-edge"] { try? RouteNetlink().deleteLink(bridge) }
            #expect(host.tearDown() == [])
        }
        let global = ReconcileCLITests.global(host)
        func berth(_ command: String, _ arguments: [String]) throws -> (code: Int32, output: String) {
            let result = try Spawn.run([ContainerCLITests.binary, command] + global + arguments)
            return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
        }
        let manifests = ReconcileCLITests.manifests

        let plan = try berth("plan", ["--detailed-exitcode", manifests])
        #expect(plan.code == 2)
        #expect(plan.output.contains("create Container/web1"))
        #expect(plan.output.contains("Sysctl/net.ipv4.conf.br-edge.forwarding value: absent → 1"), "\(plan.output)")
        #expect(try berth("apply", [manifests]).code == 0)
        #expect(host.runtime.list().filter { if case .running = $0.status { return true } else { return false } }.count == 3)

        // The port forward from the host reaches edge-web through the NAT table.
        var page = ""
        for _ in 0..<20 where !page.contains("hello from edge-web") {
            page = String(decoding: try Spawn.run(["/bin/busybox", "wget", "-q", "-O", "-", "http://10.89.0.1:8080/"]).output, as: UTF8.self)
            if !page.contains("hello from edge-web") { usleep(200_000) }
        }
        #expect(page.contains("hello from edge-web"))
        // Each network's own table: edge's holds its forward, masquerade and isolation.
        let table = "berth_" + String(host.parent.map { $0.isLetter || $0.isNumber ? $0 : "_" }) + "-edge"
        // Checked through libnftables: Debian's nftables package would enable a
        // service that flushes the host's ruleset, so the project does not install it.
        #expect(try NFTables().tableExists(family: "inet", name: table))
        #expect(try NFTablesNetlink.tableExists(family: NFTablesNetlink.familyINET, name: table))
        #expect(!(try NFTablesNetlink.tableExists(family: NFTablesNetlink.familyINET, name: table + "_none")))

        // Labels are recorded at the create: list selects by them.
        #expect(try berth("list", ["-q", "-l", "app=web"]).output == "web1\nweb2\n")
        #expect(try berth("list", ["-q", "-l", "app=edge", "-l", "app=web"]).output == "")

        // A second apply has nothing to do and writes nothing.
        #expect(try berth("plan", ["--detailed-exitcode", manifests]).code == 0)
        #expect(try berth("apply", [manifests]).output.contains("No changes"))
        #expect(try berth("drift", ["--detailed-exitcode", manifests]).code == 0)

        // Drift made outside berth is reported, then corrected live.
        let record = try #require(host.runtime.state.load("web1"))
        var lowered = CgroupLimits()
        lowered.memoryMax = 64 << 20
        lowered.pidsMax = 256
        lowered.cpuQuotaMicros = 50_000
        _ = try host.runtime.cgroups.apply(lowered, to: try CgroupPath(record.cgroup))
        let drift = try berth("drift", ["--detailed-exitcode", "--output", "json", manifests])
        #expect(drift.code == 2)
        #expect(drift.output.contains("spec.resources.memory.max"))
        let pid = record.pid
        #expect(try berth("apply", [manifests]).output.contains("update-live Container/web1"))
        #expect(try berth("drift", ["--detailed-exitcode", manifests]).code == 0)
        #expect(host.runtime.state.load("web1")?.pid == pid)  // changed live, not restarted

        // Network drift made outside berth: an address deleted inside web1, a
        // stray one added to web2, the front bridge set down. All reported,
        // all repaired live (the containers keep their init).
        let web1 = try #require(pid)
        let web2 = try #require(host.runtime.state.load("web2")?.pid)
        func ip(_ pid: Int32, _ arguments: [String]) throws {
            _ = try Spawn.run(["/usr/bin/nsenter", "-t", "\(pid)", "-n", "/usr/sbin/ip"] + arguments)
        }
        try ip(web1, ["addr", "del", "10.88.0.11/24", "dev", "eth0"])
        try ip(web2, ["addr", "add", "10.88.0.99/24", "dev", "eth0"])
        _ = try Spawn.run(["/usr/sbin/ip", "link", "set", "br-front", "down"])
        let networkDrift = try berth("drift", ["--detailed-exitcode", manifests])
        #expect(networkDrift.code == 2)
        for field in ["spec.networks[0].addresses", "spec.networks.defaultRoute", "bridge.state"] {
            #expect(networkDrift.output.contains(field), "\(networkDrift.output)")
        }
        #expect(networkDrift.output.contains("10.88.0.99/24"))
        #expect(try berth("apply", [manifests]).code == 0)
        #expect(try berth("drift", ["--detailed-exitcode", manifests]).code == 0)
        #expect(host.runtime.state.load("web1")?.pid == web1 && host.runtime.state.load("web2")?.pid == web2)
        var answer = ""
        for _ in 0..<20 where !answer.contains("web1") {
            answer = String(
                decoding: try Spawn.run(["/usr/bin/timeout", "5", "/bin/busybox", "wget", "-q", "-O", "-", "http://10.88.0.11/"]).output,
                as: UTF8.self)
            if !answer.contains("web1") { usleep(200_000) }
        }
        #expect(answer.contains("web1"), "\(answer)")

        // Rules edited behind berth's back: edge-web's own table loses its
        // rules, the NAT table its port forwards. Both show; the NAT table
        // comes back, edge-web's table stays as it is (its policy is warn:
        // report only).
        let edge = try #require(host.runtime.state.load("edge-web")?.pid)
        let edgeNamespace = try Syscall.open("/proc/\(edge)/ns/net", O_RDONLY)
        defer { Syscall.close(edgeNamespace) }
        try NFTables.run("flush chain inet berth input", inNetworkNamespace: edgeNamespace)
        try NFTables().run("flush chain inet \(table) prerouting")
        try Syscall.writeValue("0", to: "/proc/sys/net/ipv4/conf/br-edge/forwarding", allowingSpaces: false)
        let ruleDrift = try berth("drift", ["--detailed-exitcode", manifests])
        #expect(ruleDrift.code == 2)
        #expect(ruleDrift.output.contains("spec.firewall") && ruleDrift.output.contains("Ruleset/edge"), "\(ruleDrift.output)")
        #expect(ruleDrift.output.contains("Sysctl/net.ipv4.conf.br-edge.forwarding"))
        #expect(try berth("apply", [manifests]).code == 0)
        let afterRules = try berth("drift", ["--output", "json", manifests]).output
        #expect(afterRules.contains("spec.firewall") && afterRules.contains("warn") && !afterRules.contains("Ruleset/edge"), "\(afterRules)")
        #expect(!(try NFTables.run("list chain inet berth input", inNetworkNamespace: edgeNamespace).contains("dport 80")))
        #expect(try NFTables().run("list chain inet \(table) prerouting").contains("dnat"))
        #expect(NetworkRuleset.forwarding("br-edge") == true)

        // Prune refuses an empty set unless told, then removes what the
        // source (the manifests directory, emptied) applied.
        let empty = host.root + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(try berth("apply", ["--prune", "--source", manifests, empty]).code != 0)
        #expect(try berth("apply", ["--prune", "--allow-empty", "--source", manifests, empty]).code == 0)
        #expect(host.runtime.state.names().isEmpty)
        // Teardown leaves no bridge behind: berth deletes the ones it created.
        let links = try RouteNetlink().links().map(\.name)
        #expect(!links.contains("br-front") && !links.contains("br-edge"), "\(links)")
        #expect(!(try NFTables().tableExists(family: "ip", name: table)))
        #expect(!(try NFTablesNetlink.tableExists(family: NFTablesNetlink.familyIP, name: table)))
    }

    /// Another root filesystem is a replace: reported, and done only with --replace.
    @Test func anotherRootfsIsReplacedOnlyWhenAsked() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let berth = ReconcileCLITests.cli(host)
        let manifest = host.root + "/m/r.yaml"
        try FileManager.default.createDirectory(atPath: host.root + "/m", withIntermediateDirectories: true)
        func write(rootfs: String) throws {
            try """
            apiVersion: berth/v1
            kind: Container
            metadata: {name: rep1}
            spec:
              rootfs: {\(rootfs)}
              init: {command: ["/bin/sleep", "3619"]}
              stopTimeout: 200ms

            """.write(toFile: manifest, atomically: true, encoding: .utf8)
        }
        try write(rootfs: "template: busybox")
        #expect(try berth(["apply", manifest]).code == 0)
        let before = try #require(host.runtime.state.load("rep1")?.pid)
        let tree = try host.runtime.templates.path(of: "busybox", logger: Logger(label: "test"))
        try write(rootfs: "directory: \(tree)")
        #expect(try berth(["plan", manifest]).output.contains("replace Container/rep1 spec.rootfs"))
        let kept = try berth(["apply", manifest])
        #expect(kept.output.contains("skipped (pass --replace)"), "\(kept.output)")
        #expect(host.runtime.state.load("rep1")?.pid == before)
        let replaced = try berth(["apply", "--replace", manifest])
        #expect(replaced.code == 0 && replaced.output.contains("replaced"), "\(replaced.output)")
        let record = try #require(host.runtime.state.load("rep1"))
        #expect(record.pid != nil && record.pid != before && record.lower == tree)
        #expect(try berth(["plan", "--detailed-exitcode", manifest]).code == 0)
    }

    /// Creates run side by side: one that fails (a CPU set the host does
    /// not have) stops none of the others, each has its own outcome, and
    /// the teardown (prune) deletes them side by side too.
    @Test func oneFailingCreateAmongManyStopsNoneOfTheOthers() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let berth = ReconcileCLITests.cli(host)
        let manifest = host.root + "/m/many.yaml"
        try FileManager.default.createDirectory(atPath: host.root + "/m", withIntermediateDirectories: true)
        let names = (0..<8).map { "par\($0)" }
        try names.map { name in
            """
            apiVersion: berth/v1
            kind: Container
            metadata: {name: \(name)}
            spec:
              rootfs: {template: busybox}
              init: {command: ["/bin/sleep", "3619"]}
              resources: {memory: {max: 16Mi}, pids: {max: 16}\(name == "par3" ? ", cpu: {cpus: \"63\"}" : "")}

            """
        }.joined(separator: "---\n").write(toFile: manifest, atomically: true, encoding: .utf8)

        let apply = try berth(["apply", "-o", "json", manifest])
        #expect(apply.code == 1, "\(apply.output)")
        let outcomes = try #require(try JSONSerialization.jsonObject(with: Data(apply.output.utf8)) as? [[String: Any]])
        let creates = outcomes.filter { $0["kind"] as? String == "create" }
        #expect(creates.count == 8)
        let failed = creates.filter { $0["result"] as? String == "failed" }.compactMap { $0["object"] as? String }
        #expect(failed == ["Container/par3"], "\(apply.output)")
        #expect(creates.filter { $0["result"] as? String == "applied" }.count == 7)
        #expect(creates.allSatisfy { $0["finishedMs"] is NSNumber && $0["durationUs"] is NSNumber })
        let running = host.runtime.list().filter { if case .running = $0.status { return true } else { return false } }
        #expect(Set(running.map(\.record.name)) == Set(names).subtracting(["par3"]))
        #expect(host.runtime.state.load("par3").map { host.runtime.isRunning($0) } != true)

        // The teardown: every container goes, each with its outcome.
        try "# nothing\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let prune = try berth(["apply", "--prune", "--allow-empty", "-o", "json", manifest])
        #expect(prune.code == 0, "\(prune.output)")
        let deletes = try #require(try JSONSerialization.jsonObject(with: Data(prune.output.utf8)) as? [[String: Any]])
            .filter { $0["kind"] as? String == "delete" }
        #expect(deletes.count >= 7 && deletes.allSatisfy { $0["result"] as? String == "applied" }, "\(prune.output)")
        #expect(host.runtime.state.names().isEmpty)
    }

    /// An apply while another process (the agent's pass, another apply)
    /// holds the run lock: with `--lock-timeout 0s` it is refused at once,
    /// naming the holder; by default it waits, says so, and goes on when
    /// the lock is let go.
    @Test func anApplyWaitsForTheRunLockUpToItsTimeout() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        try FileManager.default.createDirectory(atPath: host.root + "/run", withIntermediateDirectories: true)
        var held: RunLock? = try RunLock(path: host.root + "/run/berth.lock")
        #expect(held != nil)

        let global = ReconcileCLITests.global(host)
        let result = try Spawn.run(
            [ContainerCLITests.binary, "apply"] + global + ["--prune", "--yes", "--lock-timeout", "0s"], mergingStandardError: true)
        let refused = ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
        #expect(refused.0 == 1, "\(refused.1)")
        #expect(refused.1.contains("is held by pid \(getpid()): another berth apply or agent is running"), "\(refused.1)")
        #expect(!refused.1.contains("waiting"), "\(refused.1)")

        // The default (30s): it waits, and applies once the lock is let go.
        let output = host.root + "/waiting.out"
        let waiting = try Child(held: "exec \(ContainerCLITests.binary) apply \(global.joined(separator: " ")) --prune --yes > \(output) 2>&1")
        defer { waiting.kill() }
        waiting.release()
        #expect(eventually(seconds: 10) { (try? String(contentsOfFile: output, encoding: .utf8))?.contains("waiting up to 30s") == true })
        #expect(waiting.wait(timeoutSeconds: 1) == nil, "it still waits")
        held = nil
        let status = waiting.wait(timeoutSeconds: 30)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(status.map { ($0 >> 8) & 0xff } == 0, "\(text)")
        #expect(text.contains("note: waiting up to 30s for the run lock: pid \(getpid()) holds it"), "\(text)")
    }

    /// The global options of `host`'s instance.
    static func global(_ host: TestHost) -> [String] {
        ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
    }

    /// `berth COMMAND ARGUMENTS...` of `host`'s instance: exit code and output.
    static func cli(_ host: TestHost) -> ([String]) throws -> (code: Int32, output: String) {
        let global = ReconcileCLITests.global(host)
        return { arguments in
            let result = try Spawn.run([ContainerCLITests.binary] + arguments.prefix(1) + global + arguments.dropFirst())
            return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
        }
    }
}
