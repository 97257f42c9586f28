import Model
import Reconcile

#if canImport(Glibc)
    import Glibc
#endif

/// A failure the CLI reports in one line and exits 1 for (not 64: that is
/// for command-line usage only).
struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Plans, outcomes and drift rendered from their types: text for people,
/// JSON for machines. Nothing here is parsed back.
enum PlanOutput {
    /// One change as JSON.
    struct ChangeJSON: Codable, Equatable {
        var field: String
        var desired: String
        var observed: String
        var origin: String
        init(_ change: FieldChange) {
            field = change.field
            desired = change.desired.description
            observed = change.observed.description
            origin = change.origin.rawValue
        }
    }

    /// One action (with its outcome after an apply) as JSON.
    struct ActionJSON: Codable, Equatable {
        var kind: String
        var object: String
        var reason: String
        var origin: String?
        var changes: [ChangeJSON]
        /// applied, restarted, replaced, pending-restart, skipped or failed.
        var result: String?
        var failed: Bool?
        var error: String?
        var skipReason: String?
        var durationMs: UInt64?
        /// The same, in microseconds.
        var durationUs: UInt64?
        /// When it finished, in milliseconds since the apply began (actions
        /// carried out side by side finish in their own order).
        var finishedMs: UInt64?

        init(_ action: Action, outcome: Outcome? = nil, began: UInt64? = nil) {
            kind = action.kind.rawValue
            object = action.object.description
            reason = action.reason.description
            origin = action.origin?.rawValue
            changes = action.changes.map(ChangeJSON.init)
            if let outcome {
                switch outcome.result {
                case .applied: result = "applied"
                case .restarted: result = "restarted"
                case .replaced: result = "replaced"
                case .pendingRestart: result = "pending-restart"
                case .skipped(let reason):
                    result = "skipped"
                    skipReason = reason.description
                case .failed(let message):
                    result = "failed"
                    error = message
                }
                failed = outcome.result.failed
                durationMs = outcome.milliseconds
                durationUs = outcome.microseconds
                if let began { finishedMs = outcome.finished &- began }
            }
        }
    }

    struct DriftJSON: Encodable {
        var object: String
        var field: String
        var desired: String
        var observed: String
        var policy: String
        var origin: String
        var action: String
        init(_ drift: Reconcile.Drift) {
            object = drift.object.description
            field = drift.field
            desired = drift.desired.description
            observed = drift.observed.description
            policy = drift.policy.rawValue
            origin = drift.origin.rawValue
            action = drift.kind.rawValue
        }
    }

    /// Colour on a terminal only (and never with NO_COLOR set).
    static let colour: Bool = isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil

    /// The action's lines: one when it changes at most one field, else a
    /// header and an indented line per field. `suffix` ends the first line.
    static func lines(_ action: Action, suffix: String = "") -> [String] {
        let kind = painted(action.kind)
        let head = "\(kind) \(action.object)"
        if action.changes.count <= 1 {
            let change = action.changes.first.map { " \($0)" } ?? ""
            return [head + change + " (\(action.reason))" + suffix]
        }
        return [head + " (\(action.reason))" + suffix] + action.changes.map { "    \($0)" }
    }

    static func painted(_ kind: Action.Kind) -> String {
        guard colour else { return kind.rawValue }
        let code: String
        switch kind {
        case .create, .start, .adopt, .thaw: code = "32"
        case .delete, .stop: code = "31"
        case .updateLive, .freeze: code = "33"
        case .pendingRestart, .replace, .orphan, .checkpointed: code = "35"
        case .record: code = "36"
        }
        return "\u{1B}[\(code)m\(kind.rawValue)\u{1B}[0m"
    }

    static func printPlan(_ actions: [Action], format: OutputFormat) throws {
        if format == .json {
            print(try JSONOutput.encode(actions.map { ActionJSON($0) }))
            return
        }
        if actions.isEmpty {
            print("No changes: the host matches the manifests.")
            return
        }
        for action in actions {
            for line in lines(action) { print("  " + line) }
        }
        print(totals(actions.map { ($0, nil) }, planned: true))
    }

    /// "Plan: 2 to create, 1 to update live, 1 pending restart" or, after an
    /// apply, "Applied: 2 created, 1 updated live, 1 pending restart, 0 failed".
    static func totals(_ items: [(Action, ActionResult?)], planned: Bool) -> String {
        var counts: [String: Int] = [:]
        var order: [String] = []
        var failed = 0
        var skipped = 0
        for (action, result) in items {
            if let result, result.failed {
                failed += 1
                continue
            }
            // An orphan or a checkpointed container is left alone (skipped),
            // and counted as what it is.
            if case .skipped = result, action.kind != .orphan && action.kind != .checkpointed {
                skipped += 1
                continue
            }
            let word: String
            switch (action.kind, result) {
            case (.pendingRestart, .some(.restarted)), (.replace, .some(.replaced)): word = action.kind.done
            case (.pendingRestart, _): word = "pending restart"
            case (.orphan, _): word = "orphan"
            case (.checkpointed, _): word = "checkpointed"
            case (_, .some): word = action.kind.done
            case (.create, nil): word = "to create"
            case (.updateLive, nil): word = "to update live"
            case (.replace, nil): word = "to replace"
            case (.delete, nil): word = "to delete"
            case (.start, nil): word = "to start"
            case (.stop, nil): word = "to stop"
            case (.adopt, nil): word = "to adopt"
            case (.freeze, nil): word = "to freeze"
            case (.thaw, nil): word = "to thaw"
            case (.record, nil): word = "inventory to record"
            }
            if counts[word] == nil { order.append(word) }
            counts[word, default: 0] += 1
        }
        var parts = order.map { "\(counts[$0] ?? 0) \($0)" }
        if !planned {
            if skipped > 0 { parts.append("\(skipped) skipped") }
            parts.append("\(failed) failed")
        }
        return (planned ? "Plan: " : "Applied: ") + parts.joined(separator: ", ")
    }

    static func printDrift(_ drifts: [Reconcile.Drift], format: OutputFormat) throws {
        if format == .json {
            print(try JSONOutput.encode(drifts.map(DriftJSON.init)))
            return
        }
        if drifts.isEmpty {
            print("No drift.")
            return
        }
        var rows = [["OBJECT", "FIELD", "DESIRED", "OBSERVED", "POLICY", "ORIGIN"]]
        for drift in drifts {
            rows.append([
                drift.object.description, drift.field, drift.desired.description, drift.observed.description, drift.policy.rawValue,
                origin(drift),
            ])
        }
        print(Table.render(rows))
    }

    /// The ORIGIN column of `berth drift`.
    static func origin(_ drift: Reconcile.Drift) -> String {
        switch drift.kind {
        case .orphan: return "orphan (no manifest)"
        case .checkpointed: return "checkpointed (berth restore)"
        default: return drift.origin == .drift ? "drift" : "manifest (not applied)"
        }
    }
}
