import ArgumentParser
import Testing

@testable import berth

/// The command line as Main hands it on: global options moved after the
/// subcommand, unknown subcommands refused with a suggestion.
struct ArgumentsTests {
    @Test func knowsEverySubcommand() {
        let names = Berth.configuration.subcommands.map { $0.configuration.commandName ?? "" }
        #expect(Set(Arguments.commands) == Set(names + ["help"]))
    }

    @Test func parsesDirectlyEverySubcommandButHelp() {
        for type in Berth.configuration.subcommands {
            let name = type.configuration.commandName ?? ""
            #expect(Berth.subcommand(named: name).map(ObjectIdentifier.init) == ObjectIdentifier(type), "\(name)")
        }
        #expect(Berth.subcommand(named: "help") == nil && Berth.subcommand(named: "nosuch") == nil)
    }

    /// A subcommand parsed as its own root holds what Berth's tree gives.
    @Test func aDirectParseEqualsTheTreeParse() throws {
        let arguments = ["list", "--state-dir", "/s", "-q", "-l", "tier=web", "--columns", "name,state"]
        let direct = try #require(Berth.parsedDirectly(arguments) as? List)
        let tree = try #require(try Berth.parseAsRoot(arguments) as? List)
        #expect(direct.global.stateDir == tree.global.stateDir && direct.global.verbosity == tree.global.verbosity)
        #expect(direct.selector == tree.selector && direct.columns == tree.columns)
        let apply = try #require(Berth.parsedDirectly(["apply", "-o", "json", "--source", "one", "--prune", "--allow-empty", "m.yaml"]) as? Apply)
        #expect(apply.format.output == .json && apply.sourceOptions.source == "one" && apply.prune && apply.allowEmpty)
        #expect(apply.manifests.paths == ["m.yaml"])
    }

    /// Help, errors and what only the root answers are left to Berth's
    /// tree, which words them as ever.
    @Test(arguments: [
        ["apply", "--help"], ["apply", "-h"], ["list", "help"], ["help", "apply"], ["apply", "--bogus"], ["apply"],
        ["list", "--quiet", "--verbose"], ["apply", "--generate-completion-script", "bash"], ["apply", "--experimental-dump-help"],
        ["nosuch"], [],
    ])
    func leavesHelpAndErrorsToTheTree(arguments: [String]) {
        #expect(Berth.parsedDirectly(arguments) == nil)
    }

    static let moved: [([String], [String])] = [
        (["list"], ["list"]),
        (["--state-dir", "/s", "list"], ["list", "--state-dir", "/s"]),
        (["--state-dir=/s", "-q", "-o", "json", "plan", "m/"], ["plan", "--state-dir=/s", "-q", "-o", "json", "m/"]),
        (["--cgroup-parent", "p", "run", "--", "/bin/sh"], ["run", "--cgroup-parent", "p", "--", "/bin/sh"]),
        (["-v", "exec", "web1", "--", "ps", "--state-dir", "x"], ["exec", "-v", "web1", "--", "ps", "--state-dir", "x"]),
        // Left for ArgumentParser to answer.
        (["--version"], ["version"]), (["-q", "--version", "-o", "json"], ["version", "-q", "-o", "json"]),
        (["--help"], ["--help"]), (["--state-dir"], ["--state-dir"]),
        (["--bogus", "list"], ["--bogus", "list"]), ([], []), (["--state-dir", "/s"], ["--state-dir", "/s"]),
    ]

    @Test(arguments: moved) func movesGlobalOptionsAfterTheSubcommand(_ given: [String], _ expected: [String]) throws {
        #expect(try Arguments.normalized(given) == expected)
    }

    @Test func anUnknownSubcommandSuggestsTheClosest() {
        #expect(throws: Arguments.UnknownCommand(name: "aply", suggestion: "apply")) { try Arguments.normalized(["aply"]) }
        #expect(throws: Arguments.UnknownCommand(name: "x", suggestion: nil)) { try Arguments.normalized(["-q", "x", "list"]) }
    }

    @Test func movedOptionsParseAsIfWrittenAfter() throws {
        let parsed = try Berth.parseAsRoot(try Arguments.normalized(["--state-dir", "/s", "-q", "list"]))
        let list = try #require(parsed as? List)
        #expect(list.global.stateDir == "/s" && list.global.verbosity == .quiet)
    }
}

/// `berth events --since`: durations ago and timestamps.
struct EventsSinceTests {
    static let now: UInt64 = 1_764_748_800 * 1_000_000  // 2025-12-03T08:00:00Z

    static let accepted: [(String, UInt64)] = [
        ("90", now - 90_000_000), ("90s", now - 90_000_000), ("10m", now - 600_000_000), ("2h", now - 7_200_000_000),
        ("1h30m", now - 5_400_000_000), ("2025-12-03T07:00:00Z", now - 3_600_000_000), ("2025-12-03Z", now - 28_800_000_000),
        ("2025-12-03T07:30Z", now - 1_800_000_000), ("1000000h", 0),
        // As journalctl writes it.
        ("5 min ago", now - 300_000_000), ("5min ago", now - 300_000_000), ("2 hours ago", now - 7_200_000_000),
        ("1h 30min ago", now - 5_400_000_000), ("90 seconds ago", now - 90_000_000), ("1 day ago", now - 86_400_000_000),
    ]

    @Test(arguments: accepted) func acceptsDurationsAndTimestamps(_ text: String, _ expected: UInt64) throws {
        #expect(try Events.microseconds(since: text, now: Self.now) == expected)
    }

    @Test(arguments: [
        "", "yesterday", "10x", "2025-13-01", "2025-12-03T25:00:00Z", "2025-12-03 08:00:00+02", "-5", "ago", " ago", "min ago",
        "5 parsecs ago", "5 min", "5 min ago ago", "99999999999999999999 days ago",
    ])
    func refusesTheRest(_ text: String) {
        #expect(throws: (any Error).self) { try Events.microseconds(since: text, now: Self.now) }
    }

    @Test func localTimestampsFollowTheTimeZone() {
        // Without Z: local time, as journalctl reads it; the same instant as
        // mktime gives for those fields.
        #expect(Events.timestamp("2025-12-03 08:00:00") != nil)
        #expect(Events.timestamp("2025-12-03 08:00") == Events.timestamp("2025-12-03T08:00:00"))
    }
}
