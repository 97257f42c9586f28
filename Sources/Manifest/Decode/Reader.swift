import Model

/// Typed reading of a node tree: every read either yields a value or records
/// a `ManifestError` at the node, then carries on so that all errors of a
/// file are reported at once.
struct Reader {
    private(set) var errors: [ManifestError] = []
    /// Errors past this many are counted, not kept: aliases can make one bad
    /// node report thousands of times.
    var maxErrors = 1000
    private(set) var droppedErrors = 0

    /// Records an error at `node`. The text is only built for errors that are
    /// kept: past `maxErrors` (50,000 unknown keys, say) each costs a count.
    mutating func error(_ node: Node, _ path: FieldPath, _ message: @autoclosure () -> String, hint: @autoclosure () -> String? = nil) {
        guard errors.count < maxErrors else {
            droppedErrors += 1
            return
        }
        errors.append(ManifestError(location: node.location, fieldPath: path.description, message: message(), hint: hint()))
    }

    mutating func error(_ node: Node, _ path: FieldPath, _ valueError: ValueError) {
        guard errors.count < maxErrors else {
            droppedErrors += 1
            return
        }
        errors.append(ManifestError(location: node.location, field: path, valueError))
    }

    /// A document decoded cleanly when no error was recorded or dropped since `mark`.
    var errorMark: Int { errors.count + droppedErrors }

    // MARK: - Collections

    /// A mapping whose keys must come from `fields`; unknown keys are reported
    /// with the closest valid key as a hint.
    mutating func mapping(_ node: Node, _ path: FieldPath, fields: [String]) -> Fields? {
        guard case .mapping(let entries) = node.value else {
            error(node, path, "expected a mapping, got \(node.kindDescription)")
            return nil
        }
        var values: [String: Node] = [:]
        for entry in entries {
            guard let key = entry.key.scalarText else { continue }
            if fields.contains(key) {
                if values[key] == nil { values[key] = entry.value }
            } else {
                error(
                    entry.key, path / key, "unknown field",
                    hint: Suggest.closest(to: key, in: fields).map { "did you mean '\($0)'?" } ?? "valid fields: \(fields.joined(separator: ", "))")
            }
        }
        return Fields(node: node, path: path, values: values)
    }

    /// A mapping with free-form string keys and string values (labels, env).
    mutating func stringMap(
        _ node: Node, _ path: FieldPath,
        checkKey: (String) throws(ValueError) -> Void,
        checkValue: (String) throws(ValueError) -> Void
    ) -> [String: String]? {
        guard case .mapping(let entries) = node.value else {
            error(node, path, "expected a mapping, got \(node.kindDescription)")
            return nil
        }
        var result: [String: String] = [:]
        // Sized once: growing a million-label map rehashed it twenty times.
        result.reserveCapacity(entries.count)
        var ok = true
        for entry in entries {
            guard let key = entry.key.scalarText else { continue }
            do { try checkKey(key) } catch {
                self.error(entry.key, path / key, error)
                ok = false
            }
            // The path is built only for an error: one array per entry was a
            // tenth of a million-label mapping's cost (`berth-bench parse`).
            let value: String
            if case .scalar(let scalar) = entry.value.value, case .string(let text) = scalar.resolved {
                value = text
            } else if let text = string(entry.value, path / key) {
                value = text
            } else {
                ok = false
                continue
            }
            do { try checkValue(value) } catch {
                self.error(entry.value, path / key, error)
                ok = false
            }
            result[key] = value
        }
        return ok ? result : nil
    }

    /// A list, each item read by `item`. Nil if the node is not a list or any
    /// item failed.
    mutating func list<T>(_ node: Node, _ path: FieldPath, minCount: Int = 0, item: (inout Reader, Node, FieldPath) -> T?) -> [T]? {
        guard case .sequence(let items) = node.value else {
            error(node, path, "expected a list, got \(node.kindDescription)")
            return nil
        }
        if items.count < minCount {
            error(node, path, minCount == 1 ? "must not be empty" : "needs at least \(minCount) items")
            return nil
        }
        var result: [T] = []
        var ok = true
        for (index, child) in items.enumerated() {
            if let value = item(&self, child, path / index) {
                result.append(value)
            } else {
                ok = false
            }
        }
        return ok ? result : nil
    }

