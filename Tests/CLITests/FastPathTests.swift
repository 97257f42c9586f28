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

    /// What ArgumentParser makes of `arguments`, as the fast path's value.
    func command(_ arguments: [String]) throws -> FastPath.Command? {
        switch try Berth.parseAsRoot(arguments) {
        case let plan as Plan: return .plan(plan.request)
        case let apply as Apply: return .apply(apply.request)
        case let drift as Drift: return .drift(drift.request)
        default: return try parsed(arguments).map { .lifecycle($0) }
        }
    }

    static let manifestAccepted: [[String]] = [
        ["plan", "."], ["apply", "/srv/manifests"], ["drift", "a.yaml", "b.yaml"],
        ["apply", "-o", "json", "--source", "one", "one.yaml"], ["apply", "--output=json", "--source=web", "x"],
        ["apply", "-o", "json", "--source", "one", "--prune", "--allow-empty", "one.yaml"],
        ["apply", "--prune"], ["apply", "--prune", "-y"], ["apply", "--prune", "--yes", "-q"],
        ["apply", "--dry-run", "--take-ownership", "--restart", "--replace", "--strict", "--overcommit", "memory=1.5,cpu=8", "m"],
        ["apply", "--lock-timeout", "0s", "m"], ["apply", "--lock-timeout=1m30s", "m", "n"],
        ["apply", "--state-dir", "/s", "--run-dir=/r", "--cgroup-parent", "p/q", "--cgroup-driver", "systemd", "m"],
        ["apply", "--host", "web1", "--host-label", "zone=a", "--host-label=rack=3", "m"],
        ["apply", "--host-labels-file", "/etc/labels", "-v", "m"],
        ["plan", "--detailed-exitcode", "--prune", "--take-ownership", "--strict", "--out", "/tmp/p.json", "m"],
        ["plan", "-o", "json", "--overcommit=memory=2,cpu=4", "--source", "s", "m"], ["plan", "--prune"],
        ["drift", "--detailed-exitcode", "-o", "json", "--source", "s", "--host", "h", "m"], ["drift", "m", "--quiet"],
    ]

    @Test(arguments: manifestAccepted) func readsPlanApplyAndDriftAsArgumentParserDoes(_ arguments: [String]) throws {
        let fast = try #require(FastPath.command(arguments))
        #expect(fast == (try command(arguments)))
    }

    static let manifestHandedOver: [[String]] = [
        ["plan"], ["apply"], ["drift"], ["drift", "--prune", "m"], ["plan", "--dry-run", "m"], ["plan", "--lock-timeout", "1s", "m"],
        ["apply", "--out", "p", "m"], ["apply", "--help"], ["apply", "-h", "m"], ["plan", "help"], ["apply", "--", "m"],
        ["apply", "-o", "yaml", "m"], ["apply", "-ojson", "m"], ["apply", "-o=json", "m"], ["apply", "--output"],
        ["apply", "--source", "--prune", "m"], ["apply", "--source", "a", "--source", "b", "m"], ["apply", "--prune", "--prune"],
        ["apply", "--source", "bad\u{7}name", "m"], ["apply", "--source=", "m"], ["apply", "--lock-timeout", "soon", "m"],
        ["apply", "--overcommit", "memory=x", "m"], ["apply", "--cgroup-driver", "lxc", "m"], ["apply", "-q", "-v", "m"],
        ["apply", "-q", "--quiet", "m"],
        ["apply", "--prune=yes"], ["apply", "-qy", "--prune"], ["apply", "-", "m"], ["plan", "-out", "p", "m"],
        ["apply", "--bogus", "m"], ["drift", "--host-label"],
    ]

    @Test(arguments: manifestHandedOver) func handsOtherPlanApplyAndDriftFormsToArgumentParser(_ arguments: [String]) {
        #expect(FastPath.command(arguments) == nil)
    }

    /// ArgumentParser refuses each command line the fast path hands over
    /// for a bad value (the fast path must never accept what it refuses).
    @Test(arguments: [
        ["apply", "--source", "bad\u{7}name", "m"], ["apply", "--source=", "m"], ["apply", "--lock-timeout", "soon", "m"],
        ["apply", "--overcommit", "memory=x", "m"], ["apply", "--cgroup-driver", "lxc", "m"], ["apply", "-o", "yaml", "m"], ["plan"], ["apply"],
        ["drift"],
    ])
    func argumentParserRefusesWhatTheFastPathHandsOverAsBad(_ arguments: [String]) {
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(arguments) }
    }

    @Test func knowsEveryOptionOfItsCommands() {
        let known =
            FastPath.instanceOptions + FastPath.instanceFlags + FastPath.runOptions + FastPath.stopOptions + FastPath.runFlags + [
                "--help", "--version",
            ]
        let manifestKnown =
            known + FastPath.manifestOptions + FastPath.capacityOptions + FastPath.planOptions + FastPath.applyOptions + FastPath.planFlags
            + FastPath.applyFlags + FastPath.driftFlags
        for command in [Plan.self, Apply.self, Drift.self] as [any ParsableCommand.Type] {
            let help = Berth.helpMessage(for: command)
            let options = help.split(whereSeparator: { !($0.isLetter || $0 == "-") }).filter { $0.hasPrefix("--") && $0.count > 2 }
            for option in options { #expect(manifestKnown.contains(String(option)), "\(command): \(option)") }
        }
        for command in [Run.self, Start.self, Stop.self] as [any ParsableCommand.Type] {
            let help = Berth.helpMessage(for: command)
            let options = help.split(whereSeparator: { !($0.isLetter || $0 == "-") }).filter { $0.hasPrefix("--") && $0.count > 2 }
            for option in options { #expect(known.contains(String(option)), "\(command): \(option)") }
        }
    }
}
