import Engine
import Foundation
import Kernel
import Testing

/// inotify needs no root: the watcher on a temp directory, driven the way
/// editors, git and config management change files.
@Suite struct ManifestWatcherTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-watch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path

    func settle(_ watcher: ManifestWatcher) throws -> Bool {
        _ = try Syscall.pollReadable([watcher.fd], timeoutMilliseconds: 200)
        return try watcher.changes()
    }

    func write(_ text: String, _ path: String) throws { try text.write(toFile: path, atomically: false, encoding: .utf8) }

    @Test func editorSaveCountsSwapAndBackupFilesDoNot() throws {
        let directory = root + "/m"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let watcher = try ManifestWatcher(directory: directory)
        #expect(watcher.isWatching)

        try write("x", directory + "/.web.yaml.swp")
        try write("x", directory + "/4913")
        try write("x", directory + "/web.yaml~")
        try write("x", directory + "/notes.txt")
        #expect(try !settle(watcher))

        // Written to a temp name, then renamed over the manifest.
        try write("kind: Container", directory + "/web.yaml.tmp")
        #expect(try !settle(watcher))
        try FileManager.default.moveItem(atPath: directory + "/web.yaml.tmp", toPath: directory + "/web.yaml")
        #expect(try settle(watcher))
        try FileManager.default.removeItem(atPath: directory + "/web.yaml")
        #expect(try settle(watcher))
    }

    @Test func replacedDirectoryIsWatchedAgain() throws {
        let directory = root + "/m"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let watcher = try ManifestWatcher(directory: directory)

        // A new tree renamed into place (what a checkout or rsync may do).
        try FileManager.default.createDirectory(atPath: root + "/next", withIntermediateDirectories: true)
        try write("kind: Container", root + "/next/web.yaml")
        try FileManager.default.removeItem(atPath: directory)
        #expect(try settle(watcher))
        try FileManager.default.moveItem(atPath: root + "/next", toPath: directory)
        #expect(try settle(watcher))
        #expect(watcher.isWatching)
        try write("kind: Container", directory + "/db.yaml")
        #expect(try settle(watcher))
    }

    @Test func symlinkSwapIsFollowed() throws {
        try FileManager.default.createDirectory(atPath: root + "/v1", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/v2", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createSymbolicLink(atPath: root + "/current", withDestinationPath: root + "/v1")
        let watcher = try ManifestWatcher(directory: root + "/current")

        try FileManager.default.createSymbolicLink(atPath: root + "/current.new", withDestinationPath: root + "/v2")
        try Syscall.rename(root + "/current.new", root + "/current")
        #expect(try settle(watcher))
        try write("kind: Container", root + "/v2/web.yaml")
        #expect(try settle(watcher))
        // Whatever that write still has queued (its close, a late event under
        // load) is read first: what is checked is the old target alone.
        _ = try settle(watcher)
        try write("kind: Container", root + "/v1/old.yaml")
        #expect(try !settle(watcher))
    }
}
