import Testing

@testable import Journal

@Suite struct NativeProtocolTests {
    @Test func simpleFieldsAreNameEqualsValueLines() throws {
        let datagram = try NativeProtocol.encode([
            ("MESSAGE", "applied web1"), ("PRIORITY", "6"), ("BERTH_OBJECT", "web1"),
        ])
        #expect(String(decoding: datagram, as: UTF8.self) == "MESSAGE=applied web1\nPRIORITY=6\nBERTH_OBJECT=web1\n")
    }

    /// A value with a newline: NAME, LF, 64-bit little-endian length, bytes, LF.
    @Test func multiLineValueIsLengthPrefixed() throws {
        let datagram = try NativeProtocol.encode([("MESSAGE", "a\nb")])
        let expected: [UInt8] =
            Array("MESSAGE\n".utf8)
            + [0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]  // length 3, little-endian
            + Array("a\nb\n".utf8)
        #expect(datagram == expected)
    }

    @Test func emptyValueIsKept() throws {
        #expect(try NativeProtocol.encode([("BERTH_OBSERVED", "")]) == Array("BERTH_OBSERVED=\n".utf8))
    }

    /// Metadata keys become BERTH_ fields journald accepts, whatever they hold.
    @Test func metadataKeysBecomeValidFieldNames() {
        #expect(JournalSink.fieldName("container") == "BERTH_CONTAINER")
        #expect(JournalSink.fieldName("exitCode2") == "BERTH_EXITCODE2")
        #expect(JournalSink.fieldName("dry-run.é") == "BERTH_DRY_RUN___")
        for key in ["container", "dry-run.é", "a b"] { #expect(NativeProtocol.isValidFieldName(JournalSink.fieldName(key))) }
    }

    @Test(arguments: ["MESSAGE", "BERTH_ACTION", "A", "X1", String(repeating: "A", count: 64)])
    func acceptsClientFieldNames(name: String) {
        #expect(NativeProtocol.isValidFieldName(name))
    }

    @Test(arguments: ["", "_PID", "1ABC", "message", "BERTH-OBJECT", "BERTH OBJECT", "ÄÖ", String(repeating: "A", count: 65)])
    func refusesOtherFieldNames(name: String) {
        #expect(!NativeProtocol.isValidFieldName(name))
        #expect(throws: NativeProtocol.InvalidFieldName.self) { try NativeProtocol.encode([(name, "x")]) }
    }
}
