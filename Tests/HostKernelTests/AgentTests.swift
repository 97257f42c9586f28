import Foundation
import Kernel
import Netlink
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `berth agent` as systemd would run it: a NOTIFY_SOCKET the test listens
/// on, manifests changed the way editors and git change them, drift made
/// behind its back, and signals.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct AgentTests {
    /// One running agent: its pid, what it told the notify socket, its log.
    final class AgentProcess {
        let pid: pid_t
        let notify: DatagramReceiver
        let log: String
        private(set) var messages: [String] = []
        private(set) var status: Int32?

        /// `journal`: events go to the real journald socket (a test's own
        /// journald), else to a path where nothing listens (stderr).
        init(_ host: TestHost, _ arguments: [String], journal: Bool = false) throws {
            notify = try DatagramReceiver(path: host.root + "/notify.sock")
            log = host.root + "/agent.log"
            let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
            var environment = ["NOTIFY_SOCKET": notify.path]
            if !journal { environment["BERTH_JOURNAL_SOCKET"] = host.root + "/no-journald" }
            pid = try Spawn.start([ContainerCLITests.binary, "agent"] + global + arguments, environment: environment, outputPath: log)
        }

        /// Waits until a notification satisfies `predicate` (messages seen
        /// before the call count too when `includingOld`).
        @discardableResult
        func waitFor(seconds: Int = 30, includingOld: Bool = false, _ predicate: (String) -> Bool) -> String? {
            if includingOld, let old = messages.last(where: predicate) { return old }
            let deadline = MonotonicClock.milliseconds() + UInt64(seconds) * 1000
            while MonotonicClock.milliseconds() < deadline {
                guard let datagram = notify.receive(timeoutMilliseconds: 100) else { continue }
                let message = String(decoding: datagram, as: UTF8.self)
                messages.append(message)
                if predicate(message) { return message }
            }
            return nil
        }

        /// Reads what the agent has sent so far, as systemd does (a full
        /// notify socket would block sd_notify).
        func drain() {
            while let datagram = notify.receive(timeoutMilliseconds: 0) { messages.append(String(decoding: datagram, as: UTF8.self)) }
        }

        var isRunning: Bool {
            if status == nil { status = Reaper.poll(pid) }
            return status == nil
        }

        func signal(_ number: Int32) { if isRunning { _ = Glibc.kill(pid, number) } }

        /// Waits (bounded) for the agent to end; its exit code, or nil.
        func exitCode(seconds: Int = 15) -> Int32? {
            for _ in 0..<(seconds * 20) where isRunning { usleep(50_000) }
            guard let status, status & 0x7f == 0 else { return nil }
            return (status >> 8) & 0xff
        }

        func kill() {
            signal(SIGKILL)
            if status == nil { status = Reaper.wait(pid) }
        }

        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    }

    static func manifest(_ name: String, memory: String = "64Mi", restartPolicy: String = "never", command: String = "[/bin/sleep, \"600\"]")
        -> String
    {
        """
        apiVersion: berth/v1
        kind: Container
        metadata: {name: \(name)}
        spec:
          rootfs: {template: busybox}
          init: {command: \(command)}
          restartPolicy: \(restartPolicy)
          resources: {memory: {max: \(memory)}, pids: {max: 64}}

        """
    }

    /// Written to a temp name, then renamed into place, as editors do.
    static func save(_ text: String, to path: String) throws {
        try text.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
        try Syscall.rename(path + ".tmp", path)
    }

    /// git in `directory` as a test user; its output, trimmed.
    @discardableResult
    static func git(_ directory: String, _ arguments: [String]) throws -> String {
        let result = try Spawn.run(
            ["/usr/bin/git", "-c", "user.name=berth test", "-c", "user.email=test@berth.invalid", "-C", directory] + arguments,
            mergingStandardError: true)
        let output = String(decoding: result.output, as: UTF8.self)
        guard result.exitedCleanly else { throw SystemError(call: "git \(arguments.joined(separator: " ")): \(output)", errno: EIO) }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func running(_ host: TestHost) -> [String: Int32] {
        var result: [String: Int32] = [:]
        for entry in host.runtime.list() { if case .running(let pid) = entry.status { result[entry.record.name] = pid } }
        return result
    }

    func memoryMax(_ host: TestHost, _ name: String) -> UInt64? {
        host.runtime.list().first { $0.record.name == name }?.usage?.limits.memoryMax
    }

    /// Lowers c1's memory limit behind berth's back (what an admin's echo would do).
    func makeDrift(_ host: TestHost, _ name: String) throws {
        let record = try #require(host.runtime.state.load(name))
        var lowered = CgroupLimits()
        lowered.memoryMax = 32 << 20
        _ = try host.runtime.cgroups.apply(lowered, to: try CgroupPath(record.cgroup))
        #expect(memoryMax(host, name) == 32 << 20)
    }

    @Test func agentAppliesWatchesKeepsLastGoodStateAndLeavesContainersRunning() throws {
        let host = try TestHost()
        let manifests = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try AgentTests.save(AgentTests.manifest("c1"), to: manifests + "/c1.yaml")
        // A long interval: every pass below comes from inotify or a signal.
        let agent = try AgentProcess(host, ["--manifests", manifests, "--interval", "1h"])
        defer {
            agent.kill()
            #expect(host.tearDown() == [])
        }

        let ready = agent.waitFor(seconds: 90) { $0.contains("READY=1") }
        #expect(ready?.contains("STATUS=reconciled 1 container, 1 change, 0 failures") == true, "\(agent.messages) \(agent.output)")
        #expect(running(host).keys.sorted() == ["c1"])

        // A new manifest saved editor-style is started within a few seconds.
        try "swap".write(toFile: manifests + "/.c2.yaml.swp", atomically: false, encoding: .utf8)
        try AgentTests.save(AgentTests.manifest("c2", restartPolicy: "always"), to: manifests + "/c2.yaml")
        #expect(eventually { running(host)["c2"] != nil }, "\(agent.output)")
        #expect(agent.waitFor { $0.contains("STATUS=reconciled 2 containers") } != nil)

        // An invalid file applies nothing, not even its valid document; the agent keeps running.
        try AgentTests.save(
            AgentTests.manifest("c3") + "---\nkind: Container\nmetadata: {name: c4}\nspec: {memroy: 1}\n", to: manifests + "/bad.yaml")
        let invalid = agent.waitFor { $0.contains("STATUS=manifests invalid") }
        #expect(invalid?.contains("bad.yaml") == true, "\(agent.messages)")
        #expect(agent.isRunning)
        #expect(running(host).keys.sorted() == ["c1", "c2"])
        #expect(agent.output.contains("manifests invalid"))
        try FileManager.default.removeItem(atPath: manifests + "/bad.yaml")
        #expect(agent.waitFor { $0.contains("STATUS=reconciled 2 containers") } != nil)
        #expect(agent.output.contains("manifests valid again"), "\(agent.output)")

        // Idle, the agent holds no lock: an apply runs now and has nothing to do.
        let apply = try Spawn.run(
            [
                ContainerCLITests.binary, "apply", "--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent",
                host.parent, manifests,
            ])
        #expect(apply.exitedCleanly)
        #expect(String(decoding: apply.output, as: UTF8.self).contains("No changes"))

        // An init killed behind berth's back, restartPolicy always: the agent
        // sees the exit through its pidfd and starts the container again at
        // once (the interval is 1h), and counts the restart.
        let killed = try #require(running(host)["c2"])
        _ = Glibc.kill(killed, SIGKILL)
        #expect(eventually { (running(host)["c2"] ?? killed) != killed }, "\(agent.output)")
        #expect(eventually { host.runtime.state.load("c2")?.restarts == 1 })
        #expect(agent.output.contains("restarting"), "\(agent.output)")
        // (Which pass restarts it depends on timing: on a slow machine a pass
        // already running may see it first; the exit is reported either way.)
        #expect(agent.output.contains("container exited"), "\(agent.output)")

        // SIGHUP makes a pass now, which repairs drift live.
        let pids = running(host)
        try makeDrift(host, "c1")
        agent.signal(SIGHUP)
        #expect(eventually { memoryMax(host, "c1") == 64 << 20 }, "\(agent.output)")
        #expect(agent.output.contains("drift") && agent.output.contains("spec.resources.memory.max"))

        // A container that cannot start backs off (5s, then 10s); the others are untouched.
        // (Its bind mount's source is missing: plan cannot see that, start fails.)
        let broken = AgentTests.manifest("b1") + "  mounts: [{source: /no/such/source, destination: /data}]\n"
        try AgentTests.save(broken, to: manifests + "/b1.yaml")
        #expect(agent.waitFor { $0.contains("STATUS=reconciled 3 containers, 0 changes, 1 failure") } != nil, "\(agent.messages)")
        #expect(agent.output.contains("delay=5s failures=1 object=Container/b1"), "\(agent.output)")
        // The second back-off comes with the retry 5 s on (any pass before
        // it, a watchdog or another STATUS, is not it).
        #expect(
            eventually(seconds: 12) {
                agent.drain()
                return agent.output.contains("delay=10s failures=2 object=Container/b1")
            }, "\(agent.output)")

        // SIGTERM: exit 0, STOPPING=1, the containers run on untouched.
        agent.signal(SIGTERM)
        #expect(agent.exitCode() == 0, "\(agent.output)")
        #expect(agent.waitFor(seconds: 2, includingOld: true) { $0.contains("STOPPING=1") } != nil)
        #expect(running(host) == pids)
    }

    @Test func agentFollowsGitCheckoutAndCorrectsDriftAtTheInterval() throws {
        let host = try TestHost()
        let upstream = host.root + "/upstream"
        let checkout = host.root + "/checkout"
        try FileManager.default.createDirectory(atPath: upstream, withIntermediateDirectories: true)
        _ = try AgentTests.git(upstream, ["init", "--quiet", "--initial-branch=main"])
        try AgentTests.manifest("g1").write(toFile: upstream + "/g1.yaml", atomically: true, encoding: .utf8)
        _ = try AgentTests.git(upstream, ["add", "."])
        _ = try AgentTests.git(upstream, ["commit", "--quiet", "-m", "g1"])
        _ = try AgentTests.git(host.root, ["clone", "--quiet", upstream, checkout])
        let first = try AgentTests.git(upstream, ["rev-parse", "HEAD"])

        let agent = try AgentProcess(host, ["--git", checkout, "--interval", "1s"])
        defer {
            agent.kill()
            #expect(host.tearDown() == [])
        }
        // Generous: the first pass builds the template (slow in the VM lane).
        #expect(agent.waitFor(seconds: 90) { $0.contains("READY=1") }?.contains("at commit \(first.prefix(12))") == true, "\(agent.output)")
        #expect(running(host).keys.sorted() == ["g1"])
        let appliedCommit = host.root + "/state/agent/applied-commit"
        #expect(cat(appliedCommit) == first)
        #expect(agent.output.contains("commit=\(first)"))

        // Drift is corrected at the next interval, with no file change or signal.
        try makeDrift(host, "g1")
        #expect(eventually { memoryMax(host, "g1") == 64 << 20 }, "\(agent.output)")

        // A new upstream commit is fetched, fast-forwarded, applied and recorded.
        try AgentTests.manifest("g2").write(toFile: upstream + "/g2.yaml", atomically: true, encoding: .utf8)
        _ = try AgentTests.git(upstream, ["add", "."])
        _ = try AgentTests.git(upstream, ["commit", "--quiet", "-m", "g2"])
        let second = try AgentTests.git(upstream, ["rev-parse", "HEAD"])
        #expect(eventually(seconds: 30) { running(host)["g2"] != nil }, "\(agent.output)")
        #expect(eventually { cat(appliedCommit) == second })
        #expect(agent.output.contains("commit=\(second)"))

        agent.signal(SIGTERM)
        #expect(agent.exitCode() == 0, "\(agent.output)")
        #expect(running(host).keys.sorted() == ["g1", "g2"])
    }
}

