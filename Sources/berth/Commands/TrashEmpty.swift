import ArgumentParser
import CLinux
import Kernel
import Logging
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// Removes deleted containers' directories from the trash (Trash), at nice
/// 19 and in the idle I/O class. Apply and the agent start it detached once
/// they are done, handing it the trash lock as its descriptor 3
/// (`--inherited-lock`); by hand it waits for the lock.
struct TrashEmpty: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trash-empty", abstract: "Remove deleted containers' files from the trash (apply and the agent start it).",
        shouldDisplay: false)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Descriptor 3 holds the trash lock already (taken by whoever started this).") var inheritedLock = false

    func run() throws {
        _ = berth_background_priority()
        let runtime = try RuntimeContext.runtime(global)
        let trash = runtime.trash
        let lock = inheritedLock ? Trash.Lock(holding: 3) : trash.lock(wait: true)
        guard let lock else { throw CLIFailure("cannot take the trash lock \(trash.lockPath)") }
        let began = MonotonicClock.milliseconds()
        let outcome = trash.empty(holding: lock)
        let logger = Logger(label: "berth")
        for (entry, error) in outcome.failures.sorted(by: { $0.key < $1.key }) {
            logger.warning("trash entry not removed", metadata: ["path": "\(entry)", "error": "\(error)"])
        }
        if outcome.removed > 0 {
            logger.debug(
                "trash emptied",
                metadata: ["entries": "\(outcome.removed)", "milliseconds": "\(MonotonicClock.milliseconds() - began)"])
        }
        if !outcome.failures.isEmpty { throw ExitCode(1) }
    }
}

extension Reconciliation {
    /// After a command that deleted containers (its output printed): a
    /// detached `berth trash-empty` when the trash holds anything and no
    /// emptier runs, so the command returns at once and the disk is freed
    /// soon after, with or without an agent. Also what makes an apply after
    /// a crash between a delete's rename and the emptying converge.
    @discardableResult
    static func startTrashEmptier(_ runtime: ContainerRuntime) -> pid_t? {
        runtime.trash.startEmptier(TrashEmpty.arguments(runtime.paths))
    }
}

extension TrashEmpty {
    /// The emptier's command line for the instance at `paths`.
    static func arguments(_ paths: RuntimePaths) -> [String] {
        [
            "/proc/self/exe", "trash-empty", "--state-dir", paths.stateDirectory.string, "--run-dir", paths.runDirectory.string,
            "--cgroup-parent", paths.cgroupParent, "--inherited-lock",
        ]
    }
}
