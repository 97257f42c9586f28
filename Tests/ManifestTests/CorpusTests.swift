import Foundation
import Model
import Testing

@testable import Manifest

/// Golden files: each invalid manifest next to the diagnostics berth must
/// print for it (`NAME.expected`). Regenerate after a deliberate wording
/// change with `BERTH_UPDATE_GOLDEN=1 swift test --filter CorpusTests` and
/// review the diff.
@Suite struct CorpusTests {
    static let corpus = repositoryRoot.appendingPathComponent("Tests/ManifestTests/Corpus")
    static let host = HostFacts(name: "node1", labels: ["role": "web"])

    static func files(in folder: String) -> [String] {
        let directory = corpus.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { "\(folder)/\($0)" }
    }

    /// What `berth validate` reports for one corpus file, paths relative to the corpus.
    static func diagnostics(_ relative: String) throws -> [String] {
        let data = try Data(contentsOf: corpus.appendingPathComponent(relative))
        let decoded = ManifestLoader.decode(data, file: relative)
        if !decoded.errors.isEmpty { return rendered(decoded.errors.sorted()) }
        return rendered(ManifestSet(documents: decoded.documents).resolve(for: host).errors)
    }

    @Test(arguments: files(in: "invalid") + files(in: "invalid-swift-only"))
    func invalidManifestYieldsItsGoldenDiagnostics(file: String) throws {
        let actual = try CorpusTests.diagnostics(file)
        #expect(!actual.isEmpty, "\(file) was accepted")
        let expectedURL = CorpusTests.corpus.appendingPathComponent(
            String(file.dropLast(".yaml".count)) + ".expected")
        let text = actual.joined(separator: "\n") + "\n"
        if ProcessInfo.processInfo.environment["BERTH_UPDATE_GOLDEN"] == "1" {
            try text.write(to: expectedURL, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOf: expectedURL, encoding: .utf8) else {
            Issue.record("no \(expectedURL.lastPathComponent); run BERTH_UPDATE_GOLDEN=1 swift test --filter CorpusTests")
            return
        }
        #expect(text == expected)
    }

    @Test(arguments: files(in: "valid"))
    func validCorpusFileHasNoErrors(file: String) throws {
        #expect(try CorpusTests.diagnostics(file) == [])
    }

    @Test func bundledExamplesAreValidTogether() throws {
        let result = ManifestLoader().load(paths: [repositoryRoot.appendingPathComponent("manifests").path])
        #expect(result.errors.isEmpty, "\(rendered(result.errors))")
        #expect(result.files.count >= 3)
        let (desired, errors) = ManifestSet(documents: result.documents).resolve(for: HostFacts(name: "demo"))
        #expect(errors.isEmpty, "\(rendered(errors))")
        #expect(desired.containers.count >= 3)
        #expect(desired.networks.count >= 2)
    }

    @Test func everyExampleCarriesTheSchemaModeline() throws {
        let directory = repositoryRoot.appendingPathComponent("manifests")
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".yaml") {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            #expect(text.hasPrefix("# yaml-language-server: $schema=../schemas/manifest.schema.json"), "\(name)")
        }
    }
}
