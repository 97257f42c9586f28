import Model
import Runtime

/// A parser for the plain forms of `berth run`, `start` and `stop`, which
/// must start fast: ArgumentParser builds and reflects over the whole command
/// tree first, about 2 ms of a container start. Anything it does not know
/// for certain (help, unknown or repeated options, a missing value, a value
/// that looks like an option) returns nil, and ArgumentParser handles the
/// arguments as always. Tests hold its results equal to ArgumentParser's.
/// Plain arrays and a switch: every new generic type costs start-up time.
enum FastPath {
    /// Options that take a value: the instance options (every command),
    /// run's, and stop's.
    static let instanceOptions = ["--state-dir", "--run-dir", "--cgroup-parent", "--cgroup-driver"]
    static let runOptions = [
        "--name", "--template", "--rootfs", "--hostname", "--env", "-e", "--workdir", "-w", "--memory", "--cpus", "--pids",
    ]
    static let stopOptions = ["--timeout"]
    /// Flags (no value): every command's, and run's.
    static let instanceFlags = ["--quiet", "-q", "--verbose", "-v"]
    static let runFlags = ["--tty", "-t"]

    static func parse(_ arguments: [String]) -> Lifecycle? {
        guard let command = arguments.first, command == "run" || command == "start" || command == "stop" else { return nil }
        var instance = Instance()
        var run = RunRequest()
        var timeout: Interval?
        var given: [String] = []
        var positionals: [String] = []
        var passthrough: [String]?
        var index = 1
        while index < arguments.count {
            let token = arguments[index]
            index += 1
            if token == "--" {
                passthrough = Array(arguments[index...])
                break
            }
            guard token.hasPrefix("-") else {
                positionals.append(token)
                continue
            }
            var option = token
            var inline: String?
            if token.hasPrefix("--"), let equals = token.firstIndex(of: "=") {
                option = String(token[..<equals])
                inline = String(token[token.index(after: equals)...])
            }
            if command == "run" && (option == "-t" || option == "--tty") && inline == nil {
                guard !run.tty else { return nil }
                run.tty = true
                continue
            }
            if instanceFlags.contains(option) && inline == nil {
                let verbosity: Verbosity = option == "-q" || option == "--quiet" ? .quiet : .verbose
                // Repeated or both: ArgumentParser's answer.
                guard instance.verbosity == .normal else { return nil }
                instance.verbosity = verbosity
                continue
            }
            if option == "-e" { option = "--env" }
            if option == "-w" { option = "--workdir" }
            let known =
                instanceOptions.contains(option) || (command == "run" && runOptions.contains(option))
                || (command == "stop" && stopOptions.contains(option))
            // Only --env may repeat; ArgumentParser's rules for the others are its own.
            guard known, option == "--env" || !given.contains(option) else { return nil }
            given.append(option)
            let value: String
            if let inline {
                value = inline
            } else {
                guard index < arguments.count, !arguments[index].hasPrefix("-") else { return nil }
                value = arguments[index]
                index += 1
            }
            switch option {
            case "--state-dir": instance.stateDir = value
            case "--run-dir": instance.runDir = value
            case "--cgroup-parent": instance.cgroupParent = value
            case "--cgroup-driver": instance.cgroupDriver = value
            case "--name": run.name = value
            case "--template": run.template = value
            case "--rootfs": run.rootfs = value
            case "--hostname": run.hostname = value
            case "--env": run.env.append(value)
            case "--workdir": run.workdir = value
            case "--memory": run.memory = value
            case "--cpus": run.cpus = value
            case "--pids": run.pids = value
            default:
                guard let interval = stopTimeout(value) else { return nil }
                timeout = interval
            }
        }
        // An unknown cgroup driver is ArgumentParser's to report.
        guard CgroupManager(rawValue: instance.cgroupDriver) != nil else { return nil }
        if command == "run" {
            guard positionals.isEmpty else { return nil }
            run.instance = instance
            run.command = passthrough ?? []
            return .run(run)
        }
        guard passthrough == nil, positionals.count == 1 else { return nil }
        if command == "start" { return .start(instance: instance, name: positionals[0]) }
        return .stop(instance: instance, timeout: timeout, name: positionals[0])
    }
}
