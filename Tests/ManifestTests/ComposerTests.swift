import Foundation
import Model
import Testing

@testable import Manifest

@Suite struct ComposerTests {
    @Test func nodesCarryOneBasedLineAndColumn() throws {
        let result = decode(validContainer)
        #expect(result.errors.isEmpty)
        let document = try #require(result.documents.first)
        #expect(document.location == SourceLocation(file: "test.yaml", line: 1, column: 1))
        let rootfs = document.location(of: FieldPath.root / "spec" / "rootfs" / "template")
        #expect(rootfs.line == 6)
        #expect(rootfs.column == 22)
    }

    @Test func duplicateKeyNamesBothPositions() {
        let errors = rendered(decode(validContainer + "  hostname: a\n  hostname: b\n").errors)
        #expect(errors == ["test.yaml:8:3: error: duplicate key 'hostname' (first defined at 7:3)"])
    }

    @Test func billionLaughsIsRefusedQuickly() throws {
        var yaml = "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
        for level in 1...9 {
            let previous = "*a\(level - 1)"
            yaml += "a\(level): &a\(level) [\(Array(repeating: previous, count: 9).joined(separator: ", "))]\n"
        }
        let clock = ContinuousClock()
        var result: (documents: [ManifestDocument], errors: [ManifestError]) = ([], [])
        let elapsed = clock.measure { result = decode(yaml) }
        let error = try #require(result.errors.first)
        #expect(error.message.contains("YAML bomb"))
        // Refused while composing, long before any expansion: a generous bound
        // that only an exponential blow-up could exceed.
        #expect(elapsed < .seconds(2))
    }

    @Test func aliasesWithinBudgetAreExpanded() {
        let yaml = """
            apiVersion: berth/v1
            kind: Profile
            metadata: {name: base}
            spec:
              env: &env {A: "1"}
              rootfs: {template: busybox}
            """
        #expect(decode(yaml).errors.isEmpty)
    }

    @Test func nestingDepthIsBounded() {
        let yaml = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        let errors = decode(yaml).errors
        #expect(errors.count == 1)
        #expect(errors.first?.message.contains("nesting deeper than 64") == true)
    }

    @Test(arguments: [
        ([0xEF, 0xBB, 0xBF] + Array("a: b\n".utf8), "1:1", "byte-order mark"),
        (Array("a: b\nc: \u{7}\n".utf8), "2:4", "control character 0x07"),
        (Array("a: b\n".utf8) + [0x00], "2:1", "NUL byte"),
        (Array("a: \"".utf8) + [0xC3, 0x28] + Array("\"\n".utf8), "1:5", "invalid UTF-8"),
        (Array("a: ".utf8) + [0xED, 0xA0, 0x80], "1:4", "invalid UTF-8"),
        (Array("a: ".utf8) + [0xC0, 0xAF], "1:4", "invalid UTF-8"),
    ])
    func badBytesAreRefusedWithTheirPosition(bytes: [UInt8], position: String, message: String) throws {
        let result = ManifestLoader.decode(Data(bytes), file: "bad.yaml")
        let error = try #require(result.errors.first)
        #expect(error.location.description == "bad.yaml:\(position)")
        #expect(error.message.contains(message))
    }

    @Test func tabIndentationReportsLibyamlPosition() throws {
        let errors = decode("apiVersion: berth/v1\nkind: Container\nmetadata:\n\tname: x\n").errors
        let error = try #require(errors.first)
        #expect(error.location.line == 4)
        #expect(error.hint == "indent with spaces, not tabs")
    }

    @Test func emptyDocumentsAreSkipped() {
        let result = decode("---\n---\n" + validContainer + "---\n# only a comment\n")
        #expect(result.errors.isEmpty)
        #expect(result.documents.count == 1)
    }

    @Test(arguments: [
        ("yes", Scalar.Resolved.string("yes")), ("on", .string("on")), ("true", .bool(true)), ("False", .bool(false)),
        ("~", .null), ("", .null), ("010", .int("010")), ("0x1f", .int("0x1f")), ("1_000", .string("1_000")),
        ("1.5", .float("1.5")), (".5", .float(".5")), ("1e3", .float("1e3")), ("-.inf", .float("-.inf")),
        ("1:20", .string("1:20")), ("512Mi", .string("512Mi")), ("10.88.0.1", .string("10.88.0.1")),
    ])
    func plainScalarsResolveByYAML12CoreSchema(text: String, expected: Scalar.Resolved) {
        #expect(Scalar(text: text, isPlain: true).resolved == expected)
    }

    @Test func quotedScalarsAreStrings() {
        #expect(Scalar(text: "true", isPlain: false).resolved == .string("true"))
        #expect(Scalar(text: "123", isPlain: true, forcedString: true).resolved == .string("123"))
    }

    @Test func unsupportedTagsAreRefused() {
        let errors = rendered(decode(validContainer + "  hostname: !!binary aGk=\n").errors)
        #expect(errors.contains { $0.contains("explicit tag 'tag:yaml.org,2002:binary' is not supported") })
    }

    @Test func oversizedFileIsRefusedBeforeParsing() {
        var limits = ParseLimits()
        limits.maxFileBytes = 64
        let errors = decode(validContainer, limits: limits).errors
        #expect(errors.first?.message.contains("over the limit of 64") == true)
    }

    @Test func documentCountIsBounded() {
        var limits = ParseLimits()
        limits.maxDocumentsPerFile = 2
        let yaml = Array(repeating: "--- {}\n", count: 3).joined()
        let errors = decode(yaml, limits: limits).errors
        #expect(errors.contains { $0.message.contains("more than 2 documents") })
    }
}
