import ArgumentParser
import Journal
import Kernel
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print a container's console output (its init's stdout and stderr).",
        discussion: """
            With spec.logs.driver file (the default) the output is kept in STATE/containers/NAME/console.log; \
            the agent rotates it when it grows past --console-max-size (console.log.1, .2, ... up to \
            --console-files). berth logs prints the rotated files too, oldest first. With driver journal \
            it reads the journal (sd_journal): the entries with CONTAINER_NAME=NAME of this instance. \
            Example: berth logs web1 --tail 20 -f
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.customShort("f"), .long], help: "Keep printing what the container writes, until interrupted.") var follow = false
    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Only the last N lines.", valueName: "N")) var tail: Int?
    @Argument(help: "Container name.", completion: Completion.containerName) var name: String

    func validate() throws {
        if let tail, tail < 0 { throw ValidationError("--tail: give 0 or more lines") }
    }

    func run() throws {
        let runtime = try RuntimeContext.runtime(global)
        guard runtime.state.names().contains(name) else { throw CLIFailure("no container named '\(name)'") }
        if runtime.state.load(name)?.spec?.logDriver == .journal { return try journal(runtime) }
        let log = runtime.consoleLog(name)
        var offset = 0
        if let tail {
            // One end for both: the tail stops where a follow goes on.
            offset = Int(Syscall.version(log.path)?.size ?? 0)
            try Syscall.writeAll(STDOUT_FILENO, log.tail(tail, upTo: offset))
        } else {
            // Everything, a block at a time: the rotated files, then console.log.
            for file in log.files() {
                let part = ConsoleLogFiles(path: file)
                var position = 0
                while true {
                    let (bytes, next) = part.read(from: position)
                    if bytes.isEmpty { break }
                    try Syscall.writeAll(STDOUT_FILENO, bytes)
                    position = next
                }
                if file == log.path { offset = position }
            }
        }
        guard follow else { return }
        // Polled: the file is appended by the kernel for the init, and
        // truncated by a rotation (then read from its start again).
        while runtime.state.names().contains(name) {
            let (bytes, next) = log.read(from: offset)
            offset = next
            if bytes.isEmpty {
                usleep(200_000)
            } else {
                try Syscall.writeAll(STDOUT_FILENO, bytes)
            }
        }
    }

    /// Journal mode: the container's entries of this instance, read back with sd_journal.
    func journal(_ runtime: ContainerRuntime) throws {
        let fallback = runtime.journalRelay(name).fallbackFile
        if let size = Syscall.version(fallback)?.size, size > 0 {
            Syscall.writeStandardError("berth: note: lines journald did not take (it was away) are in \(fallback)\n")
        }
        var line: [UInt8] = []
        try JournalReader().containerOutput(
            name: name, fields: Events.instanceFields(Instance(global)), tail: tail, follow: follow,
            keepGoing: { runtime.state.names().contains(name) }
        ) { message in
            line.removeAll(keepingCapacity: true)
            line += message
            line.append(UInt8(ascii: "\n"))
            try Syscall.writeAll(STDOUT_FILENO, line)
        }
    }
}
