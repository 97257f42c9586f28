import ArgumentParser
import CLinux
import FoundationEssentials
import Kernel

#if canImport(Glibc)
    import Glibc
#endif

@main
enum Main {
    static func main() {
        PhaseTimes.mark("process start")
        // A container's journal relay: C from here on, in this still
        // single-threaded process (CLinux/BerthRelay.h).
        if CommandLine.argc > 1, let first = CommandLine.unsafeArgv[1], strcmp(first, "journal-relay") == 0 {
            exit(berth_journal_relay_main(CommandLine.argc, CommandLine.unsafeArgv))
        }
        // A container's sysinfo(2) responder, likewise (CLinux/BerthSysinfo.h).
        if CommandLine.argc > 1, let first = CommandLine.unsafeArgv[1], strcmp(first, "sysinfo-responder") == 0 {
            exit(berth_sysinfo_responder_main(CommandLine.argc, CommandLine.unsafeArgv))
        }
        let arguments: [String]
        do {
            arguments = try Arguments.normalized(Array(CommandLine.arguments.dropFirst()))
        } catch {
            Console.error("Error: \(error)\nUsage: berth <subcommand>\n  See 'berth --help' for more information.")
            exit(ExitCode.validationFailure.rawValue)
        }
        // The plain forms of the lifecycle commands, plan, apply and drift
        // skip ArgumentParser (FastPath).
        guard let request = FastPath.command(arguments) else {
            // Berth.main's steps, with Foundation's file errors put in words.
            do {
                var command = try Berth.parsedDirectly(arguments) ?? Berth.parseAsRoot(arguments)
                try command.run()
                return
            } catch {
                Berth.exit(withError: FileError.readable(error))
            }
        }
        do {
            exit(try request.perform())
        } catch {
            Berth.exit(withError: FileError.readable(error))
        }
    }
}

/// A Foundation file error (CocoaError) as a person reads it: the path and
/// the system's reason, and that berth needs root when it was refused to
/// someone else. Other errors are left as they are.
struct FileError: Error, CustomStringConvertible {
    var description: String

    static func readable(_ error: Error) -> Error {
        guard let cocoa = error as? CocoaError else { return error }
        let path = cocoa.filePath ?? cocoa.url?.path ?? "a file"
        let code = (cocoa.underlying as? POSIXError)?.code.rawValue
        let reason = code.map { String(cString: strerror($0)) } ?? "error \(cocoa.code.rawValue)"
        var text = "\(path): \(reason)"
        if geteuid() != 0 && (code == EACCES || code == EPERM) { text += " (berth runs containers as root)" }
        return FileError(description: text)
    }
}

extension Berth {
    /// The named subcommand parsed as a root of its own, without the tree
    /// of every subcommand: ArgumentParser reads each one's configuration
    /// and keeps the whole stack for its messages. nil (and the caller
    /// parses through Berth as ever, so that help, errors and their exit
    /// codes are Berth's own) for help, for anything it does not accept, or
    /// a subcommand it does not name. No subcommand has subcommands, nor
    /// options of Berth's (the global options are each subcommand's).
    static func parsedDirectly(_ arguments: [String]) -> ParsableCommand? {
        guard let name = arguments.first, let type = subcommand(named: name) else { return nil }
        let rest = Array(arguments.dropFirst())
        for token in rest where token == "help" || token == "-h" || token == "--help" || token == "-help" { return nil }
        return try? type.parseAsRoot(rest)
    }

    /// The subcommand type of each name in `Arguments.commands` but help
    /// (a test holds the two equal to Berth's configuration).
    static func subcommand(named name: String) -> ParsableCommand.Type? {
        switch name {
        case "validate": Validate.self
        case "plan": Plan.self
        case "apply": Apply.self
        case "show": Show.self
        case "drift": Drift.self
        case "list": List.self
        case "status": Status.self
        case "logs": Logs.self
        case "run": Run.self
        case "exec": Exec.self
        case "enter": Enter.self
        case "start": Start.self
        case "stop": Stop.self
        case "ubc": UBC.self
        case "quota": DiskQuotaCommand.self
        case "suspend": Suspend.self
        case "resume": Resume.self
        case "checkpoint": Checkpoint.self
        case "restore": Restore.self
        case "migrate": Migrate.self
        case "migrate-receive": MigrateReceive.self
        case "trash-empty": TrashEmpty.self
        case "events": Events.self
        case "metrics": Metrics.self
        case "agent": Agent.self
        case "version": Version.self
        default: nil
        }
    }
}

struct Berth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "A declarative host agent for OS-level containers.",
        discussion: """
            berth reads YAML manifests (Container, Network, Profile), observes what the
            kernel has, and applies the difference: namespaces, cgroups, links, nftables,
            mounts. Every action and every drift is a journald event.
            """,
        subcommands: [
            Validate.self, Plan.self, Apply.self, Show.self, Drift.self,
            List.self, Status.self, Logs.self,
            Run.self, Exec.self, Enter.self, Start.self, Stop.self,
            UBC.self, DiskQuotaCommand.self, Suspend.self, Resume.self, Checkpoint.self, Restore.self, Migrate.self,
            MigrateReceive.self, TrashEmpty.self,
            Events.self, Metrics.self, Agent.self, Version.self,
        ]
    )
}
