import Kernel
import Model

/// The source side of `berth migrate`: this host's runtime.
extension ContainerRuntime: MigrationSource {
    public func privateLayer(_ name: String) throws -> String {
        guard let record = state.load(name) else { throw RuntimeError(description: "no container \(name)") }
        if record.privateLayerInMemory == true {
            throw RuntimeError(description: "container \(name) runs in the foreground (berth run): its private layer is in memory")
        }
        // The image would have to move as a whole, and be made on the target.
        if record.diskImage != nil || record.diskProject != nil {
            throw RuntimeError(description: "container \(name) has a disk quota (resources.disk): berth migrate does not move those yet")
        }
        return record.upper
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
