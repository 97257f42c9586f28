import ArgumentParser
import Testing

@testable import berth

/// The fast path must read every command line it accepts exactly as
/// ArgumentParser does, and hand everything else to ArgumentParser.
struct FastPathTests {
    /// What ArgumentParser makes of `arguments`, as a Lifecycle value.
    func parsed(_ arguments: [String]) throws -> Lifecycle? {
        switch try Berth.parseAsRoot(arguments) {
        case let run as Run: return .run(run.request)
        case let start as Start: return start.request
        case let stop as Stop: return stop.request
        default: return nil
        }
    }

    static let accepted: [[String]] = [
        ["start", "web1"],
        ["start", "--state-dir", "/s", "web1", "--run-dir=/r", "--cgroup-parent", "p/q"],
        ["stop", "web1"],
        ["stop", "--timeout", "0", "web1"],
        ["stop", "web1", "--timeout=30", "--state-dir=/tmp/x"],
        ["stop", "--timeout", "1m30s", "web1"], ["stop", "--timeout=500ms", "web1"],
        ["run", "--", "/bin/true"],
        ["run"],
        ["run", "--name", "r1", "--template", "busybox", "--hostname", "h", "-w", "/tmp", "--", "sh", "-c", "echo --name"],
        ["run", "-e", "A=1", "--env", "B=2", "--env=C=3", "--rootfs", "/srv/root", "--", "/bin/sh"],
        ["run", "--workdir=/", "--state-dir", "/s", "--", "--not-an-option"],
        ["run", "--memory", "256Mi", "--cpus=0.5", "--pids", "64", "--", "/bin/sh"],
        ["run", "-t", "--name", "r1", "--", "/bin/sh"], ["run", "--tty"],
        ["start", "-q", "web1"], ["stop", "web1", "--verbose"], ["run", "-v", "--", "/bin/true"],
    ]

    @Test(arguments: accepted) func acceptsWhatArgumentParserReadsTheSame(_ arguments: [String]) throws {
        let fast = try #require(FastPath.parse(arguments))
        #expect(fast == (try parsed(arguments)))
    }

    static let handedOver: [[String]] = [
        [], ["--version"], ["list"], ["start"], ["start", "a", "b"], ["start", "-h"], ["start", "--help", "x"],
        ["start", "--", "x"], ["stop", "--timeout", "soon", "x"], ["stop", "--timeout", "-1", "x"],
        ["start", "--state-dir", "--run-dir", "x"], ["start", "--state-dir", "/a", "--state-dir", "/b", "x"],
        ["run", "--name"], ["run", "--name", "a", "--name", "b"], ["run", "--bogus", "--", "true"], ["run", "positional"],
        ["run", "-eA=1"], ["run", "--keep"], ["stop", "--timeout"], ["run", "-t", "-t"], ["run", "--tty=yes"], ["start", "-t", "x"],
        ["start", "-q", "-v", "x"], ["stop", "-q", "--quiet", "x"], ["start", "--quiet=yes", "x"],
    ]

    @Test(arguments: handedOver) func handsEverythingElseToArgumentParser(_ arguments: [String]) {
        #expect(FastPath.parse(arguments) == nil)
    }

    @Test func knowsEveryOptionOfItsCommands() {
        let known =
            FastPath.instanceOptions + FastPath.instanceFlags + FastPath.runOptions + FastPath.stopOptions + FastPath.runFlags + [
                "--help", "--version",
            ]
        for command in [Run.self, Start.self, Stop.self] as [any ParsableCommand.Type] {
            let help = Berth.helpMessage(for: command)
            let options = help.split(whereSeparator: { !($0.isLetter || $0 == "-") }).filter { $0.hasPrefix("--") && $0.count > 2 }
            for option in options { #expect(known.contains(String(option)), "\(command): \(option)") }
        }
    }
}
