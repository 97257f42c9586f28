import Foundation
import Kernel
import Manifest
import Model
import Testing

@testable import Runtime

/// Every ```yaml block of README.md and docs/ is a manifest a newcomer may
/// copy: it must validate (with the profiles, networks and port-forward
/// containers it names, taken from manifests/), and a container on the
/// busybox template must find its init there. Lane 2 (ExampleTests)
/// applies them.
@Suite struct DocumentationExampleTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    struct Block: CustomTestStringConvertible, Sendable {
        var file: String
        /// The line of the opening fence.
        var line: Int
        var text: String
        var testDescription: String { "\(file):\(line)" }
    }

    static func markdownFiles() -> [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("docs").path)) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }

    static func blocks() -> [Block] {
        var blocks: [Block] = []
        for file in markdownFiles() {
            guard let text = try? String(contentsOf: repository.appendingPathComponent(file), encoding: .utf8) else { continue }
            var current: (line: Int, lines: [Substring])?
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let fence = line.trimmingCharacters(in: .whitespaces)
                if current == nil, fence == "```yaml" || fence == "```yml" {
                    current = (index + 1, [])
                } else if let open = current, fence == "```" {
                    blocks.append(Block(file: file, line: open.line, text: open.lines.joined(separator: "\n") + "\n"))
                    current = nil
                } else {
                    current?.lines.append(line)
                }
            }
        }
        return blocks
    }

    @Test func theReadmeHasItsWalkthrough() {
        #expect(DocumentationExampleTests.blocks().contains { $0.file == "README.md" && $0.text.contains("kind: Container") })
    }

    @Test(arguments: blocks()) func aDocumentedManifestValidatesAndItsInitIsInTheTemplate(_ block: Block) throws {
        let decoded = ManifestLoader.decode(Data(block.text.utf8), file: "\(block.file) (block at line \(block.line))")
        #expect(decoded.errors.map(\.description) == [])
        let examples = ManifestLoader().load(paths: [DocumentationExampleTests.repository.appendingPathComponent("manifests").path])
        #expect(examples.errors.isEmpty)
        // What the block names and does not declare, from the examples: a
        // network's port forwards name containers, which name profiles and networks.
        var documents = decoded.documents
        var declared = Set(documents.map { "\($0.kind.rawValue)/\($0.metadata.name)" })
        var index = 0
        while index < documents.count {
            var wanted: [String] = []
            switch documents[index].object {
            case .container(let spec), .profile(let spec):
                wanted += (spec.profiles ?? []).map { "Profile/" + $0 } + (spec.networks ?? []).map { "Network/" + $0.network }
            case .network(let spec):
                wanted += (spec.portForwards ?? []).map { "Container/" + $0.container }
            }
            for name in wanted where !declared.contains(name) {
                guard let example = examples.documents.first(where: { "\($0.kind.rawValue)/\($0.metadata.name)" == name }) else { continue }
                documents.append(example)
                declared.insert(name)
            }
            index += 1
        }
        let (desired, errors) = ManifestSet(documents: documents).resolve(for: HostFacts(name: "docs"))
        #expect(errors.map(\.description) == [])

        let store = TemplateStore(directory: "/nonexistent")
        guard Syscall.exists(store.busyboxBinary) else { return }  // Debian's busybox-static: installed by make test
        let busybox = InitCheck.Root(layers: [.layout(try store.busyboxLayout())], name: "template busybox")
        for container in desired.containers where container.spec.rootfs == .template("busybox") {
            #expect(InitCheck.problems(container.spec, in: busybox).map(\.description) == [], "\(container.metadata.name)")
        }
    }
}
