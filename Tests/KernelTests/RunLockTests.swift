import Foundation
import Testing

@testable import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// The agent's quota-warnings lock (issue 13): 0644, so any user asks
/// whether an agent counts (a read-only descriptor and a shared flock,
/// dropped at once, give no power over the holder); held, then free.
@Suite struct RunLockTests {
    func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
    }

    @Test func aLockMadeReadableIsHeldThenFreeAndAnOldModeIsFixed() throws {
        let directory = NSTemporaryDirectory() + "berth-runlock-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/quota-warnings.lock"
        // Made 0600 by an older agent: given 0644 at the next take.
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]))
        var lock: RunLock? = try RunLock(path: path, mode: 0o644)
        #expect(mode(path) == 0o644)
        #expect(RunLock.isHeld(path))
        #expect(throws: RunLock.Held.self) { try RunLock(path: path, mode: 0o644) }
        lock = nil
        #expect(lock == nil && !RunLock.isHeld(path))
        // The default stays root's alone.
        let other = directory + "/berth.lock"
        _ = try RunLock(path: other)
        #expect(mode(other) == 0o600)
    }
}
