import Foundation
import Testing

@testable import Netlink

/// Replays the netlink fuzz target's seeds and every input the fuzzer ever
/// found (fuzz/corpus/netlink, fuzz/regressions/netlink) through the target's
/// own code, NetlinkFuzzInput (fuzz/NetlinkFuzzInput.swift, linked here): no
/// crash, no endless loop, and a decoded message re-encodes to itself.
@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func inputs() -> [String] {
        ["fuzz/corpus/netlink", "fuzz/regressions/netlink"].flatMap { folder in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path)) ?? []
            return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
        }
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(path)))
    }

    @Test func theSeedCorpusIsThere() {
        #expect(FuzzRegressionTests.inputs().count >= 10)
    }

    @Test(arguments: inputs())
    func fuzzInputIsHandled(path: String) throws {
        #expect(NetlinkFuzzInput.problems(try FuzzRegressionTests.bytes(path)) == [])
    }

    /// The seeds are the kernel's answers they stand for.
    @Test func theLinkSeedDecodesItsLinks() throws {
        let input = try FuzzRegressionTests.bytes("fuzz/corpus/netlink/links.bin")
        let client = RouteNetlink(transport: NetlinkFuzzInput.ReplayTransport(NetlinkFuzzInput.datagrams(input.dropFirst())))
        let links = try client.links()
        #expect(links.map(\.name) == ["lo", "eth0", "br-front"])
        #expect(links.map(\.kind) == [nil, "veth", "bridge"])
        #expect(links[1].master == 3)
    }
}
