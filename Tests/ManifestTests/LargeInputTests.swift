import Foundation
import Model
import Testing

@testable import Manifest

/// Documents as large as the limits allow, decoded whole with the right
/// diagnostics. Once quadratic (a 50,000-key mapping took minutes); what they
/// cost is measured by `berth-bench parse`, never asserted here.
@Suite struct LargeInputTests {
    static let head = """
        apiVersion: berth/v1
        kind: Container
        metadata:
          name: big

        """

    /// A Container with `count` labels `k0: v0` ... on lines 6 onwards.
    static func labels(_ count: Int) -> String {
        var yaml = head + "  labels:\n"
        for index in 0..<count { yaml += "    k\(index): v\(index)\n" }
        return yaml + "spec:\n  rootfs: {template: busybox}\n"
    }

    @Test func fiftyThousandLabelsAreDecoded() throws {
        var limits = ParseLimits()
        limits.maxNodesPerDocument = 200_000
        let result = decode(Self.labels(50_000), limits: limits)
        #expect(result.errors.isEmpty, "\(rendered(Array(result.errors.prefix(3))))")
        let labels = try #require(result.documents.first?.metadata.labels)
        #expect(labels.count == 50_000)
        #expect(labels["k0"] == "v0" && labels["k31337"] == "v31337" && labels["k49999"] == "v49999")
    }

    @Test func fiftyThousandKeysOverTheNodeBudgetAreRefusedWhereTheBudgetRunsOut() {
        // 11 nodes before the labels and 2 per label: label 49,994's value is node 100,001.
        let errors = rendered(decode(Self.labels(50_000)).errors)
        #expect(
            errors == [
                "test.yaml:50000:13: error: document expands to more than 100000 nodes (aliases included); refusing it as a possible YAML bomb"
            ])
    }

    @Test func everyDuplicateOfFortyEightThousandKeysNamesTheFirst() {
        var yaml = Self.head + "  labels:\n"
        for index in 0..<24_000 { yaml += "    k\(index): v\n" }
        for index in 0..<24_000 { yaml += "    k\(index): w\n" }
        yaml += "spec:\n  rootfs: {template: busybox}\n"
        let errors = rendered(decode(yaml).errors)
        #expect(errors.count == 24_000)
        #expect(errors.allSatisfy { $0.contains(": error: duplicate key 'k") })
        #expect(errors.first == "test.yaml:24006:5: error: duplicate key 'k0' (first defined at 6:5)")
        #expect(errors.last == "test.yaml:48005:5: error: duplicate key 'k23999' (first defined at 24005:5)")
    }

    /// Duplicates found by a scan of a small mapping's keys and by the table
    /// a larger one builds once it has 16: each names its first position.
    @Test(arguments: [
        (2, 5, "test.yaml:11:5: error: duplicate key 'k2' (first defined at 8:5)"),
        (3, 15, "test.yaml:21:5: error: duplicate key 'k3' (first defined at 9:5)"),
        (4, 16, "test.yaml:22:5: error: duplicate key 'k4' (first defined at 10:5)"),
        (15, 17, "test.yaml:23:5: error: duplicate key 'k15' (first defined at 21:5)"),
        (16, 30, "test.yaml:36:5: error: duplicate key 'k16' (first defined at 22:5)"),
    ])
    func duplicateKeyAtAnySizeOfMappingNamesTheFirst(first: Int, position: Int, expected: String) {
        var yaml = Self.head + "  labels:\n"
        for index in 0..<32 { yaml += "    k\(index == position ? first : index): v\n" }
        yaml += "spec:\n  rootfs: {template: busybox}\n"
        #expect(rendered(decode(yaml).errors) == [expected])
    }

    @Test func fortyNineThousandUnknownKeysReportTheFirstThousandAndCountTheRest() {
        var yaml = Self.head + "spec:\n  rootfs: {template: busybox}\n"
        for index in 0..<49_000 { yaml += "  x\(index): 1\n" }
        let errors = rendered(decode(yaml).errors)
        let valid =
            "(valid fields: placement, profiles, state, hostname, rootfs, init, env, networks, resources, devices, capabilities, "
            + "security, proc, mounts, userNamespace, restartPolicy, stopTimeout, firewall, policy, logs)"
        #expect(errors.count == 1001)
        #expect(errors.first == "test.yaml:7:3: error: spec.x0: unknown field " + valid)
        #expect(errors.dropLast().last == "test.yaml:1006:3: error: spec.x999: unknown field " + valid)
        #expect(errors.last == "test.yaml:1006:3: error: 48000 more errors in this file not shown")
    }

    /// A Container whose init command is `count` items `a0` ... on lines 9 onwards.
    static func command(_ count: Int, replacing bad: Int? = nil) -> String {
        var yaml = head + "spec:\n  rootfs: {template: busybox}\n  init:\n    command:\n"
        for index in 0..<count { yaml += index == bad ? "      - {a: b}\n" : "      - a\(index)\n" }
        return yaml
    }

    @Test func twentyThousandItemListIsDecodedInOrder() throws {
        let result = decode(Self.command(20_000))
        #expect(result.errors.isEmpty, "\(rendered(Array(result.errors.prefix(3))))")
        guard case .container(let spec) = try #require(result.documents.first).object else {
            Issue.record("not a container")
            return
        }
        let command = try #require(spec.`init`?.command)
        #expect(command.count == 20_000)
        #expect(command == (0..<20_000).map { "a\($0)" })
    }

    @Test func oneBadItemOfTwentyThousandIsReportedAtItsLine() {
        let errors = rendered(decode(Self.command(20_000, replacing: 12_345)).errors)
        #expect(errors == ["test.yaml:12354:9: error: spec.init.command[12345]: expected a string, got a mapping"])
    }

    /// `count` firewall rules: one anchored, the others aliases of it (9 nodes each).
    static func aliasedRules(_ count: Int) -> String {
        var yaml = head + "spec:\n  rootfs: {template: busybox}\n  firewall:\n    rules:\n"
        yaml += "      - &r {action: allow, protocol: tcp, port: 80, from: 10.0.0.0/8}\n"
        for _ in 1..<count { yaml += "      - *r\n" }
        return yaml
    }

    @Test func aliasFanOutWithinTheBudgetIsExpanded() throws {
        let result = decode(Self.aliasedRules(11_000))
        #expect(result.errors.isEmpty, "\(rendered(Array(result.errors.prefix(3))))")
        guard case .container(let spec) = try #require(result.documents.first).object else {
            Issue.record("not a container")
            return
        }
        #expect(spec.firewall?.rules?.count == 11_000)
        #expect(spec.firewall?.rules?.allSatisfy { $0.port == 80 && $0.action == .allow } == true)
    }

    @Test func aliasFanOutPastTheBudgetIsRefusedAtTheAliasThatCrossesIt() {
        // 19 nodes before the rules, 9 per rule: rule 11,110 (line 11,118), an alias, crosses 100,000.
        let errors = rendered(decode(Self.aliasedRules(100_000)).errors)
        #expect(
            errors == [
                "test.yaml:11118:9: error: document expands to more than 100000 nodes (aliases included); refusing it as a possible YAML bomb"
            ])
    }
}

