import Manifest

/// The command line before any parser reads it: the global options may come
/// before the subcommand (`berth --state-dir X list`), as kubectl's and
/// git's do, and an unknown subcommand is a usage error that suggests the
/// closest one. Plain arrays: every CLI call, `berth run` included, pays this.
enum Arguments {
    /// Global options that take a value (GlobalOptions' and OutputOptions').
    static let globalOptions = ["--state-dir", "--run-dir", "--cgroup-parent", "--output", "-o", "--log-level"]
    /// Global flags (GlobalOptions').
    static let globalFlags = ["--quiet", "-q", "--verbose", "-v"]
    /// Every subcommand's name; a test holds it equal to Berth's configuration.
    static let commands = [
        "validate", "plan", "apply", "show", "drift", "list", "status", "logs", "run", "exec", "enter", "start", "stop",
        "ubc", "quota", "suspend", "resume", "checkpoint", "restore", "migrate", "events", "metrics", "agent", "version", "help",
        "migrate-receive", "trash-empty",
    ]
    /// Commands left out of the list an unknown one prints (help; berth
    /// migrate's target side; the trash emptier apply and the agent start).
    static let unlisted: Set = ["help", "migrate-receive", "trash-empty"]

    /// A command line no parser should see: exit 64 with this message.
    struct UnknownCommand: Error, Equatable, CustomStringConvertible {
        var name: String
        var suggestion: String?
        var description: String {
            if let suggestion { return "unknown command '\(name)'; did you mean '\(suggestion)'?" }
            return "unknown command '\(name)' (commands: \(commands.filter { !unlisted.contains($0) }.joined(separator: ", ")))"
        }
    }

    /// `arguments` with the global options written before the subcommand
    /// moved to just after it, where every subcommand reads them. Anything
    /// else before the subcommand (--help, --version, an unknown option) is
    /// left where it is, for ArgumentParser to answer.
    static func normalized(_ arguments: [String]) throws(UnknownCommand) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let token = arguments[index]
            // `--version` is `berth version`, with global options before or after it.
            if token == "--version" { return ["version"] + leading + arguments[(index + 1)...] }
            guard token.hasPrefix("-") else { break }
            if globalFlags.contains(token) {
                leading.append(token)
                index += 1
                continue
            }
            let option = token.split(separator: "=", maxSplits: 1).first.map(String.init) ?? token
            guard globalOptions.contains(option) else { return arguments }
            if option != token {
                leading.append(token)
                index += 1
                continue
            }
            // A missing value: ArgumentParser says so, in its words.
            guard index + 1 < arguments.count else { return arguments }
            leading += [token, arguments[index + 1]]
            index += 2
        }
        guard index < arguments.count else { return arguments }
        let command = arguments[index]
        guard commands.contains(command) else {
            throw UnknownCommand(name: command, suggestion: Suggest.closest(to: command, in: commands))
        }
        if leading.isEmpty { return arguments }
        return [command] + leading + arguments[(index + 1)...]
    }
}
