import Foundation
import Testing

/// Every MESSAGE_ID berth sends has an entry in dist/berth.catalog, so
/// `journalctl --catalog` explains it (Journal's EventKind is the source).
@Suite struct CatalogTests {
    @Test func everyEventKindIsInTheCatalog() throws {
        let catalog = try String(contentsOf: repositoryRoot.appendingPathComponent("dist/berth.catalog"), encoding: .utf8)
        let source = try String(contentsOf: repositoryRoot.appendingPathComponent("Sources/Journal/JournalLogHandler.swift"), encoding: .utf8)
        let pieces: [Substring] = source.split(separator: "\"" as Character)
        let ids: [String] = pieces.filter { $0.count == 32 && $0.allSatisfy(\.isHexDigit) }.map { String($0) }
        #expect(ids.count >= 6)
        for id in ids { #expect(catalog.contains("-- \(id)\n"), "\(id) missing from dist/berth.catalog") }
    }
}
