import Foundation
import Model
import Testing

/// Lane 2's suites run side by side in one sandbox host (one network
/// namespace): a suite's bridges and routes are every other suite's too,
/// so two suites whose subnets overlap would take each other's traffic
/// and fail by turns, depending on which runs when. Every IPv4 subnet
/// written in a suite's code (comment lines aside) must not overlap
/// another suite's; a suite picks one of its own (MacvlanNetworkTests has
/// 10.64.x, NetworkContractTests 10.61.x, ...).
@Suite struct LaneTwoSubnetTests {
    static let suites = DocumentationExampleTests.repository.appendingPathComponent("Tests/HostKernelTests")

    /// Each suite's subnets, by suite (`Name+Part.swift` is suite Name's).
    static func subnets() throws -> [String: Set<CIDR>] {
        let files = try FileManager.default.contentsOfDirectory(atPath: suites.path).filter { $0.hasSuffix(".swift") }
        let literal = /\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\/\d{1,2}/
        var found: [String: Set<CIDR>] = [:]
        for file in files {
            let suite = String(file.dropLast(".swift".count).prefix { $0 != "+" })
            let text = try String(contentsOf: suites.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                // Words of digits, dots and slashes ("http://10.77.0.12/" is an address, no subnet).
                let words = line.split { !($0.isNumber || $0 == "." || $0 == "/") }.map { $0.trimmingPrefix("/") }
                for word in words where word.wholeMatch(of: literal) != nil {
                    guard let cidr = try? CIDR(parsing: String(word)), (8...30).contains(cidr.prefixLength) else { continue }
                    found[suite, default: []].insert(CIDR(address: cidr.network, prefixLength: cidr.prefixLength))
                }
            }
        }
        return found
    }

    @Test func noTwoLaneTwoSuitesUseOverlappingSubnets() throws {
        let found = try Self.subnets()
        // The scan finds what it should: suites known to have networks.
        #expect(found["ContainerNetworkTests"]?.isEmpty == false && found["MacvlanNetworkTests"]?.isEmpty == false)
        let names = found.keys.sorted()
        for (position, suite) in names.enumerated() {
            for other in names.dropFirst(position + 1) {
                for mine in found[suite] ?? [] {
                    for theirs in found[other] ?? [] where mine.overlaps(theirs) {
                        Issue.record("\(suite) uses \(mine) and \(other) \(theirs): pick a subnet no other lane-2 suite has")
                    }
                }
            }
        }
    }
}
