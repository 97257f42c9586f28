import ArgumentParser
import Engine
import FoundationEssentials
import Kernel
import Model
import Reconcile

/// A plan saved by `berth plan --out FILE` for `berth apply FILE` (and
/// `berth show FILE`), as Terraform's: what was reviewed, with what it was
/// computed from. Apply refuses when the manifests or the plan the host
/// gives now differ from it (by fingerprint), so it carries out exactly the
/// reviewed actions or nothing.
struct SavedPlan: Codable, Equatable {
    static let formatName = "berth-plan/v1"

    var format = SavedPlan.formatName
    /// When it was made (UTC).
    var created: String
    /// The manifest paths, absolute, as given to plan.
    var paths: [String]
    var host: HostFacts
    var prune: Bool
    /// The source whose inventory the plan works on (nil: the whole instance).
    var source: String?
    var takeOwnership: Bool
    /// FNV-1a 64 of every manifest file loaded (path and content): the manifests as reviewed.
    var manifestsFingerprint: String
    /// FNV-1a 64 of the plan's actions as JSON (their observed values
    /// included): the host as it was, as far as the plan depends on it.
    var planFingerprint: String
    var actions: [PlanOutput.ActionJSON]

    static func source(_ scope: PlanScope) -> String? {
        switch scope {
        case .instance: return nil
        case .source(let name): return name
        }
    }

    var scope: PlanScope { source.map(PlanScope.source) ?? .instance }

    /// Change detection, not a signature: anyone who can write the file can
    /// write a matching fingerprint.
    static func fingerprint(manifests files: [String]) throws -> String {
        var text = ""
        for file in files.map(Events.absolute).sorted() {
            let bytes = try Syscall.readFile(file, limit: 64 << 20)
            text += file + "\u{0}" + String(decoding: bytes, as: UTF8.self) + "\u{0}"
        }
        return FNV1a.hex64(text)
    }

    static func fingerprint(actions: [Action]) throws -> String {
        FNV1a.hex64(try JSONOutput.encode(actions.map { PlanOutput.ActionJSON($0) }))
    }

    /// The plan in `paths` when they are a single saved-plan file.
    static func read(_ paths: [String]) -> SavedPlan? {
        guard paths.count == 1, let bytes = try? Syscall.readFile(paths[0], limit: 64 << 20), bytes.first == UInt8(ascii: "{"),
            let plan = try? JSONDecoder().decode(SavedPlan.self, from: Data(bytes)), plan.format == formatName
        else { return nil }
        return plan
    }

    func write(to path: String) throws {
        let text = try JSONOutput.encode(self) + "\n"
        try Syscall.writeAtomically(Array(text.utf8), to: path, mode: 0o644)
    }

    /// Why the plan cannot be applied now, or nil when it can: the manifests
    /// and the plan computed now match what was saved.
    func refusal(manifests files: [String], now actions: [Action], file: String) throws -> String? {
        if try SavedPlan.fingerprint(manifests: files) != manifestsFingerprint {
            return "the manifests changed since \(file) was saved; nothing was changed (run berth plan again)"
        }
        if try SavedPlan.fingerprint(actions: actions) != planFingerprint {
            let now = actions.flatMap { PlanOutput.lines($0) }.map { "  " + $0 }
            return "the host changed since \(file) was saved: the plan now is\n"
                + (now.isEmpty ? "  (nothing to do)" : now.joined(separator: "\n")) + "\nnothing was changed (run berth plan again)"
        }
        return nil
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a plan saved with berth plan --out FILE.",
        discussion: "With -o json (or -json) the whole saved plan, for a pull-request comment or a review tool.")
    /// Taken as everywhere, though a saved plan needs no instance.
    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: OutputOptions
    @Flag(name: [.customLong("json"), .customLong("json", withSingleDash: true)], help: "The same as -o json.") var json = false
    @Argument(help: ArgumentHelp("A saved plan.", valueName: "file")) var file: String

    func run() throws {
        guard let plan = SavedPlan.read([file]) else { throw CLIFailure("\(file) is not a plan saved by berth plan --out") }
        if json || format.output == .json {
            print(try JSONOutput.encode(plan))
            return
        }
        print(
            "Plan saved \(plan.created) for host \(plan.host.name) from \(plan.paths.joined(separator: " "))"
                + (plan.source.map { " (source \($0))" } ?? "") + (plan.prune ? " (--prune)" : "") + ":")
        if plan.actions.isEmpty { print("No changes: the host matched the manifests.") }
        for action in plan.actions {
            let changes = action.changes.map { "\($0.field): \($0.observed) → \($0.desired)" }
            let head = "  \(action.kind) \(action.object)"
            if changes.count <= 1 {
                print(head + (changes.first.map { " " + $0 } ?? "") + " (\(action.reason))")
            } else {
                print(head + " (\(action.reason))")
                for change in changes { print("      " + change) }
            }
        }
    }
}
