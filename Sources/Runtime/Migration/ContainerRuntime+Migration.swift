import FoundationEssentials
import Kernel
import Model

/// The source side of `berth migrate`: this host's runtime.
extension ContainerRuntime: MigrationSource {
    public func privateLayer(_ name: String) throws -> String {
        guard let record = state.load(name) else { throw RuntimeError(description: "no container \(name)") }
        if record.privateLayerInMemory == true {
            throw RuntimeError(description: "container \(name) runs in the foreground (berth run): its private layer is in memory")
        }
        // Refused before anything is copied: a macvlan network's container
        // cannot be restored (vethsOf says why).
        _ = try vethsOf(record)
        return record.upper
    }

    public func writeDiskRecord(_ name: String, into directory: String) throws -> Bool {
        guard let record = state.load(name) else { throw RuntimeError(description: "no container \(name)") }
        guard record.diskImage != nil || record.diskProject != nil else { return false }
        try Syscall.makeDirectories(directory, mode: 0o700)
        try Syscall.writeAtomically(try RecordJSON.encode(record), to: directory + "/" + Migration.diskRecordFile)
        return true
    }

    /// The target side of a migration of a container with a disk quota
    /// (`berth migrate-receive NAME --record FILE`): its private layer's
    /// backend made as a create would make it (a project quota where the
    /// state dir's filesystem enforces them, else a disk image), sized and
    /// mounted, before the layer is copied into it; `berth restore` then
    /// adopts it. Nothing is left when it fails.
    public func receiveDisk(_ name: String, record path: String) throws -> DiskBackend {
        try Names.checkDNSLabel(name)
        guard state.load(name) == nil else { throw RuntimeError(description: "this host already has a container \(name)") }
        let saved: ContainerRecord
        do {
            saved = try JSONDecoder().decode(ContainerRecord.self, from: Data(try Syscall.readFile(path)))
        } catch {
            throw RuntimeError(description: "\(path): unreadable record: \(error)")
        }
        guard let spec = saved.spec, spec.resources.disk?.size != nil else {
            throw RuntimeError(description: "\(path): the record of \(name) has no spec.resources.disk.size")
        }
        let container = ContainerObject(
            metadata: ObjectMeta(name: name, labels: saved.labels ?? [:]), spec: spec, source: SourceLocation(file: path, line: 1, column: 1))
        do {
            guard let disk = try privateDisk(container, owner: try mappedRoot(container) ?? (0, 0)) else {
                throw RuntimeError(description: "\(name): no disk quota was made")
            }
            return disk.project != nil ? .projectQuota : .image
        } catch {
            try? discardReceivedDisk(name)
            throw error
        }
    }

    /// Undoes `receiveDisk` (`berth migrate-receive NAME --discard`): the
    /// image unmounted (its loop device goes) and removed, or the project's
    /// limits cleared, and the container's directory removed; a container
    /// restored from it already is deleted.
    public func discardReceivedDisk(_ name: String) throws {
        try Names.checkDNSLabel(name)
        if let record = state.load(name) {
            try delete(record, keepPrivateLayer: false)
            return
        }
        let disk = state.diskImage(name)
        // The image's root has the image's own project: only a directory's counts.
        let project = disk.exists ? 0 : ((try? ProjectQuota.project(of: disk.mountPoint))?.id ?? 0)
        try disk.unmount()
        try Syscall.removeTree(state.containerDirectory(name))
        if project != 0 { try ProjectQuota.setLimits(bytes: nil, inodes: nil, of: project, on: state.containersDirectory) }
    }

    public func dump(_ name: String, into directory: String, parent: String?) throws {
        try checkpoint(name, to: directory, leaveRunning: false, berthVersion: "migrate", parent: parent)
    }

    public func restoreHere(_ name: String, from directory: String) throws { _ = try restore(name, from: directory) }

    public func deleteHere(_ name: String) throws { try delete(name, keepPrivateLayer: nil) }

    public func removeTree(_ path: String) throws { try Syscall.removeTree(path) }

    public func writeLayerList(_ name: String, to path: String) throws {
        let list = Migration.layerList(try Syscall.treePaths(try privateLayer(name)))
        try Syscall.makeDirectories(String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]), mode: 0o700)
        try Syscall.writeAtomically(list, to: path)
    }

    /// Where migrate keeps the images it makes on this host.
    public func migrationDirectory(_ name: String) -> String { paths.stateDirectory.string + "/migrate/" + name }
}

/// The target reached with the ssh client: commands as one quoted line,
/// trees as `tar -c | ssh HOST tar -x`.
public struct SSHTransport: MigrationTransport {
    public let target: RemoteBerth

    public init(target: RemoteBerth) { self.target = target }

    public func run(_ command: [String]) throws -> String {
        try check(Spawn.run(path(target.ssh(command)), mergingStandardError: true), command.joined(separator: " "))
    }

    public func send(_ directory: String, to remoteDirectory: String) throws {
        let (producer, consumer) = try Spawn.pipeline(RemoteBerth.tar(directory), into: path(target.untar(into: remoteDirectory)))
        let what = "tar to \(remoteDirectory)"
        // GNU tar exits 1 when a file changed while it read it: the layer
        // copied while the container runs. The copy after the freeze (the
        // container stopped) brings those files as they are; 2 is a failure.
        guard RemoteBerth.tarSucceeded(producer) else {
            throw ContainerRuntime.RuntimeError(description: "\(what): the local tar failed (exit \((producer >> 8) & 0xff)): \(consumer.text)")
        }
        _ = try check(consumer, what)
    }

    /// Ends the shared ssh connection, if any, and removes its directory
    /// (best effort: ControlPersist ends a master left behind).
    public func close() {
        if let command = target.closeMaster() { _ = try? Spawn.run(path(command), mergingStandardError: true) }
        if let directory = target.controlDirectory { try? Syscall.removeTree(directory) }
    }

    /// posix_spawn takes a path: ssh from the usual places.
    func path(_ command: [String]) -> [String] {
        guard let program = command.first, !program.hasPrefix("/") else { return command }
        let found = ["/usr/bin/", "/bin/", "/usr/local/bin/"].map { $0 + program }.first { Syscall.exists($0) }
        return [found ?? program] + command.dropFirst()
    }

    func check(_ result: Spawn.Result, _ what: String) throws -> String {
        guard result.exitedCleanly else {
            let code = (result.status >> 8) & 0xff
            throw ContainerRuntime.RuntimeError(
                description: "on \(target.host): \(what): exit \(code)" + (result.text.isEmpty ? "" : ": " + result.text))
        }
        return String(decoding: result.output, as: UTF8.self)
    }
}

extension Spawn.Result {
    /// What it printed, for an error message.
    fileprivate var text: String { String(decoding: output, as: UTF8.self).trimmingWhitespace }
}
