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
        // Released with its descriptor: the next taker gets it.
        _ = try RunLock(path: path)
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
