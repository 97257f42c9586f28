import Foundation
import Kernel
import Netlink
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

    struct Instance {
        let host: TestHost
        var global: [String] { ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent] }

        @discardableResult
        func berth(_ arguments: [String], input: String? = nil) throws -> (code: Int32, output: String) {
            let command = arguments[0]
            let result = try Spawn.run(
                [ContainerCLITests.binary, command] + global + arguments.dropFirst(), input: input.map { Array($0.utf8) },
                mergingStandardError: true)
            return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
        }

        func running() -> Set<String> {
            Set(host.runtime.list().compactMap { if case .running = $0.status { return $0.record.name } else { return nil } })
        }

        /// A page from `url`, retried while the server starts.
        func page(_ url: String, containing text: String) throws -> String {
            var page = ""
            for _ in 0..<25 where !page.contains(text) {
                page = String(decoding: try Spawn.run(["/bin/busybox", "wget", "-q", "-O", "-", url]).output, as: UTF8.self)
                if !page.contains(text) { usleep(200_000) }
            }
            return page
        }
    }

    func bridgesGone() -> Bool {
        let links = ((try? RouteNetlink().links()) ?? []).map(\.name)
        return !links.contains("br-front") && !links.contains("br-edge")
    }

    @Test func bundledExamplesRunServeAndAreAllRemovedByPruneWithoutManifests() throws {
        let instance = Instance(host: try TestHost())
        defer {
            _ = try? instance.berth(["apply", "--prune", "--yes"])
            for bridge in ["br-front", "br-edge"] { try? RouteNetlink().deleteLink(bridge) }
            #expect(instance.host.tearDown() == [])
        }
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
        #expect(bridgesGone())
        let table = "berth_" + String(instance.host.parent.map { $0.isLetter || $0.isNumber ? $0 : "_" })
        #expect(!(try NFTablesNetlink.tableExists(family: NFTablesNetlink.familyIP, name: table)), "the NAT table is left")
        #expect(try instance.berth(["apply", "--prune", "--yes"]).output.contains("berth owns nothing in this instance"))
    }

    /// The README's walkthrough manifest with the examples' profiles and
    /// networks (and edge-web, which a port forward of `edge` names).
    @Test func readmeWalkthroughRunsAndItsCLICommandsWork() throws {
        let instance = Instance(host: try TestHost())
        defer {
            _ = try? instance.berth(["apply", "--prune", "--yes"])
            for bridge in ["br-front", "br-edge"] { try? RouteNetlink().deleteLink(bridge) }
            #expect(instance.host.tearDown() == [])
        }
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
        try run(["list"], "web1")
        try run(["status", "web1"], "running")
        try run(["exec", "web1", "--", "/bin/hostname"], "web1")
        try run(["ubc", "web1"], "FAILCNT")
        try run(["suspend", "web1"])
        try run(["resume", "web1"])
        try run(["stop", "web1"])
        #expect(!instance.running().contains("web1"))
        try run(["start", "web1"])
        #expect(instance.running().contains("web1"))
        try run(["events", "web1"])
        try run(["run", "--name", "once", "--", "/bin/true"])
        try run(["checkpoint", "web1"], expect: 1, "not implemented yet")
        try run(["restore", "web1"], expect: 1, "not implemented yet")
        try run(["apply", "--prune", "--yes"], "delete Container/web1")
        #expect(instance.host.runtime.list().isEmpty && bridgesGone())

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
