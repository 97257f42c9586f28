/// A parser for the plain forms of `berth run`, `start` and `stop`, which
/// must start fast: ArgumentParser builds and reflects over the whole command
/// tree first, about 2 ms of a container start. Anything it does not know
/// for certain (help, unknown or repeated options, a missing value, a value
/// that looks like an option) returns nil, and ArgumentParser handles the
/// arguments as always. Tests hold its results equal to ArgumentParser's.
enum FastPath {
    /// Options taking a value, per command (the instance options for all).
    static let instanceOptions: Set<String> = ["--state-dir", "--run-dir", "--cgroup-parent"]
    static let runOptions: Set<String> = ["--name", "--template", "--rootfs", "--hostname", "--env", "-e", "--workdir", "-w"]
    static let repeatable: Set<String> = ["--env"]

    static func parse(_ arguments: [String]) -> Lifecycle? {
        guard let command = arguments.first else { return nil }
        let valued: Set<String>
        switch command {
        case "run": valued = instanceOptions.union(runOptions)
        case "start": valued = instanceOptions
        case "stop": valued = instanceOptions.union(["--timeout"])
        default: return nil
        }
        var values: [String: [String]] = [:]
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
            var value: String?
            if let equals = token.firstIndex(of: "="), token.hasPrefix("--") {
                option = String(token[..<equals])
                value = String(token[token.index(after: equals)...])
            }
            let long = option == "-e" ? "--env" : option == "-w" ? "--workdir" : option
            guard valued.contains(option) else { return nil }
            if value == nil {
                guard index < arguments.count, !arguments[index].hasPrefix("-") else { return nil }
                value = arguments[index]
                index += 1
            }
            guard let value, values[long] == nil || repeatable.contains(long) else { return nil }
            values[long, default: []].append(value)
        }
        var instance = Instance()
        if let value = values["--state-dir"]?.last { instance.stateDir = value }
        if let value = values["--run-dir"]?.last { instance.runDir = value }
        if let value = values["--cgroup-parent"]?.last { instance.cgroupParent = value }
        switch command {
        case "run":
            guard positionals.isEmpty else { return nil }
            return .run(
                RunRequest(
                    instance: instance, name: values["--name"]?.last, template: values["--template"]?.last,
                    rootfs: values["--rootfs"]?.last, hostname: values["--hostname"]?.last, env: values["--env"] ?? [],
                    workdir: values["--workdir"]?.last, command: passthrough ?? []))
        case "start":
            guard passthrough == nil, positionals.count == 1 else { return nil }
            return .start(instance: instance, name: positionals[0])
        default:
            guard passthrough == nil, positionals.count == 1 else { return nil }
            var timeout: Int?
            if let text = values["--timeout"]?.last {
                guard let seconds = Int(text) else { return nil }
                timeout = seconds
            }
            return .stop(instance: instance, timeout: timeout, name: positionals[0])
        }
    }
}
