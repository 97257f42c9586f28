import ArgumentParser

@main
struct Berth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "A declarative host agent for OS-level containers.",
        discussion: """
            berth reads YAML manifests (Container, Network, Profile), observes what the
            kernel has, and applies the difference: namespaces, cgroups, links, nftables,
            mounts. Every action and every drift is a journald event.
            """,
        version: BerthVersion.current,
        subcommands: [
            Validate.self, Plan.self, Apply.self, Drift.self,
            List.self, Status.self,
            Exec.self, Enter.self, Start.self, Stop.self,
            UBC.self, Suspend.self, Resume.self, Checkpoint.self, Restore.self,
            Events.self, Agent.self,
        ]
    )
}

enum BerthVersion {
    static let current = "0.1.0"
}