extension AgentTests {
    /// The upstream (a local bare repository) is force-pushed with a changed
    /// manifest: the agent follows it. A local change in its checkout makes
    /// it refuse, said once, not every interval; removing the change is
    /// followed by the all-clear and the upstream's commit.
    @Test func agentFollowsAForcePushAndRefusesLocalChangesOnce() throws {
        let host = try TestHost()
        let remote = host.root + "/remote.git"
        let work = host.root + "/work"
        let checkout = host.root + "/checkout"
        /// Commits f1 with `memory` in the working clone and pushes it (rewriting the last commit when `amend`).
        func publish(memory: String, amend: Bool) throws -> String {
            try AgentTests.manifest("f1", memory: memory).write(toFile: work + "/f1.yaml", atomically: true, encoding: .utf8)
            try AgentTests.git(work, ["add", "."])
            try AgentTests.git(work, ["commit", "--quiet", "-m", "f1 \(memory)"] + (amend ? ["--amend"] : []))
            try AgentTests.git(work, ["push", "--quiet", "--force", "origin", "main"])
            return try AgentTests.git(work, ["rev-parse", "HEAD"])
        }
        try FileManager.default.createDirectory(atPath: host.root, withIntermediateDirectories: true)
        try AgentTests.git(host.root, ["init", "--quiet", "--bare", "--initial-branch=main", remote])
        try AgentTests.git(host.root, ["init", "--quiet", "--initial-branch=main", work])
        try AgentTests.git(work, ["remote", "add", "origin", remote])
        let first = try publish(memory: "64Mi", amend: false)
        try AgentTests.git(host.root, ["clone", "--quiet", remote, checkout])

        let agent = try AgentProcess(host, ["--git", checkout, "--interval", "1s"])
        defer {
            agent.kill()
            #expect(host.tearDown() == [])
        }
        #expect(agent.waitFor(seconds: 90) { $0.contains("READY=1") }?.contains("at commit \(first.prefix(12))") == true, "\(agent.output)")
        #expect(memoryMax(host, "f1") == 64 << 20)

        // A rewritten history with a changed manifest: followed and applied live.
        let rewritten = try publish(memory: "128Mi", amend: true)
        #expect(eventually { memoryMax(host, "f1") == 128 << 20 }, "\(agent.output)")
        #expect(eventually { cat(host.root + "/state/agent/applied-commit") == rewritten })
        #expect(try AgentTests.git(checkout, ["rev-parse", "HEAD"]) == rewritten)
        #expect(agent.output.contains("checkout reset to a rewritten upstream"), "\(agent.output)")
        #expect(!agent.output.contains("git update failed"), "\(agent.output)")

        // A local change: the next upstream commit is not checked out, and
        // that is said once over several 1 s intervals.
        try (AgentTests.manifest("f1", memory: "128Mi") + "# a local note\n").write(
            toFile: checkout + "/f1.yaml", atomically: true, encoding: .utf8)
        let third = try publish(memory: "96Mi", amend: false)
        #expect(eventually { agent.output.contains("checkout has local changes") }, "\(agent.output)")
        #expect(agent.waitFor { $0.contains("STATUS=") } != nil)
        #expect(agent.waitFor { $0.contains("STATUS=") } != nil)
        #expect(agent.waitFor { $0.contains("STATUS=") } != nil)
        #expect(agent.output.components(separatedBy: "checkout has local changes").count == 2, "\(agent.output)")
        #expect(try AgentTests.git(checkout, ["rev-parse", "HEAD"]) == rewritten)
        #expect(memoryMax(host, "f1") == 128 << 20)
        #expect(agent.output.contains("f1.yaml"))

        // The change discarded: the all-clear, then the upstream's commit.
        try AgentTests.git(checkout, ["checkout", "--quiet", "--", "f1.yaml"])
        #expect(eventually { memoryMax(host, "f1") == 96 << 20 }, "\(agent.output)")
        #expect(eventually { cat(host.root + "/state/agent/applied-commit") == third })
        #expect(agent.output.contains("checkout follows its upstream again"), "\(agent.output)")
    }

