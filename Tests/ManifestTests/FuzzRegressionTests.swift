import Foundation
import Testing

/// Replays the manifest fuzz target's seeds and every input the fuzzer ever
/// found (fuzz/corpus/manifest, fuzz/regressions/manifest: a crash, a hang or
/// a slow input, kept once fixed) through the target's own code,
/// ManifestFuzzInput (fuzz/ManifestFuzzInput.swift, linked here): no crash,
/// no hang, and every diagnostic one escaped line.
@Suite struct FuzzRegressionTests {
    static func inputs() -> [String] {
        ["fuzz/corpus/manifest", "fuzz/regressions/manifest"].flatMap { folder in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent(folder).path)) ?? []
            return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
        }
    }

    @Test func theSeedCorpusIsThere() {
        #expect(FuzzRegressionTests.inputs().count >= 20)
    }

    @Test(arguments: inputs())
    func fuzzInputIsHandled(path: String) throws {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent(path))
        var problems: [String] = []
        let elapsed = ContinuousClock().measure { problems = ManifestFuzzInput.problems(data) }
        #expect(problems == [])
        #expect(elapsed < .seconds(10), "\(path) took \(elapsed)")  // a hang, not a timing assertion
    }
}
