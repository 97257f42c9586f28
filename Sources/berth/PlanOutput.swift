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

        init(_ action: Action, outcome: Outcome? = nil) {
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
        case .pendingRestart, .replace, .orphan: code = "35"
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
            if action.kind == .orphan {
                if counts["orphan"] == nil { order.append("orphan") }
                counts["orphan", default: 0] += 1
                continue
            }
            if let result, result.failed {
                failed += 1
                continue
            }
            if case .skipped = result {
                skipped += 1
                continue
            }
            let word: String
            switch (action.kind, result) {
            case (.pendingRestart, .some(.restarted)): word = "restarted"
            case (.replace, .some(.replaced)): word = "replaced"
            case (.pendingRestart, _): word = "pending restart"
            case (.create, _): word = planned ? "to create" : "created"
            case (.updateLive, _): word = planned ? "to update live" : "updated live"
            case (.replace, _): word = planned ? "to replace" : "replaced"
            case (.delete, _): word = planned ? "to delete" : "deleted"
            case (.start, _): word = planned ? "to start" : "started"
            case (.stop, _): word = planned ? "to stop" : "stopped"
            case (.adopt, _): word = planned ? "to adopt" : "adopted"
            case (.freeze, _): word = planned ? "to freeze" : "frozen"
            case (.thaw, _): word = planned ? "to thaw" : "thawed"
            case (.orphan, _): word = "orphan"
            case (.record, _): word = planned ? "inventory to record" : "inventory recorded"
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
                drift.kind == .orphan ? "orphan (no manifest)" : drift.origin == .drift ? "drift" : "manifest (not applied)",
            ])
        }
        print(Table.render(rows))
    }
}
