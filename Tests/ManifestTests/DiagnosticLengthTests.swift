import Model
import Testing

@testable import Manifest

/// A diagnostic quoting a huge value stays a line of bounded length: its
/// start (position, field) and end (hint) kept, the middle counted.
@Suite struct DiagnosticLengthTests {
    @Test func aHugeValueIsElidedInTheMiddleOfItsLine() throws {
        let errors = decode(validContainer + "  hostname: " + String(repeating: "a", count: 100_000) + "\n").errors
        let line = try #require(errors.first?.description)
        #expect(line.unicodeScalars.count < ManifestError.maxLineLength + 40)
        #expect(line.hasPrefix("test.yaml:7:13: error: spec.hostname: hostname 'aaaa"))
        #expect(line.hasSuffix("aaaa' is longer than 64 bytes"))
        #expect(line.contains("…[99177 characters not shown]…"))
        // The message itself (-o json) is untouched.
        #expect(errors.first?.message.count == 100_000 + "hostname '' is longer than 64 bytes".count)
    }

    @Test func aLineUpToTheLimitIsPrintedWhole() {
        let line = String(repeating: "x", count: ManifestError.maxLineLength)
        #expect(ManifestError.bounded(line) == line)
        #expect(ManifestError.bounded(line + "y") != line + "y")
    }
}
