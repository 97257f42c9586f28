import Foundation
import Kernel
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A container's console output: `berth logs` (--tail, -f) and the agent's
/// rotation, which keeps console.log and its rotated files bounded while
/// the container keeps writing.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct ConsoleLogTests {
    /// ~100 bytes every 10 ms: about 10 KB/s, numbered lines.
    static let chatty = #"[/bin/sh, -c, "i=0; while true; do i=$((i+1)); echo \"line $i $(printf '%080d' 0)\"; usleep 10000; done"]"#

    func sizes(_ host: TestHost, _ name: String) -> [String: Int] {
        var result: [String: Int] = [:]
        for file in host.runtime.consoleLog(name).files() {
            result[(file as NSString).lastPathComponent] = Int(Syscall.version(file)?.size ?? -1)
        }
        return result
    }

    @Test func agentRotatesConsoleLogsUnderTheCapAndLogsTailsAndFollows() throws {
        let host = try TestHost()
        let manifests = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try AgentTests.save(AgentTests.manifest("log1", command: ConsoleLogTests.chatty), to: manifests + "/log1.yaml")
        let agent = try AgentTests.AgentProcess(
            host, ["--manifests", manifests, "--interval", "1h", "--console-max-size", "16Ki", "--console-files", "2"])
        defer {
            agent.kill()
            #expect(host.tearDown() == [])
        }
        #expect(agent.waitFor(seconds: 90) { $0.contains("READY=1") } != nil, "\(agent.output)")
        // Rotated at least twice: console.log.2 exists.
        #expect(eventually(seconds: 30) { sizes(host, "log1")["console.log.2"] != nil }, "\(sizes(host, "log1"))")
        // Checked every 2 s at ~10 KB/s: each file stays under the cap plus what 2 s add (and slack for a busy machine).
        for _ in 0..<10 {
            let sizes = sizes(host, "log1")
            #expect(Set(sizes.keys).isSubset(of: ["console.log", "console.log.1", "console.log.2"]), "\(sizes)")
            for (file, size) in sizes { #expect(size <= 16 * 1024 + 40 * 1024, "\(file): \(size)") }
            usleep(300_000)
        }

        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        let tail = try Spawn.run([ContainerCLITests.binary, "logs"] + global + ["--tail", "3", "log1"])
        #expect(tail.exitedCleanly)
        let lines = String(decoding: tail.output, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 3 && lines.allSatisfy { $0.hasPrefix("line ") }, "\(lines)")
        // Everything berth still has, oldest first: line numbers only go up.
        let all = try Spawn.run([ContainerCLITests.binary, "logs"] + global + ["log1"], outputLimit: 1 << 24)
        let numbers = String(decoding: all.output, as: UTF8.self).split(separator: "\n").compactMap { Int($0.split(separator: " ")[1]) }
        #expect(numbers.count > 100 && zip(numbers, numbers.dropFirst()).allSatisfy { $0 < $1 }, "\(numbers.prefix(20))")

        // -f prints lines written after it started, across a rotation.
        let followed = host.root + "/follow.log"
        let follower = try Spawn.start([ContainerCLITests.binary, "logs", "-f", "--tail", "1"] + global + ["log1"], outputPath: followed)
        defer {
            kill(follower, SIGTERM)
            _ = Reaper.wait(follower)
        }
        func followedNumbers() -> [Int] {
            ((try? String(contentsOfFile: followed, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                $0.split(separator: " ").count > 1 ? Int($0.split(separator: " ")[1]) : nil
            }
        }
        // 16Ki at ~10 KB/s: a rotation within 4 s; follow for 5.
        #expect(eventually(seconds: 30) { followedNumbers().count > 300 }, "\(followedNumbers().count)")
        let seen = followedNumbers()
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 < $1 }, "lines out of order or repeated")

        let missing = try Spawn.run([ContainerCLITests.binary, "logs"] + global + ["nope"], mergingStandardError: true)
        #expect(!missing.exitedCleanly)
        #expect(String(decoding: missing.output, as: UTF8.self).contains("no container named 'nope'"))
    }
}
