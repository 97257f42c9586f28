import FoundationEssentials
import Model

/// What `berth migrate` needs of the source host (ContainerRuntime; a fake
/// in tests).
public protocol MigrationSource {
    /// The container's private layer (overlayfs upper directory).
    func privateLayer(_ name: String) throws -> String
    /// A CRIU pre-dump of its memory into `directory` (made), on top of the
    /// pre-dump `parent` (relative to `directory`); it keeps running.
    /// Returns how many memory pages it wrote (nil: CRIU did not say).
    func preDump(_ name: String, into directory: String, parent: String?) throws -> UInt64?
    /// The final dump into `directory` on top of `parent`: the container
    /// stops (checkpointed).
    func dump(_ name: String, into directory: String, parent: String?) throws
    /// Brings the container back from `directory` on this host (rollback).
    func restoreHere(_ name: String, from directory: String) throws
    /// Deletes the container here (once it runs on the target).
    func deleteHere(_ name: String) throws
    /// Removes a local working directory.
    func removeTree(_ path: String) throws
    /// Writes the paths the private layer holds (Migration.layerList) to
    /// the file `path` (its directory made).
    func writeLayerList(_ name: String, to path: String) throws
    /// When the container has a disk quota: writes its record into the
    /// directory `directory` (made; Migration.diskRecordFile), for the
    /// target to make the same backend before the layer comes, and says so.
    func writeDiskRecord(_ name: String, into directory: String) throws -> Bool
}

/// The target host, reached through the ssh client (a fake in tests).
public protocol MigrationTransport {
    /// Runs `command` on the target; its standard output. Throws, with its
    /// error text, when it does not exit 0.
    func run(_ command: [String]) throws -> String
    /// Sends the tree of the local `directory` into the target's
    /// `remoteDirectory` (made; files there are replaced).
    func send(_ directory: String, to remoteDirectory: String) throws
}

/// `berth migrate NAME --to HOST` as a list of named steps: the private
/// layer copied while the container runs, iterative memory pre-dumps
/// copied while it runs, then the freeze: final dump, the layer and the
/// images copied, `berth restore` on the target, and the source's copy
/// deleted only once the target reports it running. Whatever fails, the
/// source keeps (or gets back) its container and the target loses what
/// was put there.
public struct Migration: Sendable {
    public enum Step: Hashable, Sendable, CustomStringConvertible {
        /// The source can move it, and the target's berth answers and has no
        /// container of that name.
        case checkTarget
        /// The private layer is copied while the container runs.
        case copyLayer
        /// Memory pre-dump `n` (1-based), and its copy.
        case preDump(Int)
        case copyPreDump(Int)
        /// The freeze begins: the final dump (the container stops here).
        case dump
        /// What changed in the layer since its first copy; what was removed
        /// since is removed on the target.
        case copyLayerAgain
        case copyImages
        /// `berth restore` on the target, and its `berth status` after it (one
        /// ssh command: each costs a session and the remote shell's start-up).
        case restoreOnTarget
        /// The target's berth reports the container running: the freeze ends.
        case confirmRunning
        case deleteSource

        public var description: String {
            switch self {
            case .checkTarget: return "check the target"
            case .copyLayer: return "copy the private layer"
            case .preDump(let n): return "pre-dump \(n)"
            case .copyPreDump(let n): return "copy pre-dump \(n)"
            case .dump: return "final dump"
            case .copyLayerAgain: return "copy the private layer again"
            case .copyImages: return "copy the final images"
            case .restoreOnTarget: return "restore on the target"
            case .confirmRunning: return "confirm it runs on the target"
            case .deleteSource: return "delete it on the source"
            }
        }
    }

    /// What a finished migration reports.
    public struct Report: Equatable, Sendable {
        public var steps: [Step]
        /// From the final dump to the target's "running": how long the
        /// container did not run.
        public var freezeMilliseconds: UInt64
        /// The disk backend the target made for its disk quota (nil: it has none).
        public var targetDisk: DiskBackend? = nil
    }

    public let name: String
    public let target: RemoteBerth
    /// The source's working directory for the images (removed at the end).
    public let workDirectory: String
    public let preDumps: Int

    /// A pre-dump that wrote fewer pages than this (1 MiB of 4 KiB pages)
    /// ends the pre-dumps: the memory barely changes while it runs, and
    /// another pre-dump would cost more than it takes off the freeze.
    public static let settledPages: UInt64 = 256

    /// Whether the pre-dumps stop after one that wrote `written` pages, the
    /// one before it having written `previous`: the memory settled, or it
    /// changes as fast as it is copied (another round would not converge).
    public static func preDumpsSettled(written: UInt64?, previous: UInt64?) -> Bool {
        guard let written else { return false }
        if written < settledPages { return true }
        if let previous, written >= previous { return true }
        return false
    }