    /// restartPolicy always with an init that ends at once: restarted with a
    /// doubling delay (1s, 2s, 4s, ...), not hundreds of times a second;
    /// each restart and the back-off are events; list shows the count.
    @Test func anInitThatKeepsEndingIsRestartedWithBackOff() throws {
        let host = try TestHost()
        let manifests = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try AgentTests.save(AgentTests.manifest("crash", restartPolicy: "always", command: "[/bin/true]"), to: manifests + "/crash.yaml")
        let agent = try AgentProcess(host, ["--manifests", manifests, "--interval", "1h"])
        defer {
            agent.kill()
            #expect(host.tearDown() == [])
        }
        // Restarts 1, 2 and 3 come at once, 1 s and 2 s later: the third
        // cannot come before 3 s have passed (without the back-off: 545 in
        // 20 s). A lower bound only, so a slow machine cannot fail it.
        let started = Date()
        #expect(eventually(seconds: 60) { (host.runtime.state.load("crash")?.restarts ?? 0) >= 3 }, "\(agent.output)")
        #expect(Date().timeIntervalSince(started) >= 3, "\(agent.output)")
        #expect(agent.output.contains("restart back-off"), "\(agent.output)")
        #expect(agent.output.contains("restarting"))
    }

    /// The capacity check on every pass: one event when the host becomes
    /// overcommitted, one all-clear when it no longer is, none in between.
    @Test func anOvercommittedHostIsReportedOnceAndItsAllClearOnce() throws {
        let host = try TestHost()
        let manifests = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        // Past cpu=0.01: a limit of one core on any host of under 100 CPUs; within it: 5m on any.
        func manifest(cpu: String) -> String {
            AgentTests.manifest("oc").replacingOccurrences(of: "resources: {", with: "resources: {cpu: {limit: \"\(cpu)\"}, ")
        }
        try AgentTests.save(manifest(cpu: "1"), to: manifests + "/oc.yaml")
        let agent = try AgentProcess(host, ["--manifests", manifests, "--interval", "200ms", "--overcommit", "memory=1000,cpu=0.01"])
        defer {
            agent.kill()
            #expect(host.tearDown() == [])
        }
        func said(_ event: String) -> Int { agent.output.components(separatedBy: ": \(event) ").count - 1 }
        func passes(_ count: Int) {
            for _ in 0..<count { #expect(agent.waitFor { $0.contains("STATUS=reconciled") } != nil, "\(agent.output)") }
        }
        #expect(agent.waitFor(seconds: 90) { $0.contains("READY=1") } != nil, "\(agent.output)")
        passes(3)
        #expect(said("host overcommitted") == 1, "\(agent.output)")
        #expect(agent.output.contains("committed=1 ") && agent.output.contains("largest=oc 1 ") && agent.output.contains("resource=cpu"))

        try AgentTests.save(manifest(cpu: "5m"), to: manifests + "/oc.yaml")
        #expect(eventually { said("host no longer overcommitted") == 1 }, "\(agent.output)")
        passes(3)
        #expect(said("host no longer overcommitted") == 1, "\(agent.output)")
        #expect(said("host overcommitted") == 1, "\(agent.output)")
    }
}

extension AgentTests {
    /// A network's table is listed by libnftables each pass; between passes
    /// the agent closes the library (its idle memory: berth-bench scale).
    /// The table deleted behind its back is still found and put back at
    /// the next interval, the library opened again for that pass.
    @Test func libnftablesIsClosedBetweenPassesAndTableDriftIsStillRepaired() throws {
        let host = try TestHost()
        let manifests = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: agnft}
        spec: {subnet: 10.92.0.0/24, bridge: br-agnft}
        ---
        apiVersion: berth/v1
        kind: Container
        metadata: {name: n1}
        spec:
          rootfs: {template: busybox}
          init: {command: [/bin/sleep, "600"]}
          networks: [{network: agnft, addresses: [10.92.0.10]}]
          resources: {memory: {max: 64Mi}, pids: {max: 64}}

        """.write(toFile: manifests + "/net.yaml", atomically: true, encoding: .utf8)
        let agent = try AgentProcess(host, ["--manifests", manifests, "--interval", "1s"])
        defer {
            agent.kill()
            #expect(host.tearDown() == [])
            try? RouteNetlink().deleteLink("br-agnft")
        }
        #expect(agent.waitFor(seconds: 90) { $0.contains("READY=1") } != nil, "\(agent.output)")
        let table = NetworkRuleset.tableName(cgroupParent: host.parent, network: "agnft")
        func tableExists() -> Bool { (try? NFTables().run("list table inet \(table)")) != nil }
        func libnftablesMapped() -> Bool { cat("/proc/\(agent.pid)/maps").contains("libnftables") }
        #expect(tableExists())
        #expect(eventually(seconds: 10) { !libnftablesMapped() }, "libnftables stays open between passes")

        _ = try NFTables().run("delete table inet \(table)")
        #expect(eventually { tableExists() }, "\(agent.output)")
        #expect(eventually(seconds: 10) { !libnftablesMapped() })
        agent.drain()
        agent.signal(SIGTERM)
        #expect(agent.exitCode() == 0, "\(agent.output)")
    }
}