/// "did you mean" picks what a measure of every candidate's full distance
/// would: the closest one, the first of equals, none past the allowance.
@Suite struct SuggestTests {
    /// The distance measured in full, as it was before it stopped early.
    static func fullDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1) }
            }
        }
        return rows[a.count][b.count]
    }

    static func fullClosest(to word: String, in candidates: [String]) -> String? {
        var best: (String, Int)?
        for candidate in candidates {
            if candidate.lowercased() == word.lowercased() { return candidate }
            let distance = fullDistance(word.lowercased(), candidate.lowercased())
            if distance < best?.1 ?? .max { best = (candidate, distance) }
        }
        guard let (candidate, distance) = best else { return nil }
        return distance <= max(2, min(word.count, candidate.count) / 3) ? candidate : nil
    }

    @Test(
        arguments: [
            ("memroy", ["cpu", "memory", "pids"], "memory"),
            ("HOSTNAME", Reader.containerFields, "hostname"),
            ("hostnmae", Reader.containerFields, "hostname"),
            ("resorces", Reader.containerFields, "resources"),
            ("xyz", Reader.containerFields, nil),
            ("ab", ["ax", "ay"], "ax"),
            ("", ["a", "bc"], "a"),
        ] as [(String, [String], String?)])
    func closestCandidate(word: String, candidates: [String], expected: String?) {
        #expect(Suggest.closest(to: word, in: candidates) == expected)
    }

    @Test func closestAgreesWithTheFullMeasureOnEveryTypo() {
        let fields = Reader.containerFields + ["apiVersion", "metadata", "readIops", "uidMap", "x", "ab"]
        var words: [String] = ["", "a", "z", "zz", "qqqqqqqqqqqqqqqqqqqqqqq"]
        for field in fields {
            let scalars = Array(field)
            for index in scalars.indices {
                var deleted = scalars
                deleted.remove(at: index)
                words.append(String(deleted))
                var replaced = scalars
                replaced[index] = "q"
                words.append(String(replaced))
                if index + 1 < scalars.count {
                    var swapped = scalars
                    swapped.swapAt(index, index + 1)
                    words.append(String(swapped))
                }
            }
            words.append(field + "xyz")
            words.append(String(field.reversed()))
        }
        for word in words {
            #expect(Suggest.closest(to: word, in: fields) == Self.fullClosest(to: word, in: fields), "for '\(word)'")
        }
    }
}