    // MARK: - Scalars

    private mutating func scalar(_ node: Node, _ path: FieldPath, expected: String) -> Scalar? {
        guard case .scalar(let scalar) = node.value else {
            error(node, path, "expected \(expected), got \(node.kindDescription)")
            return nil
        }
        return scalar
    }

    /// A string. Numbers, booleans and null are refused (quote them).
    mutating func string(_ node: Node, _ path: FieldPath) -> String? {
        guard let scalar = scalar(node, path, expected: "a string") else { return nil }
        switch scalar.resolved {
        case .string(let text):
            return text
        case .null:
            error(node, path, "expected a string, got null", hint: "leave the field out to unset it")
            return nil
        default:
            error(node, path, "expected a string, got \(scalar.resolved.typeName)", hint: "quote it: \"\(scalar.text)\"")
            return nil
        }
    }

    /// A string checked by `check`.
    mutating func checked(_ node: Node, _ path: FieldPath, _ check: (String) throws(ValueError) -> Void) -> String? {
        guard let text = string(node, path) else { return nil }
        do {
            try check(text)
            return text
        } catch {
            self.error(node, path, error)
            return nil
        }
    }

    /// A string parsed into a value type.
    mutating func parsed<T>(_ node: Node, _ path: FieldPath, _ parse: (String) throws(ValueError) -> T) -> T? {
        guard let text = string(node, path) else { return nil }
        do {
            return try parse(text)
        } catch {
            self.error(node, path, error)
            return nil
        }
    }

    /// A value read from `node`, kept when `rule` holds for it.
    mutating func obeying<T>(_ value: T, _ node: Node, _ path: FieldPath, _ rule: (T) throws(ValueError) -> Void) -> T? {
        do {
            try rule(value)
            return value
        } catch {
            self.error(node, path, error)
            return nil
        }
    }

    mutating func bool(_ node: Node, _ path: FieldPath) -> Bool? {
        guard let scalar = scalar(node, path, expected: "a boolean") else { return nil }
        if case .bool(let value) = scalar.resolved { return value }
        let hint: String? =
            ["yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"]
                .contains(scalar.text) ? "YAML 1.2 booleans are only true and false" : nil
        error(node, path, "expected a boolean (true or false), got \(scalar.resolved.typeName)", hint: hint)
        return nil
    }

    /// A decimal integer within `range`.
    mutating func integer(_ node: Node, _ path: FieldPath, in range: ClosedRange<Int64>) -> Int64? {
        guard let scalar = scalar(node, path, expected: "an integer") else { return nil }
        guard case .int(let text) = scalar.resolved else {
            error(node, path, "expected an integer, got \(scalar.resolved.typeName)")
            return nil
        }
        guard let value = Int64(text) else {
            error(node, path, "integer \(text) is out of range (\(range.lowerBound)-\(range.upperBound))")
            return nil
        }
        guard range.contains(value) else {
            error(node, path, "\(value) is out of range (\(range.lowerBound)-\(range.upperBound))")
            return nil
        }
        return value
    }

    mutating func port(_ node: Node, _ path: FieldPath) -> UInt16? {
        integer(node, path, in: 1...65535).map { UInt16($0) }
    }

    /// A size: an integer number of bytes or a binary quantity string.
    mutating func size(_ node: Node, _ path: FieldPath) -> ByteSize? {
        guard let scalar = scalar(node, path, expected: "a size") else { return nil }
        switch scalar.resolved {
        case .int(let text):
            guard let bytes = UInt64(text) else {
                error(node, path, "size \(text) is negative or too large", hint: "write bytes or a binary quantity such as 512Mi")
                return nil
            }
            return ByteSize(bytes: bytes)
        case .string(let text):
            do { return try ByteSize(parsing: text) } catch {
                self.error(node, path, error)
                return nil
            }
        default:
            error(node, path, "expected a size, got \(scalar.resolved.typeName)", hint: "write bytes or a binary quantity such as 512Mi")
            return nil
        }
    }

