import Foundation
import Model
import Testing

@testable import Manifest

/// Reproducers from review: each once slipped past a check or cost too much.
@Suite struct HostileInputTests {
    @Test(arguments: ["/srv/base/../\u{301}", "/a//\u{301}", "/dev/../\u{301}", "/var/lib/../\u{200D}"])
    func pathCheckSplitsOnBytesNotGraphemes(path: String) {
        #expect(throws: ValueError.self) { try Names.checkAbsolutePath(path) }
    }

    @Test(arguments: ["\"a\\0b\"", "\"x\\e[31m\"", "\"a\\x85b\"", "\"a\\u2028b\"", "\"\\uFEFF\""])
    func escapedControlCharactersAreRefused(value: String) {
        let errors = decode(validContainer + "  env: {A: \(value)}\n").errors
        #expect(errors.contains { $0.message.hasPrefix("value contains") }, "\(rendered(errors))")
    }

    @Test func loneCarriageReturnIsRefusedButCRLFIsFine() {
        #expect(decode("a: 1\rb: 2\n").errors.first?.message.contains("carriage return") == true)
        #expect(decode(validContainer.replacingOccurrences(of: "\n", with: "\r\n")).errors.isEmpty)
    }

    @Test func emptyDocumentsCountTowardsTheDocumentLimit() {
        var limits = ParseLimits()
        limits.maxDocumentsPerFile = 10
        let errors = decode(String(repeating: "---\n", count: 50), limits: limits).errors
        #expect(errors.contains { $0.message.contains("more than 10 documents") })
    }

    @Test func hugeCPUListsAreRefusedCheaply() {
        let list = Array(repeating: "0-99999", count: 500).joined(separator: ",")
        #expect(throws: ValueError.self) { try CPUSet(parsing: list) }
        #expect(throws: ValueError.self) { try CPUSet(parsing: "0-8192") }
        #expect((try? CPUSet(parsing: "0-8191"))?.cpus.count == 8192)
    }

    @Test func cpuQuantityTakesAtMostThreeDecimals() {
        #expect(throws: ValueError.self) { try CPUQuantity(parsing: "1.5000") }
    }

    @Test func aliasedErrorsAreCapped() {
        let bad = Array(repeating: "x", count: 300).joined(separator: ", ")
        let aliases = Array(repeating: "*m", count: 50).joined(separator: ", ")
        let yaml = validContainer + "  init: &m {network: front, addresses: [\(bad)]}\n  networks: [\(aliases)]\n"
        let errors = decode(yaml).errors
        #expect(errors.count <= 1002)
        #expect(errors.last?.message.contains("more errors in this file not shown") == true)
    }

    @Test func manyNetworksAreCheckedInNearLinearTime() {
        var yaml = ""
        for index in 0..<3000 {
            yaml += "--- {apiVersion: berth/v1, kind: Network, metadata: {name: n\(index)}, "
            yaml += "spec: {subnet: 10.\(index / 256).\(index % 256).0/24}}\n"
        }
        let clock = ContinuousClock()
        var errors: [ManifestError] = []
        let elapsed = clock.measure { errors = check(yaml) }
        #expect(errors.isEmpty)
        #expect(elapsed < .seconds(20))  // quadratic took minutes; linear takes well under a second
    }
}
