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

    static let moved: [([String], [String])] = [
        (["list"], ["list"]),
        (["--state-dir", "/s", "list"], ["list", "--state-dir", "/s"]),
        (["--state-dir=/s", "-q", "-o", "json", "plan", "m/"], ["plan", "--state-dir=/s", "-q", "-o", "json", "m/"]),
        (["--cgroup-parent", "p", "run", "--", "/bin/sh"], ["run", "--cgroup-parent", "p", "--", "/bin/sh"]),
        (["-v", "exec", "web1", "--", "ps", "--state-dir", "x"], ["exec", "-v", "web1", "--", "ps", "--state-dir", "x"]),
        // Left for ArgumentParser to answer.
        (["--help"], ["--help"]), (["--version"], ["--version"]), (["--state-dir"], ["--state-dir"]),
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
