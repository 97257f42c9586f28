import ArgumentParser

/// Commands whose runtime is not in this build yet. They parse their full
/// interface (so scripts and completions are stable) and fail clearly.
struct NotImplemented: Error, CustomStringConvertible {
    let command: String
    var description: String { "berth \(command): not implemented yet in this build" }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what apply would change.",
        discussion: "Exit codes with --detailed-exitcode: 0 nothing to do, 2 changes, 1 error.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var format: OutputOptions
    @Flag(help: "Exit 2 when there are changes, 0 when there are none.") var detailedExitcode = false
    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path")) var paths: [String]
    func run() throws { throw NotImplemented(command: "plan") }
}

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Make the host match the manifests.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var format: OutputOptions
    @Flag(help: "Print the plan and change nothing.") var dryRun = false
    @Flag(help: "Delete berth-owned objects that no manifest names any more.") var prune = false
    @Flag(help: "Allow --prune with an empty manifest set.") var allowEmpty = false
    @Flag(help: "Restart containers whose changes need a restart.") var restart = false
    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path")) var paths: [String]
    func run() throws { throw NotImplemented(command: "apply") }
}

struct Drift: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report differences between the manifests and the kernel (read-only).",
        discussion: "Exit codes with --detailed-exitcode: 0 no drift, 2 drift, 1 error.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @OptionGroup var format: OutputOptions
    @Flag(help: "Exit 2 when there is drift, 0 when there is none.") var detailedExitcode = false
    @Argument(help: ArgumentHelp("Manifest files or directories.", valueName: "path")) var paths: [String]
    func run() throws { throw NotImplemented(command: "drift") }
}

struct Checkpoint: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Checkpoint a container to disk with CRIU.")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Image directory.", valueName: "dir")) var imageDir: String?
    @Argument(help: "Container name.") var name: String
    func run() throws { throw NotImplemented(command: "checkpoint") }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a checkpointed container with CRIU.")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Image directory.", valueName: "dir")) var imageDir: String?
    @Argument(help: "Container name.") var name: String
    func run() throws { throw NotImplemented(command: "restore") }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show berth's history of applies and drifts from the journal.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: OutputOptions
    @Option(help: ArgumentHelp("Only events since this time (journalctl syntax).", valueName: "time")) var since: String?
    @Argument(help: "Object name (default: all).") var name: String?
    func run() throws { throw NotImplemented(command: "events") }
}

struct Agent: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconcile continuously: at start, on manifest changes and on an interval.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var hostOptions: HostOptions
    @Option(help: ArgumentHelp("Manifest directory.", valueName: "dir")) var manifests: String?
    @Option(help: ArgumentHelp("Follow a local git checkout.", valueName: "dir")) var git: String?
    @Option(help: ArgumentHelp("Drift check interval.", valueName: "duration")) var interval: String = "30s"
    func run() throws { throw NotImplemented(command: "agent") }
}
