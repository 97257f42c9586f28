import Testing

@testable import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// /proc/PID/stat lines as the kernel writes them.
@Suite struct ProcessStatTests {
    @Test func readsStateAndStartTimeAfterTheLastParenthesis() {
        // The command may hold spaces and ')' itself.
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 1 0 987654321 2285568 150 18446744073709551615\n"
        #expect(ProcessStat.parse(line) == ProcessStat(state: "S", startTime: 987_654_321))
        let zombie = "7 (sleep) Z 1 7 7 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0 0\n"
        #expect(ProcessStat.parse(zombie).map { $0.isAlive } == false)
    }

    @Test(arguments: ["", "1 (x", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12a4 0 0 0"])
    func refusesWhatIsNotAStatLine(_ line: String) {
        #expect(ProcessStat.parse(line) == nil)
    }

    @Test func readsItsOwnProcess() {
        #expect(ProcessStat.read(getpid())?.isAlive == true)
    }
}

/// A container's uptime from /proc/uptime and its init's start time.
@Suite struct UptimeTests {
    @Test(
        arguments: [
            ("1000.50 20.00\n", UInt64(50_000), UInt64(100), UInt64(500)), ("10.00 1.00", 5000, 100, 0), ("nan 1", 0, 100, nil),
            ("inf 1", 0, 100, nil), ("-5 1", 0, 100, nil), ("", 0, 100, nil), ("100 1", 0, 0, nil),
        ] as [(String, UInt64, UInt64, UInt64?)])
    func uptimeIsBootTimeMinusStartTime(_ text: String, _ start: UInt64, _ ticks: UInt64, _ expected: UInt64?) {
        #expect(ProcessStat.uptime(text, startTime: start, ticksPerSecond: ticks) == expected)
    }
}

/// Syscall.readAll's `oneRecord`: a read shorter than asked ends it (a
/// kernel seq_file of one record copies the record whole); a read that
/// fills the buffer does not.
@Suite struct OneRecordReadTests {
    @Test func aShortReadEndsItAndAFullOneDoesNot() throws {
        // Two messages of a seqpacket socket: each read returns one.
        var ends: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &ends) == 0)
        defer { for end in ends { close(end) } }
        for message in ["one", "two"] { try Syscall.writeAll(ends[1], Array(message.utf8), subject: "test") }
        shutdown(ends[1], Int32(SHUT_WR))
        #expect(try Syscall.readAll(ends[0], upTo: 1 << 20, oneRecord: true) == Array("one".utf8))
        #expect(try Syscall.readAll(ends[0], upTo: 1 << 20) == Array("two".utf8))

        // A file larger than the first buffer (4 KiB): read whole.
        let path = "/tmp/berth-one-record-\(getpid())"
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0) }
        let fd = try Syscall.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        try Syscall.writeAll(fd, bytes, subject: path)
        Syscall.close(fd)
        defer { unlink(path) }
        #expect(try Syscall.readFile(path, oneRecord: true) == bytes)
        // /proc/PID/stat: one record.
        #expect(ProcessStat.parse(try Syscall.readFile("/proc/self/stat", oneRecord: true)) != nil)
    }
}
