import ArgumentParser

/// Commands whose runtime is not in this build yet. They parse their full
/// interface (so scripts and completions are stable) and fail clearly.
struct NotImplemented: Error, CustomStringConvertible {
    let command: String
    var description: String { "berth \(command): not implemented yet in this build" }
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