    public init(name: String, target: RemoteBerth, workDirectory: String, preDumps: Int = 2) {
        self.name = name
        self.target = target
        self.workDirectory = workDirectory
        self.preDumps = max(0, preDumps)
    }

    /// Every step in order.
    public var steps: [Step] {
        [.checkTarget, .copyLayer] + (0..<preDumps).flatMap { [Step.preDump($0 + 1), .copyPreDump($0 + 1)] } + [
            .dump, .copyLayerAgain, .copyImages, .restoreOnTarget, .confirmRunning, .deleteSource,
        ]
    }

    func preDumpName(_ n: Int) -> String { "pre-\(n)" }
    /// The final images' directory name; its parent is the last pre-dump.
    static let finalName = "final"
    func parentOfFinal(lastPreDump: Int) -> String? { lastPreDump > 0 ? "../" + preDumpName(lastPreDump) : nil }
    /// The directory of the list of the layer's paths at the freeze.
    static let layerListName = "layer"
    static let layerListFile = "paths"
    /// The directory of the record the target makes the disk backend from.
    static let diskName = "disk"
    public static let diskRecordFile = "container.json"
    /// The line the target's `berth migrate-receive` answers with: the backend it made.
    public static let receivedPrefix = "berth-disk-backend: "

    /// The backend in the target's answer (nil: none, or one this berth
    /// does not know; the remote shell's start-up files may print around it).
    static func receivedBackend(in output: String) -> DiskBackend? {
        for line in output.split(separator: "\n") where line.hasPrefix(receivedPrefix) {
            if let backend = DiskBackend(rawValue: String(line.dropFirst(receivedPrefix.count)).trimmingWhitespace) { return backend }
        }
        return nil
    }

