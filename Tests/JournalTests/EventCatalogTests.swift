import Foundation
import Logging
import Testing

@testable import Journal

/// dist/berth.catalog explains every event kind (journalctl -x), and every
/// kind's MESSAGE reads as a sentence.
@Suite struct EventCatalogTests {
    static let catalog: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("dist/berth.catalog"), encoding: .utf8)) ?? ""
    }()

    /// The ids of the catalog's entries ("-- 0123...").
    static var catalogIDs: [String] {
        catalog.split(separator: "\n").filter { $0.hasPrefix("-- ") }.map { String($0.dropFirst(3)) }
    }

    @Test func catalogHasAnEntryForEveryKindAndNoOther() {
        let ids = EventKind.allCases.map(\.messageID)
        #expect(Set(ids).count == ids.count, "two kinds share a MESSAGE_ID")
        #expect(Set(Self.catalogIDs) == Set(ids))
        #expect(Self.catalogIDs.count == Set(Self.catalogIDs).count, "an id is in the catalog twice")
        for id in ids { #expect(id.count == 32 && id.allSatisfy(\.isHexDigit) && id == id.lowercased(), "\(id)") }
    }

    @Test(arguments: EventKind.allCases) func everyKindReadsAsASentence(_ kind: EventKind) {
        let fields = [
            "container": "web1", "object": "Container/web1", "pid": "4242", "network": "front", "bridge": "br-front", "code": "1",
        ]
        let sentence = kind.sentence(fields)
        #expect(sentence != kind.rawValue && sentence.count > kind.rawValue.count, "\(kind): \(sentence)")
    }

    @Test func aBareKindIsSentWithItsIdAndASentence() {
        let (kind, fields) = (EventKind.kind(message: "started", metadata: ["container": "web1", "pid": "7"]), ["container": "web1", "pid": "7"])
        #expect(kind == .started)
        #expect(kind?.sentence(fields) == "web1: started (init pid 7)")
        #expect(EventKind.kind(message: "web1: created", metadata: ["event": "applied"]) == .applied)
        #expect(EventKind.kind(message: "something else", metadata: [:]) == nil)
    }
}

/// JOURNAL_STREAM ("DEVICE:INODE") tells whether stderr is the journal already.
@Suite struct JournalStreamTests {
    @Test(
        arguments: [
            ("8:12345", (UInt64(8), UInt64(12345)), true), ("8:12345", (UInt64(8), UInt64(12346)), false),
            ("9:12345", (UInt64(8), UInt64(12345)), false), ("8:", (UInt64(8), UInt64(0)), false), ("", (UInt64(0), UInt64(0)), false),
            ("8:12345:1", (UInt64(8), UInt64(12345)), false), ("x:y", (UInt64(0), UInt64(0)), false),
        ] as [(String, (UInt64, UInt64), Bool)])
    func matchesStandardErrorsDeviceAndInode(_ value: String, _ stream: (UInt64, UInt64), _ expected: Bool) {
        #expect(JournalStream.matches(value, (device: stream.0, inode: stream.1)) == expected)
    }

    @Test func noStreamNoMatch() { #expect(!JournalStream.matches("8:12345", nil)) }
}
