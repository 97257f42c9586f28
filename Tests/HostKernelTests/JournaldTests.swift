import Foundation
import Journal
import Kernel
import Logging
import Model
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real systemd-journald of the test's own: the sandbox's private mount
/// namespace gets tmpfs over /run/systemd, /run/log and /var/log/journal, so
/// nothing reaches the machine's journal.
final class TestJournald {
    let pid: pid_t
    static let mounts = ["/run/systemd", "/run/log", "/var/log/journal"]

    init() throws {
        for path in TestJournald.mounts where FileManager.default.fileExists(atPath: path) {
            let result = try Spawn.run(["/bin/mount", "-t", "tmpfs", "tmpfs", path])
            guard result.exitedCleanly else { throw SystemError(call: "mount tmpfs", errno: EIO, subject: path) }
        }
        var child: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/lib/systemd/systemd-journald"), nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let result = posix_spawn(&child, "/lib/systemd/systemd-journald", &actions, nil, &argv, environ)
        guard result == 0 else { throw SystemError(call: "posix_spawn", errno: result, subject: "systemd-journald") }
        pid = child
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: JournalSink.defaultSocket) { usleep(20_000) }
    }

    /// Entries as `journalctl -o json` prints them, filtered by `match`.
    func entries(_ matches: String...) throws -> [[String: Any]] {
        let output = try Spawn.run(["/bin/journalctl", "-D", "/run/log/journal", "-o", "json"] + matches).output
        return String(decoding: output, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func tearDown() {
        kill(pid, SIGCONT)
        kill(pid, SIGTERM)
        _ = Reaper.wait(pid)
        for path in TestJournald.mounts.reversed() { _ = try? Spawn.run(["/bin/umount", path]) }
    }
}

@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct JournaldTests {
    @Test func execIsAJournalEventWithWhoAndWhat() throws {
        let journald = try TestJournald()
        defer { journald.tearDown() }
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        // Suites run in parallel: a name no other test uses keeps the match exact.
        _ = try host.runtime.start(host.container("journal1", command: ["sleep", "300"]))
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        let result = try Spawn.run([ContainerCLITests.binary, "exec"] + global + ["journal1", "--", "/bin/true"])
        #expect(result.exitedCleanly)
        var entries: [[String: Any]] = []
        for _ in 0..<50 where entries.isEmpty {
            entries = try journald.entries("MESSAGE_ID=\(EventKind.exec.messageID)", "BERTH_CONTAINER=journal1")
            if entries.isEmpty { usleep(50_000) }
        }
        let entry = try #require(entries.first)
        #expect(entry["BERTH_CONTAINER"] as? String == "journal1")
        #expect((entry["BERTH_COMMAND"] as? String)?.contains("/bin/true") == true, "\(entries)")
        #expect(entry["BERTH_USER"] as? String == "0")
        #expect(entry["PRIORITY"] as? String == "6")
        #expect(entry["SYSLOG_IDENTIFIER"] as? String == "berth")

        // berth events reads the same history back through sd_journal.
        let events = try Spawn.run([ContainerCLITests.binary, "events"] + global + ["--output", "json", "journal1"])
        #expect(events.exitedCleanly)
        let parsed = try JSONSerialization.jsonObject(with: Data(events.output)) as? [[String: Any]] ?? []
        #expect(
            parsed.contains {
                let fields = $0["fields"] as? [String: String]
                return fields?["event"] == "exec" && fields?["container"] == "journal1"
                    && ($0["message"] as? String)?.hasPrefix("journal1: exec ") == true
            }, "\(parsed)")
    }

    /// `berth apply` and `berth drift` from the CLI: each action and each
    /// drift is a journal entry (a readable MESSAGE, its MESSAGE_ID, the
    /// object), and stderr stays free of log lines.
    @Test func cliApplyAndDriftAreJournalEvents() throws {
        let journald = try TestJournald()
        defer { journald.tearDown() }
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        let manifests = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try AgentTests.manifest("journal2").write(toFile: manifests + "/journal2.yaml", atomically: true, encoding: .utf8)
        let applied = try Spawn.run([ContainerCLITests.binary, "apply", "--yes"] + global + [manifests])
        let output = String(decoding: applied.output, as: UTF8.self)
        #expect(applied.exitedCleanly, "\(output)")
        #expect(!output.contains(" info berth:") && !output.contains("event=applied"), "\(output)")
        var entries: [[String: Any]] = []
        #expect(
            eventually(seconds: 10) {
                entries = (try? journald.entries("MESSAGE_ID=\(EventKind.applied.messageID)")) ?? []
                return entries.contains { ($0["MESSAGE"] as? String)?.hasPrefix("journal2: ") == true }
            }, "\(entries)")
        let created = entries.first { ($0["MESSAGE"] as? String)?.hasPrefix("journal2: ") == true }
        #expect((created?["MESSAGE"] as? String)?.contains("(created)") == true, "\(entries)")
        #expect(created?["BERTH_OBJECT"] as? String == "Container/journal2", "\(entries)")

        // Drift made behind berth's back, reported by `berth drift`.
        let memoryMax =
            host.runtime.cgroups.version == .v2
            ? "/sys/fs/cgroup/\(host.parent)/journal2/memory.max" : "/sys/fs/cgroup/memory/\(host.parent)/journal2/memory.limit_in_bytes"
        try "100663296".write(toFile: memoryMax, atomically: false, encoding: .utf8)
        _ = try Spawn.run([ContainerCLITests.binary, "drift"] + global + [manifests])
        #expect(
            eventually(seconds: 10) {
                entries = (try? journald.entries("MESSAGE_ID=\(EventKind.drift.messageID)")) ?? []
                return entries.contains { ($0["MESSAGE"] as? String)?.hasPrefix("journal2: ") == true }
            }, "\(entries)")
    }

    /// Two instances on one journal: each one's `berth events` shows its own
    /// history only; `--since` takes durations and timestamps; `--follow`
    /// prints new events as they come.
    @Test func eventsAreScopedToTheInstanceAndFollowed() throws {
        let journald = try TestJournald()
        defer { journald.tearDown() }
        let (first, second) = (try TestHost(), try TestHost())
        defer {
            #expect(first.tearDown() == [])
            #expect(second.tearDown() == [])
        }
        func global(_ host: TestHost) -> [String] {
            ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        }
        // The same container name in both: only the instance tells them apart.
        for host in [first, second] {
            _ = try host.runtime.start(host.container("scoped1", command: ["sleep", "300"]))
            #expect(try Spawn.run([ContainerCLITests.binary, "exec"] + global(host) + ["scoped1", "--", "/bin/true"]).exitedCleanly)
        }
        func events(_ host: TestHost, _ arguments: [String] = []) throws -> [[String: Any]] {
            let result = try Spawn.run([ContainerCLITests.binary, "events", "-o", "json"] + global(host) + arguments)
            #expect(result.exitedCleanly, "\(String(decoding: result.output, as: UTF8.self))")
            return try JSONSerialization.jsonObject(with: Data(result.output)) as? [[String: Any]] ?? []
        }
        var mine: [[String: Any]] = []
        #expect(
            eventually(seconds: 10) {
                mine = (try? events(first, ["scoped1"])) ?? []; return !mine.isEmpty
            })
        #expect(mine.count == 1, "\(mine)")
        #expect((mine.first?["fields"] as? [String: String])?["state_dir"] == first.root + "/state")
        #expect(try events(second).count == 1)
        #expect(try events(first, ["--since", "10m"]).count == 1)
        #expect(try events(first, ["--since", "2000-01-01T00:00:00Z"]).count == 1)
        #expect(try events(first, ["--since", "2099-01-01"]).isEmpty)

        // --follow: the event of an exec made after it started.
        let log = first.root + "/events.log"
        let follower = try Spawn.start(
            [ContainerCLITests.binary, "events", "--follow", "-o", "json"] + global(first), outputPath: log)
        defer {
            kill(follower, SIGTERM)
            _ = Reaper.wait(follower)
        }
        func lines() -> [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        #expect(eventually(seconds: 10) { lines().count == 1 }, "\(lines())")
        #expect(try Spawn.run([ContainerCLITests.binary, "exec"] + global(first) + ["scoped1", "--", "/bin/true"]).exitedCleanly)
        #expect(try Spawn.run([ContainerCLITests.binary, "exec"] + global(second) + ["scoped1", "--", "/bin/true"]).exitedCleanly)
        #expect(eventually(seconds: 10) { lines().count == 2 }, "\(lines())")
        usleep(300_000)
        #expect(lines().count == 2, "the other instance's event was followed: \(lines())")
    }

    @Test func aStalledJournaldNeverBlocksAndDropsAreCounted() throws {
        let journald = try TestJournald()
        defer { journald.tearDown() }
        kill(journald.pid, SIGSTOP)
        let sink = JournalSink()
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for index in 0..<5000 {
                sink.send(message: "event \(index)", level: .info, metadata: ["object": "c\(index)"], source: "test")
            }
        }
        // A blocking send would hang here until SIGCONT, so any bound shows
        // it; a generous one, since 5000 sends take ~10 s in the VM lane (qemu
        // without KVM) while other suites run.
        #expect(elapsed < .seconds(60))
        #expect(sink.dropped > 0)
        kill(journald.pid, SIGCONT)
    }

    @Test func anAbsentJournaldFallsBackWithoutBlocking() {
        let sink = JournalSink(socketPath: "/nonexistent/berth-test/socket")
        let clock = ContinuousClock()
        let elapsed = clock.measure { sink.send(message: "nobody listens", level: .info, metadata: [:], source: "test") }
        #expect(elapsed < .seconds(1))
        #expect(sink.dropped == 0)
    }

    /// journald stopped (SIGSTOP) for 30 s while the agent keeps applying
    /// manifest changes; after SIGCONT the events sent meanwhile are there.
    @Test func agentKeepsWorkingWhileJournaldIsStopped() throws {
        let journald = try TestJournald()
        defer { journald.tearDown() }
        let host = try TestHost()
        let manifests = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try AgentTests.save(AgentTests.manifest("jc1"), to: manifests + "/jc1.yaml")
        let agent = try AgentTests.AgentProcess(host, ["--manifests", manifests, "--interval", "1h"], journal: true)
        defer {
            agent.kill()
            #expect(host.tearDown() == [])
        }
        #expect(agent.waitFor(seconds: 20) { $0.contains("READY=1") } != nil, "\(agent.output)")

        kill(journald.pid, SIGSTOP)
        let stalled = MonotonicClock.milliseconds()
        let memory = ["96Mi": UInt64(96 << 20), "64Mi": UInt64(64 << 20)]
        var round = 0
        // Changes keep being applied within seconds for as long as journald is stopped.
        while MonotonicClock.milliseconds() - stalled < 30_000 {
            let size = round % 2 == 0 ? "96Mi" : "64Mi"
            try AgentTests.save(AgentTests.manifest("jc1", memory: size), to: manifests + "/jc1.yaml")
            let applied = eventually(seconds: 30) {
                agent.drain()
                return host.runtime.list().first { $0.record.name == "jc1" }?.usage?.limits.memoryMax == memory[size]
            }
            #expect(applied, "round \(round) with journald stopped: \(agent.output)")
            if !applied { break }
            round += 1
            usleep(1_500_000)
        }
        #expect(round >= 8)
        kill(journald.pid, SIGCONT)

        // What was sent before the socket filled up is in the journal now.
        var entries: [[String: Any]] = []
        for _ in 0..<100 where entries.isEmpty {
            entries = try journald.entries("MESSAGE_ID=\(EventKind.applied.messageID)", "BERTH_OBJECT=Container/jc1")
            if entries.isEmpty { usleep(50_000) }
        }
        #expect(!entries.isEmpty)
        agent.signal(SIGTERM)
        #expect(agent.exitCode() == 0, "\(agent.output)")
    }

    /// spec.logs.driver journal: each line the init writes is a journal
    /// entry with its container's name (journalctl -o json), `berth logs`
    /// reads them back, and the relay ends with the container.
    @Test func containerOutputIsInTheJournalUnderItsName() throws {
        let journald = try TestJournald()
        defer { journald.tearDown() }
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var runtime = host.runtime
        runtime.relayExecutable = ContainerCLITests.binary
        let script = "echo hello from jlog1; echo second line; echo oops >&2; exec sleep 300"
        _ = try runtime.start(host.container("jlog1", command: ["/bin/sh", "-c", script]) { $0.logs = LogsSpec(driver: .journal) })
        var entries: [[String: Any]] = []
        #expect(
            eventually(seconds: 10) {
                entries = (try? journald.entries("CONTAINER_NAME=jlog1")) ?? []
                return entries.count >= 3
            }, "\(entries)")
        let hello = entries.first { $0["MESSAGE"] as? String == "hello from jlog1" }
        #expect(hello?["PRIORITY"] as? String == "6")
        #expect(hello?["SYSLOG_IDENTIFIER"] as? String == "jlog1")
        #expect(hello?["BERTH_STATE_DIR"] as? String == host.root + "/state")
        #expect(hello?["BERTH_CGROUP_PARENT"] as? String == host.parent)
        #expect(entries.first { $0["MESSAGE"] as? String == "oops" }?["PRIORITY"] as? String == "3")
        #expect(!FileManager.default.fileExists(atPath: host.root + "/state/containers/jlog1/console.log"))

        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        let logs = try Spawn.run([ContainerCLITests.binary, "logs"] + global + ["jlog1"], mergingStandardError: true)
        let lines = String(decoding: logs.output, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(logs.exitedCleanly)
        #expect(Set(lines) == ["hello from jlog1", "second line", "oops"], "\(lines)")
        #expect(lines.firstIndex(of: "hello from jlog1") ?? 9 < lines.firstIndex(of: "second line") ?? 0)
        let tail = try Spawn.run([ContainerCLITests.binary, "logs", "--tail", "1"] + global + ["jlog1"])
        #expect(String(decoding: tail.output, as: UTF8.self).split(separator: "\n").count == 1)

        // -f prints what is there, then follows until the container is gone.
        let followed = host.root + "/follow.log"
        let follower = try Spawn.start([ContainerCLITests.binary, "logs", "-f"] + global + ["jlog1"], outputPath: followed)
        #expect(
            eventually(seconds: 10) {
                ((try? String(contentsOfFile: followed, encoding: .utf8)) ?? "").split(separator: "\n").count == 3
            })

        // A relay that was killed is started again (the agent does this every 2 s).
        let killed = try #require(runtime.journalRelay("jlog1").runningPID)
        let handle = try PidFD(pid: killed, startTime: ProcessStat.read(killed)?.startTime)
        _ = try handle.signal(SIGKILL)
        _ = handle.waitForExit(milliseconds: 5000)
        _ = Reaper.poll(killed)
        #expect(runtime.keepLogRelays() == ["jlog1"])
        let relay = try #require(runtime.journalRelay("jlog1").runningPID)
        #expect(relay != killed)
        try runtime.stop("jlog1", timeout: Interval(milliseconds: 0))
        #expect(runtime.journalRelay("jlog1").runningPID == nil)
        #expect(ProcessStat.read(relay)?.isAlive != true)
        try runtime.delete("jlog1")
        #expect(eventually(seconds: 5) { Reaper.poll(follower) != nil || ProcessStat.read(follower)?.isAlive != true })
    }
}
