import ArgumentParser
import CLinux

#if canImport(Glibc)
    import Glibc
#endif

@main
enum Main {
    static func main() {
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
        // The lifecycle commands' plain forms skip ArgumentParser (FastPath).
        guard let request = FastPath.parse(arguments) else { return Berth.main(arguments) }
        do {
            exit(try request.perform())
        } catch {
            Berth.exit(withError: error)
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
            Events.self, Metrics.self, Agent.self, Version.self,
        ]
    )
}
