import ArgumentParser

/// Commands whose runtime is not in this build yet. They parse their full
/// interface (so scripts and completions are stable) and fail clearly.
struct NotImplemented: Error, CustomStringConvertible {
    let command: String
    var description: String { "berth \(command): not implemented yet in this build" }
}

struct Checkpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Checkpoint a container to disk with CRIU.")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Image directory.", valueName: "dir")) var imageDir: String?
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String
    func run() throws { throw NotImplemented(command: "checkpoint") }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a checkpointed container with CRIU.")
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Image directory.", valueName: "dir")) var imageDir: String?
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String
    func run() throws { throw NotImplemented(command: "restore") }
}
