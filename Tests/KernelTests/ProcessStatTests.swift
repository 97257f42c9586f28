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
