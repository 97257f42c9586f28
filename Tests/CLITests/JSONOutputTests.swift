import Foundation
import Model
import Reconcile
import Runtime
import Testing

@testable import berth

/// `--output json` is written by RecordJSON's writer (JSONText), which must
/// give JSONEncoder's bytes with the options the CLI always used: every
/// shape of value the outputs are made of, and the outputs themselves.
struct JSONOutputTests {
    func foundation<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    struct Shapes: Encodable {
        var text = "plain"
        var escapes = "quote \" backslash \\ slash / tab \t newline \n return \r bell \u{7} backspace \u{8} formfeed \u{c} unit \u{1f} del \u{7f}"
        var unicode = "été 🚢 \u{2028} \u{feff}"
        var empty = ""
        var integers: [Int] = [0, -1, 42, Int.max, Int.min]
        var unsigned: [UInt64] = [0, UInt64.max]
        var doubles: [Double] = [0, 1, -2.5, 0.1, 1e-7, 123_456_789.25, 1e21, 3.0e10]
        var flags = [true, false]
        var none: Int? = nil
        var some: Int? = 3
        var emptyArray: [String] = []
        var emptyObject: [String: Int] = [:]
        var nested: [String: [String: [Int]]] = ["b": ["y": [1], "x": []], "a": [:]]
        /// Keys of every case, digits and punctuation: sorted as JSONEncoder sorts them.
        var keys: [String: Int] = [
            "B": 1, "a": 2, "a10": 3, "a9": 4, "_x": 5, "Z": 6, "z": 7, "10": 8, "9": 9, "é": 10, "e": 11, "A-b": 12, "a.b": 13,
        ]
        var intKeys: [Int: String] = [10: "ten", 9: "nine", -1: "minus one"]
        var objects: [Inner] = [Inner(), Inner(name: nil)]
        @NullWhenAbsent var nullWhenAbsent: Int? = nil
        @NullWhenAbsent var presentWhenThere: Double? = 2
        struct Inner: Encodable {
            var name: String? = "n"
            var zeta = 1
            var alpha = "a"
        }
    }

    @Test func everyShapeIsWrittenAsJSONEncoderWritesIt() throws {
        #expect(try JSONText.encode(Shapes()) == foundation(Shapes()))
        for value in [[String](), ["one"]] { #expect(try JSONText.encode(value) == foundation(value)) }
        #expect(try JSONText.encode([String: String]()) == foundation([String: String]()))
    }

    /// The outputs apply and plan write most: actions with their changes and
    /// outcomes (failed, skipped, with a duration and a finish).
    @Test func actionsAndOutcomesAreWrittenAsJSONEncoderWritesThem() throws {
        let change = FieldChange("spec.resources.memory.max", desired: .bytes(64 << 20), observed: .absent, origin: .drift)
        let actions = [
            Action(.container("web"), .freezeContainer, changes: [change], reason: .liveChange),
            Action(.container("db"), .thawContainer, reason: .stateFrozen),
            Action(.network("front"), .deleteNetwork(bridge: "br-front"), reason: .doesNotExist),
        ]
        let outcomes = [
            Outcome(
                action: actions[0], result: .failed("write \"memory.limit_in_bytes\": Device or resource busy\n\u{8}"), milliseconds: 3,
                microseconds: 3210, finished: 12),
            Outcome(action: actions[1], result: .skipped(.earlierFailure(.container("web"))), finished: 13),
            Outcome(action: actions[2], result: .applied, milliseconds: 0, microseconds: 17, finished: 14),
        ]
        let planned = actions.map { PlanOutput.ActionJSON($0) }
        let applied = outcomes.map { PlanOutput.ActionJSON($0.action, outcome: $0, began: 10) }
        #expect(try JSONText.encode(planned) == foundation(planned))
        #expect(try JSONText.encode(applied) == foundation(applied))
        #expect(try JSONOutput.encode(applied) == foundation(applied))
        #expect(try JSONText.encode([PlanOutput.ActionJSON]()) == foundation([PlanOutput.ActionJSON]()))
    }
}
