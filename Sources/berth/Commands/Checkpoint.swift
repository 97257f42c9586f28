import ArgumentParser
import Kernel
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// An image directory given on the command line, made absolute (CRIU and
/// the manifest see the same path whatever berth's working directory).
func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: 4097)
    guard getcwd(&buffer, 4096) != nil else { return path }
    let directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return directory + "/" + path
}

struct Checkpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Checkpoint a running container to disk with CRIU.",
        discussion: """
            Dumps its processes (memory, open files, established TCP connections), namespaces \
            and cgroup into a new directory, with berth-checkpoint.json: the container's spec, \
            the berth, kernel and CRIU versions, and a SHA-256 of every image file. The \
            container stops unless --leave-running. berth restore NAME --from DIR brings it back.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: [.customLong("to"), .customLong("image-dir")], help: ArgumentHelp("New image directory.", valueName: "dir"))
    var directory: String
    @Flag(help: "Keep the container running after the dump.") var leaveRunning = false
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String

    func run() throws {
        let manifest = try RuntimeContext.runtime(global).checkpoint(
            name, to: absolutePath(directory), leaveRunning: leaveRunning, berthVersion: Version.number)
        if global.verbosity != .quiet {
            print("checkpointed \(name) to \(absolutePath(directory)) (criu \(manifest.criu), \(manifest.checksums.count) files)")
        }
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a checkpointed container with CRIU.",
        discussion: """
            Refuses an image whose files do not match the checksums of its manifest. The \
            container comes back with the same processes (the same pids inside), its open \
            files and connections, in its cgroup with its limits, on its networks.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: [.customLong("from"), .customLong("image-dir")], help: ArgumentHelp("Image directory.", valueName: "dir"))
    var directory: String
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String

    func run() throws {
        let record = try RuntimeContext.runtime(global).restore(name, from: absolutePath(directory))
        if global.verbosity != .quiet { print("restored \(name) (pid \(record.pid.map(String.init) ?? "?"))") }
    }
}
