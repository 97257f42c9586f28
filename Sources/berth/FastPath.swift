import Model
import Runtime

/// A parser for the plain forms of `berth run`, `start` and `stop`, which
/// must start fast, and of `plan`, `apply` and `drift`, which a deployment
/// runs over and over: ArgumentParser reflects over each option group and
/// looks up its types' conformances first, 2 to 3 ms of every command.
/// Anything it does not know for certain (help, unknown or repeated options,
/// a missing value, a value that looks like an option, a value the
/// command's checks refuse) returns nil, and ArgumentParser handles the
/// arguments as always. Tests hold its results equal to ArgumentParser's.
/// Plain arrays and a switch: every new generic type costs start-up time.
enum FastPath {
    /// What the fast path read.
    enum Command: Equatable {
        case lifecycle(Lifecycle)
        case plan(PlanRequest)
        case apply(ApplyRequest)
        case drift(DriftRequest)

        /// Does it; the process's exit code.
        func perform() throws -> Int32 {
            switch self {
            case .lifecycle(let lifecycle): return try lifecycle.perform()
            case .plan(let request): try request.perform()
            case .apply(let request): try request.perform()
            case .drift(let request): try request.perform()
            }
            return 0
        }
    }

    /// The command line as one of the commands the fast path knows, or nil.
    static func command(_ arguments: [String]) -> Command? {
        if let lifecycle = parse(arguments) { return .lifecycle(lifecycle) }
        return manifestCommand(arguments)
    }

    /// Options that take a value: what plan, apply and drift share (besides
    /// the instance options), the capacity check's (plan and apply), plan's
    /// and apply's own.
    static let manifestOptions = ["--output", "-o", "--source", "--host", "--host-label", "--host-labels-file"]
    static let capacityOptions = ["--overcommit"]
    static let planOptions = ["--out"]
    static let applyOptions = ["--lock-timeout"]
    /// Flags of plan, apply and drift.
    static let planFlags = ["--detailed-exitcode", "--prune", "--take-ownership", "--strict"]
    static let applyFlags = ["--dry-run", "--prune", "--take-ownership", "--allow-empty", "--yes", "-y", "--restart", "--replace", "--strict"]
    static let driftFlags = ["--detailed-exitcode"]

    /// `--name=value` as the option and its value; any other token as itself.
    static func split(_ token: String) -> (option: String, inline: String?) {
        guard token.hasPrefix("--"), let equals = token.firstIndex(of: "=") else { return (token, nil) }
        return (String(token[..<equals]), String(token[token.index(after: equals)...]))
    }

    /// An option's value: written inline, else the next argument (taken)
    /// unless there is none or it looks like an option.
    static func value(_ inline: String?, _ arguments: [String], _ index: inout Int) -> String? {
        if let inline { return inline }
        guard index < arguments.count, !arguments[index].hasPrefix("-") else { return nil }
        index += 1
        return arguments[index - 1]
    }

    /// `plan`, `apply` or `drift` with options it knows, each at most once
    /// (--host-label any number of times), and paths; checked as the
    /// commands' validate() checks them.
    static func manifestCommand(_ arguments: [String]) -> Command? {
        guard let command = arguments.first else { return nil }
        let options: [String]
        let flags: [String]
        switch command {
        case "plan": (options, flags) = (capacityOptions + planOptions, planFlags)
        case "apply": (options, flags) = (capacityOptions + applyOptions, applyFlags)
        case "drift": (options, flags) = ([], driftFlags)
        default: return nil
        }
        var manifests = ManifestRequest()
        var given: Set<String> = []
        var values: [String: String] = [:]
        var index = 1
        while index < arguments.count {
            let token = arguments[index]
            index += 1
            guard token.hasPrefix("-") else {
                // `berth plan help`: ArgumentParser's (Berth.parsedDirectly).
                guard token != "help" else { return nil }
                manifests.paths.append(token)
                continue
            }
            var (option, inline) = split(token)
            switch option {
            case "-q": option = "--quiet"
            case "-v": option = "--verbose"
            case "-y": option = "--yes"
            case "-o": option = "--output"
            default: break
            }
            guard !given.contains(option) || option == "--host-label" else { return nil }
            given.insert(option)
            if inline == nil && (instanceFlags.contains(option) || flags.contains(option)) { continue }
            guard instanceOptions.contains(option) || manifestOptions.contains(option) || options.contains(option) else { return nil }
            guard let value = value(inline, arguments, &index) else { return nil }
            if option == "--host-label" { manifests.hostLabels.append(value) } else { values[option] = value }
        }
        // Both: ArgumentParser's error.
        guard !(given.contains("--quiet") && given.contains("--verbose")) else { return nil }
        if given.contains("--quiet") { manifests.instance.verbosity = .quiet }
        if given.contains("--verbose") { manifests.instance.verbosity = .verbose }
        if let value = values["--state-dir"] { manifests.instance.stateDir = value }
        if let value = values["--run-dir"] { manifests.instance.runDir = value }
        if let value = values["--cgroup-parent"] { manifests.instance.cgroupParent = value }
        if let value = values["--cgroup-driver"] { manifests.instance.cgroupDriver = value }
        if let value = values["--output"] {
            guard let format = OutputFormat(rawValue: value) else { return nil }
            manifests.output = format
        }
        manifests.source = values["--source"]
        manifests.host = values["--host"]
        if let value = values["--host-labels-file"] { manifests.hostLabelsFile = value }
        var capacity = CapacityRequest()
        if let value = values["--overcommit"] { capacity.overcommit = value }
        capacity.strict = given.contains("--strict")
        switch command {
        case "plan":
            let request = PlanRequest(
                manifests: manifests, detailedExitcode: given.contains("--detailed-exitcode"), prune: given.contains("--prune"),
                takeOwnership: given.contains("--take-ownership"), capacity: capacity, out: values["--out"])
            guard (try? request.validate()) != nil else { return nil }
            return .plan(request)
        case "apply":
            let request = ApplyRequest(
                manifests: manifests, dryRun: given.contains("--dry-run"), prune: given.contains("--prune"),
                takeOwnership: given.contains("--take-ownership"), allowEmpty: given.contains("--allow-empty"), yes: given.contains("--yes"),
                restart: given.contains("--restart"), replace: given.contains("--replace"), capacity: capacity,
                lockTimeout: values["--lock-timeout"] ?? ApplyRequest.defaultLockTimeout)
            guard (try? request.validate()) != nil else { return nil }
            return .apply(request)
        default:
            let request = DriftRequest(manifests: manifests, detailedExitcode: given.contains("--detailed-exitcode"))
            guard (try? request.validate()) != nil else { return nil }
            return .drift(request)
        }
    }

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
            var (option, inline) = split(token)
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
            guard let value = value(inline, arguments, &index) else { return nil }
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
