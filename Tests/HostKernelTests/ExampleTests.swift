import Foundation
import Kernel
import Runtime
import Testing

/// What a newcomer copies works: the README's walkthrough and the bundled
/// examples are applied through the berth binary, every container they
/// name runs and serves; the README's CLI commands are run against them;
/// `apply --prune` without manifests removes everything (confirmed).
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct ExampleTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The ```yaml blocks of a Markdown file, in order.
    static func yamlBlocks(_ relativePath: String) throws -> [String] {
        let text = try String(contentsOf: repository.appendingPathComponent(relativePath), encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```yaml" {
                current = []
            } else if let lines = current, line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append(lines.joined(separator: "\n") + "\n")
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    /// One berth instance in a network namespace of its own inside the
    /// sandbox: the examples' bridges, addresses and port forward are those
    /// ReconcileCLITests uses, and lane-2 suites run in parallel.
    final class Instance {
        let host: TestHost
        let netns: String
        var global: [String] { ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent] }

        init() throws {
            host = try TestHost()
            netns = "berth-examples-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            _ = try Spawn.run(["/usr/sbin/ip", "netns", "add", netns])
            _ = try Spawn.run(["/usr/sbin/ip", "-n", netns, "link", "set", "lo", "up"])
        }

        /// `arguments` run in the instance's network namespace.
        func inNamespace(_ arguments: [String], merging: Bool = true) throws -> (code: Int32, output: String) {
            // nsenter, not `ip netns exec`: that mounts a fresh /sys, without the cgroup hierarchies.
            let result = try Spawn.run(["/usr/bin/nsenter", "--net=/run/netns/" + netns, "--"] + arguments, mergingStandardError: merging)
            return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
        }

        @discardableResult
        func berth(_ arguments: [String]) throws -> (code: Int32, output: String) {
            try inNamespace([ContainerCLITests.binary, arguments[0]] + global + arguments.dropFirst())
        }

        func bridgesGone() throws -> Bool {
            let links = try inNamespace(["/usr/sbin/ip", "-o", "link", "show"]).output
            return !links.contains("br-front") && !links.contains("br-edge")
        }

        /// Everything berth made goes; the namespace takes what might be left.
        func tearDown() -> [String] {
            _ = try? berth(["apply", "--prune", "--yes"])
            _ = try? Spawn.run(["/usr/sbin/ip", "netns", "del", netns])
            return host.tearDown()
        }

        func running() -> Set<String> {
            Set(host.runtime.list().compactMap { if case .running = $0.status { return $0.record.name } else { return nil } })
        }

        /// A page from `url`, retried while the server starts.
        func page(_ url: String, containing text: String) throws -> String {
            var page = ""
            for _ in 0..<25 where !page.contains(text) {
                page = try inNamespace(["/bin/busybox", "wget", "-q", "-O", "-", url], merging: false).output
                if !page.contains(text) { usleep(200_000) }
            }
            return page
        }
    }

    @Test func bundledExamplesRunServeAndAreAllRemovedByPruneWithoutManifests() throws {
        let instance = try Instance()
        defer { #expect(instance.tearDown() == []) }
        let manifests = ExampleTests.repository.appendingPathComponent("manifests").path
        let apply = try instance.berth(["apply", manifests])
        #expect(apply.code == 0, "\(apply.output)")
        #expect(instance.running() == ["web1", "web2", "edge-web"])
        #expect(try instance.page("http://10.88.0.11/", containing: "hello from web1").contains("hello from web1"))
        #expect(try instance.page("http://10.88.0.12/", containing: "hello from web2").contains("hello from web2"))
        #expect(try instance.page("http://10.89.0.1:8080/", containing: "hello from edge-web").contains("hello from edge-web"))

        // Without manifests and without a terminal, --prune asks for --yes and changes nothing.
        let unconfirmed = try instance.berth(["apply", "--prune"])
        #expect(unconfirmed.code == 1)
        #expect(unconfirmed.output.contains("removes 3 containers and 2 networks berth owns"), "\(unconfirmed.output)")
        #expect(unconfirmed.output.contains("pass --yes to confirm"))
        #expect(instance.running().count == 3)
        // plan --prune without manifests shows what would go.
        let plan = try instance.berth(["plan", "--prune", "--detailed-exitcode"])
        #expect(plan.code == 2)
        #expect(plan.output.contains("delete Container/web1") && plan.output.contains("delete Network/edge"), "\(plan.output)")

        let removed = try instance.berth(["apply", "--prune", "--yes"])
        #expect(removed.code == 0, "\(removed.output)")
        #expect(instance.host.runtime.list().isEmpty)
        #expect(try instance.bridgesGone())
        #expect(try instance.berth(["apply", "--prune", "--yes"]).output.contains("berth owns nothing in this instance"))
    }

    /// The README's walkthrough manifest with the examples' profiles and
    /// networks (and edge-web, which a port forward of `edge` names).
    @Test func readmeWalkthroughRunsAndItsCLICommandsWork() throws {
        let instance = try Instance()
        defer { #expect(instance.tearDown() == []) }
        let directory = instance.host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let blocks = try ExampleTests.yamlBlocks("README.md")
        #expect(!blocks.isEmpty)
        for (index, block) in blocks.enumerated() {
            try block.write(toFile: directory + "/readme-\(index).yaml", atomically: true, encoding: .utf8)
        }
        for file in ["profiles.yaml", "networks.yaml", "edge.yaml"] {
            try FileManager.default.copyItem(
                atPath: ExampleTests.repository.appendingPathComponent("manifests/" + file).path, toPath: directory + "/" + file)
        }
        // The README's CLI table, command by command, on the walkthrough's web1.
        var ran: Set<String> = []
        func run(_ arguments: [String], expect code: Int32 = 0, _ text: String? = nil) throws {
            let result = try instance.berth(arguments)
            #expect(result.code == code, "berth \(arguments.joined(separator: " ")): \(result.output)")
            if let text { #expect(result.output.contains(text), "berth \(arguments.joined(separator: " ")): \(result.output)") }
            ran.insert(arguments[0])
        }
        try run(["validate", directory], "valid")
        try run(["plan", "--detailed-exitcode", directory], expect: 2, "create Container/web1")
        try run(["apply", directory])
        #expect(instance.running() == ["web1", "edge-web"])
        #expect(try instance.page("http://10.88.0.11/", containing: "hello").contains("hello"))
        try run(["drift", "--detailed-exitcode", directory])
        let saved = instance.host.root + "/plan.json"
        try run(["plan", "--out", saved, directory], "Saved the plan")
        try run(["show", saved], "No changes")
        try run(["apply", saved], "No changes")
        try run(["logs", "web1"])
        try run(["version"], "commit: ")
        try run(["--version"], "kernel: ")
        try run(["list"], "web1")
        try run(["status", "web1"], "running")
        try run(["exec", "web1", "--", "/bin/hostname"], "web1")
        try run(["ubc", "web1"], "failcnt")
        try run(["metrics"], "container_memory_usage_bytes")
        // Per-user quotas need a disk image with userQuota (DiskQuotaTests): web1 has none.
        try run(["quota", "web1"], expect: 1, "spec.resources.disk.userQuota: true")
        try run(["suspend", "web1"])
        try run(["resume", "web1"])
        try run(["stop", "web1"])
        #expect(!instance.running().contains("web1"))
        try run(["start", "web1"])
        #expect(instance.running().contains("web1"))
        try run(["events", "web1"])
        try run(["run", "--name", "once", "--", "/bin/true"])
        // CRIU: CheckpointTests covers it; on a kernel where `criu check`
        // fails (lane 2 here), both commands say so and exit 1.
        if (try? CRIU(workDirectory: instance.host.root + "/criu-check").check()) == nil {
            try run(["checkpoint", "web1", "--to", instance.host.root + "/images"], expect: 1, "criu check failed")
            try run(["restore", "web1", "--from", instance.host.root + "/images"], expect: 1)
        } else {
            try run(["checkpoint", "web1", "--to", instance.host.root + "/images"], "checkpointed web1")
            try run(["restore", "web1", "--from", instance.host.root + "/images"], "restored web1")
        }
        // migrate to a host with no sshd: refused at its first step, and
        // web1 keeps running here (MigrateTests moves one between two berths).
        try run(["migrate", "web1", "--to", "127.0.0.1", "--ssh-option", "ConnectTimeout=5"], expect: 1, "it kept running here")
        #expect(instance.running().contains("web1"))
        try run(["apply", "--prune", "--yes"], "delete Container/web1")
        #expect(try instance.host.runtime.list().isEmpty && instance.bridgesGone())

        // Every command of the README's CLI table ran, except those a
        // sandboxed test cannot: a terminal (enter) or a daemon (agent,
        // covered by AgentTests).
        let readme = try String(contentsOf: ExampleTests.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let cliSection = readme.components(separatedBy: "\n## CLI\n").dropFirst().first ?? ""
        let cliTable = cliSection.trimmingCharacters(in: .newlines).components(separatedBy: "\n\n").first ?? ""
        var documented: Set<String> = []
        for row in cliTable.split(separator: "\n") where row.hasPrefix("| `berth ") {
            let firstCell = row.split(separator: "|").first.map(String.init) ?? ""
            for part in firstCell.components(separatedBy: "`").enumerated() where part.offset % 2 == 1 {
                let words = part.element.split(separator: " ").map(String.init)
                documented.insert(words.first == "berth" ? words.dropFirst().first ?? "" : words.first ?? "")
            }
        }
        #expect(documented.count >= 15, "\(documented)")
        #expect(documented.subtracting(ran).subtracting(["enter", "agent"]) == [], "README commands no test ran")
    }
}
