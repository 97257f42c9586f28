import Foundation
import Kernel
import Model
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `berth run` through the binary, and where a container's state lives.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct RunCommandTests {
    func global(_ host: TestHost) -> [String] {
        ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
    }

    /// Whether container `name` runs now.
    func running(_ host: TestHost, _ name: String) -> Bool {
        if case .running = host.runtime.status(name) { return true }
        return false
    }

    /// The container's init runs its command (`comm`): its `berth run` has
    /// released it. The record says running earlier, from before the
    /// cgroup, limits and network are set (a berth killed then takes the
    /// start down with it: the init is never released).
    func released(_ host: TestHost, _ name: String, command: String) -> Bool {
        guard let pid = host.runtime.state.load(name)?.pid,
            let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
        else { return false }
        return comm.trimmingCharacters(in: .whitespacesAndNewlines) == command
    }

    /// Nothing of container `name` is left: record, run files, private layer, cgroup.
    func gone(_ host: TestHost, _ name: String) -> Bool {
        guard let group = try? CgroupPath(host.parent).appending(name) else { return false }
        return !FileManager.default.fileExists(atPath: "\(host.root)/state/containers/\(name)")
            && !FileManager.default.fileExists(atPath: "\(host.root)/run/containers/\(name)") && !host.runtime.cgroups.exists(group)
    }

    @Test func runPassesStdioAndTheExitCodeThenDeletesTheContainer() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let result = try Spawn.run(
            [ContainerCLITests.binary, "run"] + global(host) + [
                "--name", "r1", "--hostname", "box", "-e", "GREETING=hello", "--",
                "/bin/sh", "-c",
                "read word; echo \"$GREETING-$word from $(hostname) as pid $$, lo $(cat /sys/class/net/lo/flags), group and session $(cut -d' ' -f5,6 /proc/1/stat)\"; exit 3",
            ],
            input: Array("world\n".utf8))
        #expect((result.status >> 8) & 0xff == 3)
        // The init leads its own session: a terminal's Ctrl-C reaches only
        // berth, which passes it on once.
        #expect(String(decoding: result.output, as: UTF8.self).contains("hello-world from box as pid 1, lo 0x9, group and session 1 1"))
        #expect(gone(host, "r1"))
        // A command that cannot run: the step that failed, and nothing left.
        let missing = try Spawn.run(
            [ContainerCLITests.binary, "run"] + global(host) + ["--name", "r5", "--", "/no/such/program"], mergingStandardError: true)
        #expect((missing.status >> 8) & 0xff == 1)
        #expect(String(decoding: missing.output, as: UTF8.self).contains("execute the command \"/no/such/program\": No such file"))
        #expect(gone(host, "r5"))
        // A name that exists is refused, not taken over.
        _ = try host.runtime.start(host.container("taken", command: ["sleep", "300"]))
        let refused = try Spawn.run(
            [ContainerCLITests.binary, "run"] + global(host) + ["--name", "taken", "--", "/bin/true"], mergingStandardError: true)
        #expect((refused.status >> 8) & 0xff == 1)
        #expect(String(decoding: refused.output, as: UTF8.self).contains("container taken is running (choose another --name"))
    }

    /// A run ended by the OOM killer at its --memory limit says so on
    /// stderr, beside the exit code 137 a shell shows.
    @Test func runSaysWhenTheOOMKillerEndedIt() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let result = try Spawn.run(
            [ContainerCLITests.binary, "run"] + global(host) + [
                "--name", "r9", "--memory", "16Mi", "--", "/bin/sh", "-c", "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo ${#x}",
            ], mergingStandardError: true)
        let output = String(decoding: result.output, as: UTF8.self)
        #expect((result.status >> 8) & 0xff == 137, "\(output)")
        // The shell's command substitution runs head and tr beside sh: the
        // killer may end one of them or, when the first kill does not free
        // enough, two; the count is the kernel's.
        let said = output.split(separator: "\n").contains { line in
            line.hasPrefix("berth: the kernel's OOM killer ended ")
                && (line.contains(" a process of ") || line.contains(" processes of "))
                && line.hasSuffix("of container r9 (memory limit 16Mi)")
        }
        #expect(said, "\(output)")
        #expect(gone(host, "r9"))
        let fine = try Spawn.run(
            [ContainerCLITests.binary, "run"] + global(host) + ["--name", "r10", "--memory", "16Mi", "--", "/bin/true"], mergingStandardError: true)
        #expect(fine.status == 0 && !String(decoding: fine.output, as: UTF8.self).contains("OOM"))
    }

    /// -t: the init's stdio is a terminal berth relays, its controlling one.
    @Test func runWithATerminalRelaysItAndReturnsTheExitCode() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let script =
            "read word; [ -t 0 ] && [ -t 1 ] && echo \"terminal $word\"; "
            + "[ \"$(cut -d' ' -f8 /proc/1/stat)\" -gt 0 ] && echo foreground; exit 4"
        let result = try Spawn.run(
            [ContainerCLITests.binary, "run"] + global(host) + ["-t", "--name", "r8", "--", "/bin/sh", "-c", script],
            input: Array("hello\n".utf8))
        let output = String(decoding: result.output, as: UTF8.self)
        #expect((result.status >> 8) & 0xff == 4, "\(output)")
        #expect(output.contains("terminal hello"), "\(output)")
        // /proc/1/stat field 8: the terminal's foreground group (0 without a controlling one).
        #expect(output.contains("foreground"), "\(output)")
        #expect(gone(host, "r8"))
    }

    /// berth exec passes SIGTERM on: the command handles it, its exit code
    /// comes back, and nothing of it is left in the container.
    @Test func execPassesSignalsOnToTheCommand() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(host.container("e1", command: ["sleep", "300"]))
        let output = host.root + "/exec.out"
        // The markers are computed: berth's own log line quotes the script.
        let script = "trap 'echo got-$((2+3)); exit 6' TERM; echo ready-$((6*7)); while :; do sleep 0.1; done"
        let berth = try Spawn.start(
            [ContainerCLITests.binary, "exec"] + global(host) + ["e1", "--", "/bin/sh", "-c", script], outputPath: output)
        #expect(eventually { (try? String(contentsOfFile: output, encoding: .utf8))?.contains("ready-42") == true })
        kill(berth, SIGTERM)
        let status = Reaper.wait(berth) ?? -1
        #expect((status >> 8) & 0xff == 6, "status \(status)")
        #expect((try? String(contentsOfFile: output, encoding: .utf8))?.contains("got-5") == true)
        let group = try CgroupPath(record.cgroup)
        let initPID = try #require(record.pid)
        #expect(eventually { (try? host.runtime.cgroups.processes(in: group)) == [initPID] })
    }

    /// --memory, --cpus and --pids are the container's cgroup limits; a bad
    /// value is refused before anything is made.
    @Test func runAppliesItsLimitsAndRefusesABadOne() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let berth = try Spawn.start(
            [ContainerCLITests.binary, "run"] + global(host) + [
                "--name", "r6", "--memory", "64Mi", "--cpus", "0.5", "--pids", "32", "--", "/bin/sleep", "30",
            ])
        #expect(eventually { running(host, "r6") })
        let group = try CgroupPath(host.parent).appending("r6")
        // On v1 the record (the status) is written before the cgroup and its
        // limits (a crash then leaves a record to clean up by): wait for them.
        #expect(
            eventually {
                guard let limits = try? host.runtime.cgroups.observe(group).limits else { return false }
                return limits.memoryMax != nil && limits.pidsMax != nil && limits.cpuQuotaMicros != nil
            })
        let limits = try host.runtime.cgroups.observe(group).limits
        #expect(limits.memoryMax == 64 << 20)
        #expect(limits.pidsMax == 32)
        #expect(limits.cpuQuotaMicros == 50_000 && limits.cpuPeriodMicros == 100_000)
        // sleep as PID 1 ignores the first SIGTERM; the second kills the cgroup.
        kill(berth, SIGTERM)
        usleep(100_000)
        kill(berth, SIGTERM)
        _ = Reaper.wait(berth)
        #expect(eventually { gone(host, "r6") })

        let refused = try Spawn.run(
            [ContainerCLITests.binary, "run"] + global(host) + ["--name", "r7", "--memory", "lots", "--", "/bin/true"],
            mergingStandardError: true)
        #expect((refused.status >> 8) & 0xff != 0)
        #expect(String(decoding: refused.output, as: UTF8.self).contains("--memory"))
        #expect(gone(host, "r7"))
    }

    @Test func runIsLeftAloneByPruneAndPassesSignalsOn() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let script = "trap 'echo got-term; exit 5' TERM; while :; do sleep 0.1; done"
        try FileManager.default.createDirectory(atPath: host.root, withIntermediateDirectories: true)
        let output = host.root + "/run.out"
        let berth = try Spawn.start(
            [ContainerCLITests.binary, "run"] + global(host) + ["--name", "r2", "--", "/bin/sh", "-c", script], outputPath: output)
        #expect(eventually { running(host, "r2") })
        usleep(200_000)  // the trap is set

        // Its writes stay in memory: a tmpfs in its own mount namespace, not
        // the state dir, and not visible on the host.
        let wrote = try Spawn.run(
            [ContainerCLITests.binary, "exec"] + global(host) + ["r2", "--", "/bin/sh", "-c", "echo kept > /inside; cat /inside"])
        #expect(String(decoding: wrote.output, as: UTF8.self) == "kept\n")
        #expect(!FileManager.default.fileExists(atPath: "\(host.root)/state/containers/r2/upper"))
        #expect(!FileManager.default.fileExists(atPath: "\(host.root)/run/containers/r2/upper"))
        #expect(try Spawn.run([ContainerCLITests.binary, "status"] + global(host) + ["r2"]).output.contains(Array("in memory".utf8)))
        // Its record is in its run directory (as runc's state is in /run):
        // nothing of it is in the state dir, and list still shows it.
        #expect(FileManager.default.fileExists(atPath: "\(host.root)/run/containers/r2/container.json"))
        #expect(!FileManager.default.fileExists(atPath: "\(host.root)/state/containers/r2"))
        #expect(host.runtime.state.names() == ["r2"])
        let listed = try Spawn.run([ContainerCLITests.binary, "list"] + global(host))
        #expect(String(decoding: listed.output, as: UTF8.self).contains("r2"), "\(String(decoding: listed.output, as: UTF8.self))")

        // No manifest names it, yet even a prune of everything leaves it: berth run owns it.
        let prune = try Spawn.run([ContainerCLITests.binary, "apply"] + global(host) + ["--prune", "--yes"], mergingStandardError: true)
        #expect((prune.status >> 8) & 0xff == 0)
        #expect(!String(decoding: prune.output, as: UTF8.self).contains("r2"), "\(String(decoding: prune.output, as: UTF8.self))")
        guard case .running = host.runtime.status("r2") else {
            Issue.record("berth apply --prune stopped a berth run container")
            kill(berth, SIGKILL)
            _ = Reaper.wait(berth)
            return
        }

        // SIGTERM to berth reaches the init, whose exit code berth returns.
        kill(berth, SIGTERM)
        let status = Reaper.wait(berth) ?? -1
        #expect((status >> 8) & 0xff == 5)
        #expect((try? String(contentsOfFile: output, encoding: .utf8))?.contains("got-term") == true)
        #expect(gone(host, "r2"))
    }

    @Test func aRunContainerWhoseBerthWasKilledIsPrunedLikeAnyOther() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let berth = try Spawn.start([ContainerCLITests.binary, "run"] + global(host) + ["--name", "r4", "--", "sleep", "300"])
        #expect(eventually { running(host, "r4") && released(host, "r4", command: "sleep") })
        kill(berth, SIGKILL)
        _ = Reaper.wait(berth)
        // One whose record is in the state dir, as an earlier berth kept it.
        let earlier = try Spawn.start([ContainerCLITests.binary, "run"] + global(host) + ["--name", "r6", "--", "sleep", "300"])
        #expect(eventually { running(host, "r6") && released(host, "r6", command: "sleep") })
        kill(earlier, SIGKILL)
        _ = Reaper.wait(earlier)
        try FileManager.default.createDirectory(atPath: "\(host.root)/state/containers/r6", withIntermediateDirectories: true)
        try FileManager.default.moveItem(
            atPath: "\(host.root)/run/containers/r6/container.json", toPath: "\(host.root)/state/containers/r6/container.json")
        #expect(running(host, "r6"))
        // The container outlives its berth (containers are detached); nobody
        // waits for it any more, so a prune removes it.
        guard case .running = host.runtime.status("r4") else {
            Issue.record("the container died with its berth")
            return
        }
        // Stopped and started again by hand, it is a container like any
        // other: its record in the state dir, the run directory's gone.
        #expect(try Spawn.run([ContainerCLITests.binary, "stop"] + global(host) + ["--timeout", "0", "r4"]).exitedCleanly)
        #expect(try Spawn.run([ContainerCLITests.binary, "start"] + global(host) + ["r4"]).exitedCleanly)
        #expect(running(host, "r4"))
        #expect(FileManager.default.fileExists(atPath: "\(host.root)/state/containers/r4/container.json"))
        #expect(!FileManager.default.fileExists(atPath: "\(host.root)/run/containers/r4/container.json"))
        // (No source applied it: only a prune of everything removes it.)
        let prune = try Spawn.run([ContainerCLITests.binary, "apply"] + global(host) + ["--prune", "--yes"], mergingStandardError: true)
        #expect(String(decoding: prune.output, as: UTF8.self).contains("Container/r4"))
        #expect(String(decoding: prune.output, as: UTF8.self).contains("Container/r6"))
        #expect(gone(host, "r4"))
        #expect(gone(host, "r6"))
    }

    @Test func aSecondInterruptKillsAnInitThatIgnoresTheFirst() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        // PID 1 of a pid namespace without a handler ignores SIGINT.
        let berth = try Spawn.start([ContainerCLITests.binary, "run"] + global(host) + ["--name", "r3", "--", "sleep", "300"])
        #expect(eventually { running(host, "r3") })
        kill(berth, SIGINT)
        usleep(300_000)
        #expect(host.runtime.status("r3") != .stopped)
        kill(berth, SIGINT)
        let status = Reaper.wait(berth) ?? -1
        #expect((status >> 8) & 0xff == 128 + SIGKILL)
        #expect(gone(host, "r3"))
    }

    @Test func theInitIsRecordedInTheRunDirectoryAndTheRecordOnlyWhenItChanges() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(host.container("s1", command: ["sleep", "300"]))
        let pid = try #require(record.pid)
        let initFile = "\(host.root)/run/containers/s1/init"
        let recordFile = "\(host.root)/state/containers/s1/container.json"
        #expect(cat(initFile).hasPrefix("\(pid) "))
        #expect(!cat(recordFile).contains("\"pid\""))

        // Stopped: no init file. Started again with the same spec: the
        // record file is not rewritten (same inode), only the init file.
        try host.runtime.stop("s1", timeout: Interval(milliseconds: 0))
        #expect(!FileManager.default.fileExists(atPath: initFile))
        #expect(host.runtime.status("s1") == .stopped)
        let inode = Syscall.inode(recordFile)?.inode
        let again = try host.runtime.restart("s1")
        #expect(Syscall.inode(recordFile)?.inode == inode)
        #expect(host.runtime.status("s1") == .running(pid: try #require(again.pid)))

        // A record that keeps its pid in container.json (written before init
        // files existed) is still found running.
        try FileManager.default.removeItem(atPath: initFile)
        var legacy = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: recordFile))) as? [String: Any])
        legacy["pid"] = Int(try #require(again.pid))
        legacy["startTime"] = Int(try #require(again.startTime))
        try JSONSerialization.data(withJSONObject: legacy).write(to: URL(fileURLWithPath: recordFile))
        #expect(host.runtime.status("s1") == .running(pid: try #require(again.pid)))
    }
}