    /// The paths of a tree (as `find . -mindepth 1` prints them) as the
    /// target compares them with its own: sorted by their bytes (as
    /// `LC_ALL=C sort -z`), each ended by a NUL.
    public static func layerList(_ paths: [[UInt8]]) -> [UInt8] {
        paths.sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 + [0] }
    }

    /// Carries the steps out; `clock` gives milliseconds (monotonic),
    /// `progress` is told each step before it starts. The pre-dumps stop
    /// early once one wrote few pages (preDumpsSettled): the steps of the
    /// ones left out are skipped.
    public func run(
        source: some MigrationSource, transport: some MigrationTransport, clock: () -> UInt64, progress: (Step) -> Void = { _ in }
    ) throws(MigrationError) -> Report {
        var done: [Step] = []
        var targetTouched = false
        var sourceDumped = false
        var freezeStart: UInt64 = 0
        var freeze: UInt64 = 0
        var lastPreDump = 0
        var lastWritten: UInt64?
        var settled = false
        var targetStatus = ""
        var targetDisk: DiskBackend?
        var diskAsked = false
        let staging = target.stagingDirectory(name)
        // A disk quota's layer goes into the backend the target made (mounted there).
        var layer: String { diskAsked ? target.diskLayer(name) : target.privateLayer(name) }
        for step in steps {
            switch step {
            case .preDump(let n), .copyPreDump(let n): if settled && n > lastPreDump { continue }
            default: break
            }
            progress(step)
            do {
                switch step {
                case .checkTarget:
                    // What the source cannot move is refused before the
                    // target is asked anything (a disk quota, a layer in memory).
                    _ = try source.privateLayer(name)
                    _ = try transport.run(target.berth(["version"]))
                    if (try? transport.run(target.berth(["status", name, "-o", "json"]))) != nil {
                        throw MigrationError.Cause("the target already has a container \(name)")
                    }
                    targetTouched = true
                    _ = try transport.run(["mkdir", "-p", "--", staging])
                    // The disk backend is made (sized, mounted) before the layer comes.
                    let disk = workDirectory + "/" + Migration.diskName
                    if try source.writeDiskRecord(name, into: disk) {
                        try transport.send(disk, to: staging + "/" + Migration.diskName)
                        diskAsked = true
                        let answer = try transport.run(
                            target.berth(["migrate-receive", name, "--record", staging + "/" + Migration.diskName + "/" + Migration.diskRecordFile]))
                        guard let backend = Migration.receivedBackend(in: answer) else {
                            throw MigrationError.Cause("the target's berth did not say which disk backend it made: \(answer)")
                        }
                        targetDisk = backend
                    }
                case .copyLayer:
                    try transport.send(try source.privateLayer(name), to: layer)
                case .copyLayerAgain:
                    // tar brings what is new or changed; what was removed
                    // since the first copy goes by the list of what is left.
                    try transport.send(try source.privateLayer(name), to: layer)
                    let list = workDirectory + "/" + Migration.layerListName
                    try source.writeLayerList(name, to: list + "/" + Migration.layerListFile)
                    try transport.send(list, to: staging + "/" + Migration.layerListName)
                    _ = try transport.run(
                        target.prune(layer, keeping: staging + "/" + Migration.layerListName + "/" + Migration.layerListFile))
                case .preDump(let n):
                    let written = try source.preDump(
                        name, into: workDirectory + "/" + preDumpName(n), parent: n > 1 ? "../" + preDumpName(n - 1) : nil)
                    lastPreDump = n
                    settled = Migration.preDumpsSettled(written: written, previous: lastWritten)
                    lastWritten = written
                case .copyPreDump(let n):
                    try transport.send(workDirectory + "/" + preDumpName(n), to: staging + "/" + preDumpName(n))
                case .dump:
                    freezeStart = clock()
                    // A failed dump leaves the container running (CRIU resumes its tasks).
                    try source.dump(name, into: workDirectory + "/" + Migration.finalName, parent: parentOfFinal(lastPreDump: lastPreDump))
                    sourceDumped = true
                case .copyImages:
                    try transport.send(workDirectory + "/" + Migration.finalName, to: staging + "/" + Migration.finalName)
                case .restoreOnTarget:
                    targetStatus = try transport.run(
                        RemoteBerth.both(
                            target.berth(["restore", name, "--from", staging + "/" + Migration.finalName]),
                            target.berth(["status", name, "-o", "json"])))
                case .confirmRunning:
                    let state = StatusState.state(in: targetStatus)
                    guard state == "running" else {
                        throw MigrationError.Cause("the target's berth reports it \(state ?? "in no state it could read"), not running")
                    }
                    freeze = clock() &- freezeStart
                case .deleteSource:
                    try source.deleteHere(name)
                    // The images served their purpose on both hosts.
                    _ = try? transport.run(["rm", "-rf", "--", staging])
                    try? source.removeTree(workDirectory)
                }
            } catch {
                let undone = rollback(
                    after: step, source: source, transport: transport, targetTouched: targetTouched, targetDisk: diskAsked,
                    sourceDumped: sourceDumped)
                throw MigrationError(step: step, cause: "\(error)", rollback: undone)
            }
            done.append(step)
        }
        return Report(steps: done, freezeMilliseconds: freeze, targetDisk: targetDisk)
    }

    /// Undoes what a failed migration did: the target loses the container
    /// and its files, the source gets it back. What each undo did (or why
    /// it could not), for the error.
    func rollback(
        after step: Step, source: some MigrationSource, transport: some MigrationTransport, targetTouched: Bool, targetDisk: Bool = false,
        sourceDumped: Bool
    ) -> [String] {
        var undone: [String] = []
        // Deleting on the source is the last step: the target has it running.
        guard step != .deleteSource else {
            return ["the container runs on \(target.host); its copy here could not be deleted: delete it by hand"]
        }
        if step == .restoreOnTarget || step == .confirmRunning {
            do {
                _ = try transport.run(target.berth(["stop", name]))
                undone.append("stopped it on \(target.host)")
            } catch { undone.append("could not stop it on \(target.host): \(error)") }
        }
        if targetTouched && targetDisk {
            // Its disk backend: the image unmounted (the loop device goes)
            // and removed, the project's limits cleared; a restored one deleted.
            do {
                _ = try transport.run(target.berth(["migrate-receive", name, "--discard"]))
                undone.append("removed its disk quota on \(target.host)")
            } catch { undone.append("could not remove its disk quota on \(target.host): \(error)") }
        }
        if targetTouched {
            do {
                _ = try transport.run(["rm", "-rf", "--", target.stagingDirectory(name), target.containerDirectory(name)])
                undone.append("removed its files on \(target.host)")
            } catch { undone.append("could not remove its files on \(target.host): \(error)") }
        }
        if sourceDumped {
            let images = workDirectory + "/" + Migration.finalName
            do {
                try source.restoreHere(name, from: images)
                undone.append("restored it here")
                try? source.removeTree(workDirectory)
            } catch { undone.append("could not restore it here (its images stay in \(images)): \(error)") }
        } else {
            undone.append("it kept running here")
            try? source.removeTree(workDirectory)
        }
        return undone
    }

    /// The one field of `berth status -o json` a migration reads.
    struct StatusState: Decodable {
        var state: String

        /// The state in `output`: the JSON object, whatever the remote
        /// shell's start-up files printed around it (ssh merges stderr).
        static func state(in output: String) -> String? {
            guard let start = output.firstIndex(of: "{"), let end = output.lastIndex(of: "}"), start < end else { return nil }
            return try? JSONDecoder().decode(StatusState.self, from: Data(output[start...end].utf8)).state
        }
    }
}

/// A failed migration: the step, why, and what was undone.
public struct MigrationError: Error, CustomStringConvertible {
    public var step: Migration.Step
    public var cause: String
    public var rollback: [String]

    public var description: String {
        "migrate failed at \(step): \(cause)" + (rollback.isEmpty ? "" : " (" + rollback.joined(separator: "; ") + ")")
    }

    /// A refusal of a step's own (not a command's error).
    struct Cause: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
