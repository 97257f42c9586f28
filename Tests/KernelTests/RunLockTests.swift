import Foundation
import Testing

@testable import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// The run dir's lock: taken without writing to its file, and a second
/// taker (another open of the file, even in this process) told the pid
/// that holds it, from /proc/locks.
@Suite struct RunLockTests {
    @Test func aSecondTakerIsToldTheHoldersPid() throws {
        let path = "/tmp/berth-runlock-test-\(getpid())"
        defer { unlink(path) }
        func holdAndTryAgain() throws {
            let lock = try RunLock(path: path)
            defer { withExtendedLifetime(lock) {} }
            var held: RunLock.Held?
            do { _ = try RunLock(path: path) } catch let error as RunLock.Held { held = error }
            #expect(held?.holder == "\(getpid())")
            // Nothing is written into the file.
            #expect(try Syscall.readFile(path).isEmpty)
        }
        try holdAndTryAgain()
        // Released with its descriptor: the next taker gets it. A process
        // another test forks meanwhile holds a copy of the descriptor until
        // it execs or exits (flock belongs to the open file, and O_CLOEXEC
        // acts only at exec): the lock is free once that copy is gone, so
        // the next taker may wait for it (CI: a second taker failed at once).
        _ = try RunLock(path: path, waitMilliseconds: 10_000)
    }

    @Test func theHolderIsTheWriteFlockOfThatDeviceAndInode() {
        let locks = Array(
            """
            1: POSIX  ADVISORY  WRITE 900 08:01:1234 0 EOF
            2: FLOCK  ADVISORY  READ 901 08:01:1234 0 EOF
            3: FLOCK  ADVISORY  WRITE 902 08:02:1234 0 EOF
            3: -> FLOCK  ADVISORY  WRITE 903 08:01:1234 0 EOF
            4: FLOCK  ADVISORY  WRITE 904 08:01:1234 0 EOF
            5: FLOCK  ADVISORY  WRITE 905 fd:10:1234 0 EOF

            """.utf8)
        let device: UInt64 = (8 << 8) | 1
        #expect(RunLock.holder(locks: locks, device: device, inode: 1234) == 904)
        #expect(RunLock.holder(locks: locks, device: device, inode: 99) == nil)
        #expect(RunLock.holder(locks: locks, device: (0xfd << 8) | 0x10, inode: 1234) == 905)
    }
}

/// The agent's quota-warnings lock (issue 13): 0644, so any user asks
/// whether an agent counts (a read-only descriptor and a shared flock,
/// dropped at once, give no power over the holder); held, then free.
@Suite struct RunLockModeTests {
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
