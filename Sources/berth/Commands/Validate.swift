import ArgumentParser
import Engine
import FoundationEssentials
import Manifest
import Model
import Runtime

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check manifests and report every error.",
        discussion: """
            Reads files and directories (a directory contributes its *.yaml and *.yml
            files, not recursively, skipping hidden files and editor backups). Prints
            every error as FILE:LINE:COL: error: FIELD.PATH: message. Exits 1 on any
            error, 0 when the manifests are valid for the host.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var format: OutputOptions

    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path"), completion: Completion.manifests)
    var paths: [String]

    func run() throws {
        let host = try hostOptions.facts()
        let outcome = ManifestPipeline.load(paths: paths, host: host)
        switch format.output {
        case .json:
            let report = ValidationReport(
                valid: outcome.errors.isEmpty, host: host.name, files: outcome.files.count,
                documents: outcome.documentCount, errors: outcome.errors)
            print(try JSONOutput.encode(report))
        case .text:
            Console.errors(outcome.errors)
            if outcome.errors.isEmpty, let desired = outcome.desired {
                print(
                    "valid: \(outcome.documentCount) documents in \(outcome.files.count) files; for host \(host.name): "
                        + "\(desired.containers.count) containers, \(desired.networks.count) networks")
            } else {
                Console.error("\(outcome.errors.count) error\(outcome.errors.count == 1 ? "" : "s")")
            }
        }
        if !outcome.errors.isEmpty { throw ExitCode(1) }
    }
}

struct ValidationReport: Encodable {
    var valid: Bool
    var host: String
    var files: Int
    var documents: Int
    var errors: [ManifestError]
}

enum JSONOutput {
    /// JSONEncoder's text with pretty printing, sorted keys and slashes
    /// unescaped, written by JSONText (the same bytes: JSONOutputTests).
    static func encode<T: Encodable>(_ value: T) throws -> String {
        try JSONText.encode(value)
    }
}
