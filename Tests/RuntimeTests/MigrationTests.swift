import Kernel
import Testing

@testable import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// berth migrate's pure parts: the ssh command lines, the steps in order,
/// and the rollback after a failure at each step, with a fake source and
/// a fake transport (no root, no ssh, no CRIU).
@Suite struct MigrationTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "boom" }
    }

    /// Records every call as one line; fails the call whose line starts with `failing`.
    final class Fakes: MigrationSource, MigrationTransport, @unchecked Sendable {
        var calls: [String] = []
        var failing: String?
        var targetHas = false
        var targetState = "running"

        func record(_ line: String) throws {
            calls.append(line)
            if let failing, line.hasPrefix(failing) { throw Failure() }
        }

        var layerRefusal: String?
        func privateLayer(_ name: String) throws -> String {
            if let layerRefusal { throw MigrationError.Cause(layerRefusal) }
            return "/state/containers/\(name)/upper"
        }
        /// What each pre-dump reports it wrote, in order (nil past the end: unknown).
        var pagesWritten: [UInt64?] = []
        func preDump(_ name: String, into directory: String, parent: String?) throws -> UInt64? {
            try record("pre-dump \(directory) parent \(parent ?? "-")")
            return pagesWritten.isEmpty ? nil : pagesWritten.removeFirst()
        }
        func dump(_ name: String, into directory: String, parent: String?) throws { try record("dump \(directory) parent \(parent ?? "-")") }
        func restoreHere(_ name: String, from directory: String) throws { try record("restore here \(directory)") }
        func deleteHere(_ name: String) throws { try record("delete here \(name)") }
        func removeTree(_ path: String) throws { calls.append("rm here \(path)") }
        func writeLayerList(_ name: String, to path: String) throws { try record("list layer \(name) → \(path)") }
        /// Whether the container has a disk quota; what the target answers `migrate-receive` with.
        var disk = false
        var diskAnswer = "motd line\nberth-disk-backend: image\n"
        func writeDiskRecord(_ name: String, into directory: String) throws -> Bool {
            guard disk else { return false }
            try record("disk record \(name) → \(directory)")
            return true
        }

        func run(_ command: [String]) throws -> String {
            let line = "remote " + RemoteBerth.line(command)
            try record(line)
            if command.dropFirst().first == "status" || (command.first == "sh" && line.contains(" status c1 ")) {
                guard targetHas || calls.contains(where: { $0.contains("berth restore") }) else { throw Failure() }
                return "{\"name\": \"c1\", \"state\": \"\(targetState)\", \"pid\": 42}"
            }
            if line.contains(" migrate-receive ") && line.contains("--record") { return diskAnswer }
            return ""
        }
        func send(_ directory: String, to remoteDirectory: String) throws { try record("send \(directory) → \(remoteDirectory)") }
    }

    static let target = RemoteBerth(host: "root@node2", sshOptions: ["Port=2222"], stateDirectory: "/srv/berth")
    static let migration = Migration(name: "c1", target: target, workDirectory: "/state/migrate/c1", preDumps: 2)

    func run(_ fakes: Fakes) -> (report: Migration.Report?, error: MigrationError?) {
        var now: UInt64 = 1000
        let clock = {
            now += 7
            return now
        }
        do { return (try MigrationTests.migration.run(source: fakes, transport: fakes, clock: clock), nil) } catch {
            return (nil, error)
        }
    }

    @Test func sshRunsOneQuotedLineInBatchMode() {
        let target = MigrationTests.target
        #expect(
            target.ssh(target.berth(["restore", "c1", "--from", "/srv/berth/migrate/c1/final"])) == [
                "ssh", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "Port=2222", "root@node2", "--",
                "berth restore c1 --from /srv/berth/migrate/c1/final --state-dir /srv/berth",
            ])
        #expect(
            target.untar(into: "/srv/berth/containers/c1/upper").last
                == "mkdir -p -- /srv/berth/containers/c1/upper && tar -x -p --numeric-owner --xattrs '--xattrs-include=*' "
                + "-C /srv/berth/containers/c1/upper -f -")
        let other = RemoteBerth(host: "n3", binary: "/opt/berth", runDirectory: "/run/b2", cgroupParent: "b2")
        #expect(
            other.berth(["version"]) == ["/opt/berth", "version", "--state-dir", "/var/lib/berth", "--run-dir", "/run/b2", "--cgroup-parent", "b2"])
    }

    @Test func sshSharesOneConnectionThroughAPrivateSocketAndClosesIt() {
        var target = MigrationTests.target
        #expect(target.closeMaster() == nil)
        target.controlDirectory = "/tmp/berth-ssh-42"
        let sharing = ["-o", "ControlMaster=auto", "-o", "ControlPath=/tmp/berth-ssh-42/%C", "-o", "ControlPersist=120"]
        #expect(
            target.ssh(["berth", "version"])
                == ["ssh", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"] + sharing + ["-o", "Port=2222", "root@node2", "--", "berth version"])
        #expect(target.untar(into: "/x").starts(with: ["ssh", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"] + sharing))
        #expect(target.closeMaster() == ["ssh", "-o", "LogLevel=ERROR"] + sharing + ["-o", "Port=2222", "-O", "exit", "root@node2"])
    }

    @Test(arguments: [(Int32(0), true), (1 << 8, true), (2 << 8, false), (9, false)])
    func tarMayFindFilesChangingWhileTheContainerRuns(_ status: Int32, _ succeeded: Bool) {
        #expect(RemoteBerth.tarSucceeded(status) == succeeded)
    }

    @Test(arguments: [
        ("plain/path-1.img", "plain/path-1.img"), ("two words", "'two words'"), ("it's", "'it'\\''s'"), ("", "''"),
        ("$(reboot)", "'$(reboot)'"), ("a;b", "'a;b'"),
    ])
    func wordsAreQuotedForTheRemoteShell(_ word: String, _ quoted: String) {
        #expect(RemoteBerth.quoted(word) == quoted)
    }

    @Test func aMigrationCopiesWhileItRunsThenFreezesRestoresAndDeletesTheSource() throws {
        let fakes = Fakes()
        let (report, error) = run(fakes)
        #expect(error == nil)
        #expect(
            fakes.calls == [
                "remote berth version --state-dir /srv/berth",
                "remote berth status c1 -o json --state-dir /srv/berth",
                "remote mkdir -p -- /srv/berth/migrate/c1",
                "send /state/containers/c1/upper → /srv/berth/containers/c1/upper",
                "pre-dump /state/migrate/c1/pre-1 parent -",
                "send /state/migrate/c1/pre-1 → /srv/berth/migrate/c1/pre-1",
                "pre-dump /state/migrate/c1/pre-2 parent ../pre-1",
                "send /state/migrate/c1/pre-2 → /srv/berth/migrate/c1/pre-2",
                "dump /state/migrate/c1/final parent ../pre-2",
                "send /state/containers/c1/upper → /srv/berth/containers/c1/upper",
                "list layer c1 → /state/migrate/c1/layer/paths",
                "send /state/migrate/c1/layer → /srv/berth/migrate/c1/layer",
                "remote "
                    + RemoteBerth.line(MigrationTests.target.prune("/srv/berth/containers/c1/upper", keeping: "/srv/berth/migrate/c1/layer/paths")),
                "send /state/migrate/c1/final → /srv/berth/migrate/c1/final",
                "remote sh -c 'berth restore c1 --from /srv/berth/migrate/c1/final --state-dir /srv/berth"
                    + " && berth status c1 -o json --state-dir /srv/berth'",
                "delete here c1",
                "remote rm -rf -- /srv/berth/migrate/c1",
                "rm here /state/migrate/c1",
            ])
        #expect(report?.steps == MigrationTests.migration.steps)
        // Two clock readings: at the final dump and at "running".
        #expect(report?.freezeMilliseconds == 7)
    }

    /// A container with a disk quota: the target makes its backend from the
    /// record before the layer comes, the layer goes into it, and the
    /// report says which backend the target made.
    @Test func aDiskQuotaIsMadeOnTheTargetBeforeTheLayerGoesIntoIt() throws {
        let fakes = Fakes()
        fakes.disk = true
        let (report, error) = run(fakes)
        #expect(error == nil)
        let receive =
            "remote berth migrate-receive c1 --record /srv/berth/migrate/c1/disk/container.json --state-dir /srv/berth"
        #expect(
            Array(fakes.calls.prefix(7)) == [
                "remote berth version --state-dir /srv/berth",
                "remote berth status c1 -o json --state-dir /srv/berth",
                "remote mkdir -p -- /srv/berth/migrate/c1",
                "disk record c1 → /state/migrate/c1/disk",
                "send /state/migrate/c1/disk → /srv/berth/migrate/c1/disk",
                receive,
                "send /state/containers/c1/upper → /srv/berth/containers/c1/disk/upper",
            ])
        #expect(
            fakes.calls.contains(
                "remote "
                    + RemoteBerth.line(
                        MigrationTests.target.prune("/srv/berth/containers/c1/disk/upper", keeping: "/srv/berth/migrate/c1/layer/paths"))))
        #expect(report?.targetDisk == .image)
        #expect(Migration.receivedBackend(in: "motd\nberth-disk-backend: project-quota\n") == .projectQuota)
        #expect(Migration.receivedBackend(in: "berth-disk-backend: zfs\n") == nil)
    }

    /// A failure once the target made the disk backend: it is discarded
    /// there (image detached and removed, project cleared) before its files go.
    @Test(arguments: ["send /state/containers/c1/upper", "remote sh -c 'berth restore"])
    func aFailedDiskMigrationDiscardsTheTargetsBackend(_ failing: String) throws {
        let fakes = Fakes()
        fakes.disk = true
        fakes.failing = failing
        let error = try #require(run(fakes).error)
        let discard = "remote berth migrate-receive c1 --discard --state-dir /srv/berth"
        let remove = "remote rm -rf -- /srv/berth/migrate/c1 /srv/berth/containers/c1"
        let discarded = try #require(fakes.calls.firstIndex(of: discard))
        let removed = try #require(fakes.calls.firstIndex(of: remove))
        #expect(discarded < removed)
        #expect(error.rollback.contains("removed its disk quota on root@node2"))
    }

    /// A target that does not say which backend it made is rolled back.
    @Test func aTargetThatDoesNotNameItsDiskBackendIsRolledBack() throws {
        let fakes = Fakes()
        fakes.disk = true
        fakes.diskAnswer = "ok\n"
        let error = try #require(run(fakes).error)
        #expect(error.step == .checkTarget)
        #expect(fakes.calls.contains("remote berth migrate-receive c1 --discard --state-dir /srv/berth"))
        #expect(!fakes.calls.contains { $0.hasPrefix("send /state/containers") })
    }

    /// A pre-dump that wrote few pages ends the pre-dumps: the final dump
    /// is made on top of it, and the steps of the others are left out.
    @Test func preDumpsStopOnceOneWroteFewPages() throws {
        let fakes = Fakes()
        fakes.pagesWritten = [Migration.settledPages - 1]
        let (report, error) = run(fakes)
        #expect(error == nil)
        #expect(fakes.calls.filter { $0.hasPrefix("pre-dump") } == ["pre-dump /state/migrate/c1/pre-1 parent -"])
        #expect(fakes.calls.contains("send /state/migrate/c1/pre-1 → /srv/berth/migrate/c1/pre-1"))
        #expect(fakes.calls.contains("dump /state/migrate/c1/final parent ../pre-1"))
        let steps = try #require(report?.steps)
        #expect(steps.contains(.copyPreDump(1)) && !steps.contains(.preDump(2)) && !steps.contains(.copyPreDump(2)))
    }

    @Test(arguments: [
        (UInt64?.none, UInt64?.none, false), (0, nil, true), (255, nil, true), (256, nil, false),
        (5000, 20000, false), (20000, 20000, true), (30000, 20000, true), (nil, 100, false),
    ])
    func preDumpsSettleOnFewPagesOrNoProgress(_ written: UInt64?, _ previous: UInt64?, _ settled: Bool) {
        #expect(Migration.preDumpsSettled(written: written, previous: previous) == settled)
    }

    @Test func theLayerListIsSortedByBytesAndNULEnded() {
        let paths = ["./b", "./a/b", "./a", "./a-b", "./é", "./Z"].map { Array($0.utf8) }
        #expect(
            Migration.layerList(paths) == Array("./Z\0./a\0./a-b\0./a/b\0./b\0./é\0".utf8))
        #expect(Migration.layerList([]) == [])
    }

    /// The target's prune, run here on a tree: what is not in the list
    /// goes (files, directories with what they hold, symlinks, not their
    /// targets), names with spaces, newlines and quotes included.
    /// The prune's command line as the target's shell runs it (sh from PATH).
    func prune(_ layer: String, _ list: String) throws -> Spawn.Result {
        try Spawn.run(["/bin/sh"] + MigrationTests.target.prune(layer, keeping: list).dropFirst(), mergingStandardError: true)
    }

    @Test func thePruneRemovesWhatTheListDoesNotHold() throws {
        let base = "/tmp/berth-prune-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? Syscall.removeTree(base) }
        let layer = base + "/upper"
        for directory in ["kept/deep", "gone/deep", "odd"] { try Syscall.makeDirectories(layer + "/" + directory) }
        try Syscall.makeDirectories(base + "/outside")
        for file in ["kept/a", "kept/deep/b", "gone/deep/c", "gone-file", "odd/it's two\nlines", "odd/kept 'x'", "outside-target"] {
            try Syscall.writeAtomically([], to: (file == "outside-target" ? base + "/outside/" : layer + "/") + file, durable: false)
        }
        try Syscall.symlink(base + "/outside", at: layer + "/gone-link")
        let kept = ["kept", "kept/a", "kept/deep", "kept/deep/b", "odd", "odd/kept 'x'"].map { Array(("./" + $0).utf8) }
        try Syscall.writeAtomically(Migration.layerList(kept), to: base + "/paths", durable: false)
        let result = try prune(layer, base + "/paths")
        #expect(result.exitedCleanly, "\(String(decoding: result.output, as: UTF8.self))")
        let left = try Syscall.treePaths(layer).map { String(decoding: $0, as: UTF8.self) }.sorted()
        #expect(left == kept.map { String(decoding: $0, as: UTF8.self) }.sorted())
        #expect(Syscall.exists(base + "/outside/outside-target"))
        // A list out of order stops it before anything is removed.
        try Syscall.makeDirectories(layer + "/new")
        try Syscall.writeAtomically(Array("./odd\0./kept\0".utf8), to: base + "/paths", durable: false)
        #expect(!(try prune(layer, base + "/paths")).exitedCleanly)
        #expect(Syscall.exists(layer + "/kept/a") && Syscall.exists(layer + "/new"))
    }

    @Test func withoutPreDumpsTheFinalDumpHasNoParent() throws {
        let migration = Migration(name: "c1", target: MigrationTests.target, workDirectory: "/w", preDumps: 0)
        let fakes = Fakes()
        _ = try migration.run(source: fakes, transport: fakes, clock: { 0 })
        #expect(fakes.calls.contains("dump /w/final parent -"))
        #expect(!fakes.calls.contains { $0.hasPrefix("pre-dump") })
    }

    @Test func aTargetThatHasTheContainerIsRefusedAndLeftAsItWas() {
        let fakes = Fakes()
        fakes.targetHas = true
        let error = run(fakes).error
        #expect(error?.step == .checkTarget)
        #expect(error?.description == "migrate failed at check the target: the target already has a container c1 (it kept running here)")
        #expect(!fakes.calls.contains { $0.hasPrefix("remote rm") || $0.hasPrefix("remote mkdir") })
    }

    /// A container berth cannot move (its layer in memory) is refused
    /// before anything is asked of the target, and it keeps running.
    @Test func aContainerTheSourceCannotMoveIsRefusedBeforeTheTargetIsAsked() throws {
        let fakes = Fakes()
        fakes.layerRefusal = "container c1 runs in the foreground (berth run): its private layer is in memory"
        let error = try #require(run(fakes).error)
        #expect(error.step == .checkTarget)
        #expect(
            error.description
                == "migrate failed at check the target: container c1 runs in the foreground (berth run): its private layer is in memory "
                + "(it kept running here)")
        #expect(!fakes.calls.contains { $0.hasPrefix("remote") || $0.hasPrefix("dump") || $0.hasPrefix("send") })
    }

    /// Failing at each step: what is undone, as calls after the failing one.
    @Test(arguments: [
        (
            "send /state/containers/c1/upper", Migration.Step.copyLayer,
            ["remote rm -rf -- /srv/berth/migrate/c1 /srv/berth/containers/c1", "rm here /state/migrate/c1"]
        ),
        (
            "pre-dump /state/migrate/c1/pre-2", .preDump(2),
            ["remote rm -rf -- /srv/berth/migrate/c1 /srv/berth/containers/c1", "rm here /state/migrate/c1"]
        ),
        (
            "dump", .dump,
            ["remote rm -rf -- /srv/berth/migrate/c1 /srv/berth/containers/c1", "rm here /state/migrate/c1"]
        ),
        (
            "send /state/migrate/c1/final", .copyImages,
            [
                "remote rm -rf -- /srv/berth/migrate/c1 /srv/berth/containers/c1", "restore here /state/migrate/c1/final",
                "rm here /state/migrate/c1",
            ]
        ),
        (
            "remote sh -c 'berth restore", .restoreOnTarget,
            [
                "remote berth stop c1 --state-dir /srv/berth", "remote rm -rf -- /srv/berth/migrate/c1 /srv/berth/containers/c1",
                "restore here /state/migrate/c1/final", "rm here /state/migrate/c1",
            ]
        ),
    ])
    func aFailureUndoesWhatWasDoneAndTheSourceRunsAgain(_ failing: String, _ step: Migration.Step, _ undo: [String]) throws {
        let fakes = Fakes()
        fakes.failing = failing
        let error = try #require(run(fakes).error)
        #expect(error.step == step)
        #expect(error.cause == "boom")
        let failedAt = try #require(fakes.calls.firstIndex { $0.hasPrefix(failing) })
        #expect(Array(fakes.calls[(failedAt + 1)...]) == undo)
        #expect(!fakes.calls.contains("delete here c1"))
    }

    @Test func theStatusIsReadPastWhatTheRemoteShellPrints() {
        let output = "pyenv: cannot rehash: /root/.pyenv/shims isn't writable\n{\n  \"name\" : \"c1\",\n  \"state\" : \"running\"\n}\n"
        #expect(Migration.StatusState.state(in: output) == "running")
        #expect(Migration.StatusState.state(in: "Error: no container named 'c1'") == nil)
    }

    @Test func aTargetThatDoesNotReportItRunningIsRolledBack() throws {
        let fakes = Fakes()
        fakes.targetState = "exited"
        let error = try #require(run(fakes).error)
        #expect(error.step == .confirmRunning)
        #expect(error.cause == "the target's berth reports it exited, not running")
        #expect(error.rollback == ["stopped it on root@node2", "removed its files on root@node2", "restored it here"])
        #expect(!fakes.calls.contains("delete here c1"))
    }

    @Test func aSourceThatCannotBeDeletedIsNotRolledBack() throws {
        let fakes = Fakes()
        fakes.failing = "delete here"
        let error = try #require(run(fakes).error)
        #expect(error.step == .deleteSource)
        #expect(error.rollback == ["the container runs on root@node2; its copy here could not be deleted: delete it by hand"])
        #expect(fakes.calls.last == "delete here c1")
    }
}