    /// CPU cores as a number (1.5) or a string ("1.5", "500m").
    mutating func cpu(_ node: Node, _ path: FieldPath) -> CPUQuantity? {
        guard let scalar = scalar(node, path, expected: "a CPU quantity") else { return nil }
        let text: String
        switch scalar.resolved {
        case .int(let value), .float(let value), .string(let value): text = value
        default:
            error(node, path, "expected a CPU quantity, got \(scalar.resolved.typeName)")
            return nil
        }
        do { return try CPUQuantity(parsing: text) } catch {
            self.error(node, path, error)
            return nil
        }
    }

    mutating func enumeration<T: RawRepresentable & CaseIterable>(_ node: Node, _ path: FieldPath, _ type: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, path) else { return nil }
        if let value = T(rawValue: text) { return value }
        let choices = T.allCases.map(\.rawValue)
        let suggestion = Suggest.closest(to: text, in: choices)
        error(
            node, path, "'\(text)' is not one of \(choices.joined(separator: ", "))",
            hint: suggestion.map { "did you mean '\($0)'?" })
        return nil
    }
}

/// The fields of one mapping, looked up by name.
struct Fields {
    let node: Node
    let path: FieldPath
    let values: [String: Node]

    subscript(_ key: String) -> Node? { values[key] }

    /// The key node of a field, for errors about the field's presence.
    func keyNode(_ key: String) -> Node? {
        guard case .mapping(let entries) = node.value else { return nil }
        return entries.first { $0.key.scalarText == key }?.key
    }

    /// The field, or an error at the mapping saying it is missing.
    func required(_ key: String, _ reader: inout Reader) -> Node? {
        if let value = values[key] { return value }
        reader.error(node, path / key, "required field is missing")
        return nil
    }

    /// Reads an optional field with `read`; nil when absent or invalid.
    func read<T>(_ key: String, _ reader: inout Reader, _ read: (inout Reader, Node, FieldPath) -> T?) -> T? {
        guard let value = values[key] else { return nil }
        return read(&reader, value, path / key)
    }
}

/// "did you mean" suggestions by edit distance.
package enum Suggest {
    package static func closest(to word: String, in candidates: [String]) -> String? {
        // Suggestions are for typos among a handful of names, not a cost that
        // grows with the product of two large lists.
        let length = word.count
        guard candidates.count <= 256, length <= 64 else { return nil }
        // No candidate further than this is ever suggested, so no distance
        // past it needs measuring exactly: the closest candidate is either
        // within it or the answer is none.
        let reach = max(2, length / 3)
        let lowered = word.lowercased()
        let scalars = Array(lowered.unicodeScalars)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let other = candidate.lowercased()
            if other == lowered { return candidate }
            // Only a strictly smaller distance replaces the best so far.
            let limit = min(reach, (best?.distance ?? .max) - 1)
            if let distance = editDistance(scalars, Array(other.unicodeScalars), limit: limit) {
                best = (candidate, distance)
            }
        }
        guard let (candidate, distance) = best else { return nil }
        let allowed = max(2, min(length, candidate.count) / 3)
        return distance <= allowed ? candidate : nil
    }

    /// Optimal string alignment distance (insertions, deletions,
    /// substitutions and transpositions of neighbours each cost 1), or nil
    /// when it is over `limit`: found out after a few rows, not at the end.
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar], limit: Int) -> Int? {
        // The distance is at least the difference in length.
        guard limit >= 0, abs(a.count - b.count) <= limit else { return nil }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        // Three rows in one buffer: two back, previous, current.
        let width = b.count + 1
        var rows = [Int](repeating: 0, count: 3 * width)
        var twoBack = 0
        var previous = width
        var current = 2 * width
        for j in 0...b.count { rows[previous + j] = j }
        var previousMinimum = 0
        for i in 1...a.count {
            rows[current] = i
            var minimum = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(rows[previous + j] + 1, rows[current + j - 1] + 1, rows[previous + j - 1] + cost)
                // Transposition (Damerau): "memroy" → "memory" costs 1.
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, rows[twoBack + j - 2] + 1)
                }
                rows[current + j] = value
                minimum = min(minimum, value)
            }
            // A row is at least the smaller of the row before and the one
            // before that plus one: two rows over the limit keep every later one over.
            if minimum > limit && previousMinimum > limit { return nil }
            previousMinimum = minimum
            (twoBack, previous, current) = (previous, current, twoBack)
        }
        let distance = rows[previous + b.count]
        return distance <= limit ? distance : nil
    }
}
