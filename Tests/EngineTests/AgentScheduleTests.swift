import Engine
import Kernel
import Model
import Testing

/// The agent's decisions that need no kernel: which file names matter, when
/// a burst of changes makes a pass, the back-off schedule, what is due when.
@Suite struct ManifestWatchFilterTests {
    @Test(arguments: [
        ("web.yaml", true), ("web.yml", true), ("nets.YAML", false),
        (".web.yaml.swp", false), (".web.yaml.swx", false), ("web.yaml~", false), (".#web.yaml", false),
        ("4913", false), ("web.yaml.tmp", false), (".hidden.yaml", false), ("README.md", false), ("web.yaml.bak", false),
    ])
    func onlyFilesTheLoaderReadsCount(name: String, relevant: Bool) {
        #expect(ManifestWatchFilter.isRelevant(name) == relevant)
    }
}

@Suite struct DebouncerTests {
    @Test func aBurstOfChangesFiresOnceAfterAQuietMoment() {
        var debouncer = Debouncer(quiet: 250, maximum: 2000)
        #expect(debouncer.deadline == nil)
        debouncer.note(at: 1000)
        debouncer.note(at: 1100)
        debouncer.note(at: 1200)
        #expect(debouncer.deadline == 1450)
        let fired1 = debouncer.fire(at: 1449)
        #expect(!fired1)
        let fired2 = debouncer.fire(at: 1450)
        #expect(fired2)
        let fired3 = debouncer.fire(at: 5000)
        #expect(!fired3)
        #expect(debouncer.deadline == nil)
    }

    @Test func aSteadyStreamStillFiresAfterTheMaximum() {
        var debouncer = Debouncer(quiet: 250, maximum: 2000)
        var now: UInt64 = 0
        var fired: UInt64?
        while fired == nil && now < 10_000 {
            debouncer.note(at: now)
            if debouncer.fire(at: now) { fired = now }
            now += 100
        }
        #expect(fired == 2000)
    }
}

@Suite struct BackoffTests {
    @Test(arguments: [(1, 5000), (2, 10_000), (3, 20_000), (6, 160_000), (7, 300_000), (50, 300_000)] as [(Int, UInt64)])
    func delayDoublesFromFiveSecondsToFiveMinutes(failures: Int, delay: UInt64) {
        #expect(Backoff().delay(failures: failures) == delay)
    }

    @Test func failingObjectWaitsOthersDoNot() {
        var backoff = Backoff()
        let admitted4 = backoff.admits("Container/a", fingerprint: 1, at: 0)
        #expect(admitted4)
        let (failures, delay) = backoff.failed("Container/a", fingerprint: 1, at: 0)
        #expect(failures == 1 && delay == 5000)
        let admitted5 = backoff.admits("Container/a", fingerprint: 1, at: 4999)
        #expect(!admitted5)
        let admitted6 = backoff.admits("Container/b", fingerprint: 7, at: 1)
        #expect(admitted6)
        #expect(backoff.nextRetry == 5000)
        let admitted7 = backoff.admits("Container/a", fingerprint: 1, at: 5000)
        #expect(admitted7)
        let failure8 = backoff.failed("Container/a", fingerprint: 1, at: 5000)
        #expect(failure8.delay == 10_000)
    }

    @Test func successResetsTheDelay() {
        var backoff = Backoff()
        backoff.failed("Container/a", fingerprint: 1, at: 0)
        backoff.failed("Container/a", fingerprint: 1, at: 5000)
        backoff.succeeded("Container/a")
        #expect(backoff.nextRetry == nil)
        let failure9 = backoff.failed("Container/a", fingerprint: 1, at: 20_000)
        #expect(failure9.failures == 1)
    }

    @Test func aChangedManifestIsTriedAtOnce() {
        var backoff = Backoff()
        backoff.failed("Container/a", fingerprint: 1, at: 0)
        backoff.failed("Container/a", fingerprint: 1, at: 5000)
        let admitted10 = backoff.admits("Container/a", fingerprint: 2, at: 5001)
        #expect(admitted10)
        let failure11 = backoff.failed("Container/a", fingerprint: 2, at: 5002)
        #expect(failure11.failures == 1)
    }

    @Test func settledEntriesWithNothingToRetryAreDropped() {
        var backoff = Backoff()
        backoff.failed("Container/a", fingerprint: 1, at: 0)
        backoff.failed("Container/b", fingerprint: 1, at: 4000)
        backoff.settle(attempted: [], at: 6000)
        #expect(backoff.entries.keys.sorted() == ["Container/b"])
    }
}

@Suite struct AgentScheduleTests {
    @Test func firstPassIsAtOnceThenEveryInterval() {
        var schedule = AgentSchedule(interval: 30_000, now: 100)
        let due12 = schedule.duePass(at: 100, backoffRetry: nil, isFirst: true)
        #expect(due12 == .start)
        schedule.passFinished(at: 400)
        let due13 = schedule.duePass(at: 401, backoffRetry: nil, isFirst: false)
        #expect(due13 == nil)
        #expect(schedule.timeout(at: 401, backoffRetry: nil) == 29_999)
        let due14 = schedule.duePass(at: 30_400, backoffRetry: nil, isFirst: false)
        #expect(due14 == .interval)
    }

    @Test func changesSignalsAndBackoffWakeTheLoopEarlier() {
        var schedule = AgentSchedule(interval: 30_000, now: 0)
        schedule.passFinished(at: 0)
        schedule.debouncer.note(at: 1000)
        #expect(schedule.timeout(at: 1000, backoffRetry: nil) == 250)
        let due15 = schedule.duePass(at: 1250, backoffRetry: nil, isFirst: false)
        #expect(due15 == .change)
        #expect(schedule.timeout(at: 1300, backoffRetry: 6000) == 4700)
        let due16 = schedule.duePass(at: 6000, backoffRetry: 6000, isFirst: false)
        #expect(due16 == .backOff)
        schedule.signalled = true
        #expect(schedule.timeout(at: 7000, backoffRetry: nil) == 0)
        let due17 = schedule.duePass(at: 7000, backoffRetry: nil, isFirst: false)
        #expect(due17 == .signal)
        let due18 = schedule.duePass(at: 7000, backoffRetry: nil, isFirst: false)
        #expect(due18 == nil)
    }

    @Test func busyLockRetriesEverySecondWithoutSpinning() {
        var schedule = AgentSchedule(interval: 1000, now: 0)
        schedule.lockRetryAt = 1000
        // The interval and an expired back-off are overdue, but only the retry wakes the loop.
        #expect(schedule.timeout(at: 5, backoffRetry: 1) == 995)
        let due19 = schedule.duePass(at: 500, backoffRetry: 1, isFirst: true)
        #expect(due19 == nil)
        let due20 = schedule.duePass(at: 1000, backoffRetry: 1, isFirst: true)
        #expect(due20 == .lockRetry)
    }

    @Test func watchdogPingsAtHalfTheUnitsWatchdogSec() {
        var schedule = AgentSchedule(interval: 30_000, watchdogPeriod: 20_000, now: 0)
        schedule.passFinished(at: 0)
        #expect(schedule.timeout(at: 0, backoffRetry: nil) == 10_000)
        let ping21 = schedule.watchdogDue(at: 9999)
        #expect(!ping21)
        let ping22 = schedule.watchdogDue(at: 10_000)
        #expect(ping22)
        let ping23 = schedule.watchdogDue(at: 10_001)
        #expect(!ping23)
        let ping24 = schedule.watchdogDue(at: 20_000)
        #expect(ping24)
    }
}

@Suite struct PassSummaryTests {
    @Test func statusLineSaysWhatHappened() {
        var summary = PassSummary(trigger: .interval)
        summary.containers = 3
        summary.changes = 1
        #expect(summary.status(at: "08:12:00") == "reconciled 3 containers, 1 change, 0 failures at 08:12:00")
        summary.backingOff = 1
        summary.commit = "0123456789abcdef0123"
        #expect(summary.status(at: "08:12:00") == "reconciled 3 containers, 1 change, 0 failures, 1 backing off at commit 0123456789ab at 08:12:00")
        var invalid = PassSummary(trigger: .change)
        invalid.invalid = "1 error: m/web.yaml:3:1: error: kind: unknown kind"
        #expect(
            invalid.status(at: "09:00:00") == "manifests invalid, nothing applied (1 error: m/web.yaml:3:1: error: kind: unknown kind) at 09:00:00")
    }
}

/// inotify_event records as the kernel lays them out (little-endian).
@Suite struct InotifyParseTests {
    func record(watch: UInt32, mask: UInt32, cookie: UInt32 = 0, name: String, padTo length: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for word in [watch, mask, cookie, UInt32(length)] { bytes += (0..<4).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
        let nameBytes = Array(name.utf8)
        return bytes + nameBytes + [UInt8](repeating: 0, count: length - nameBytes.count)
    }

    @Test func recordsWithPaddedNamesDecode() {
        let bytes =
            record(watch: 1, mask: 0x80, cookie: 7, name: "web.yaml", padTo: 16) + record(watch: 1, mask: 0x400, name: "", padTo: 0)
            + record(watch: 2, mask: 0x100, name: "c", padTo: 16)
        let events = Inotify.parse(bytes)
        #expect(
            events == [
                Inotify.Event(watch: 1, mask: 0x80, cookie: 7, name: "web.yaml"), Inotify.Event(watch: 1, mask: 0x400, name: ""),
                Inotify.Event(watch: 2, mask: 0x100, name: "c"),
            ])
    }

    @Test func aTruncatedRecordEndsTheList() {
        let bytes = record(watch: 1, mask: 0x8, name: "a.yaml", padTo: 16) + Array(record(watch: 1, mask: 0x8, name: "b.yaml", padTo: 16).prefix(20))
        #expect(Inotify.parse(bytes).map(\.name) == ["a.yaml"])
        #expect(Inotify.parse([UInt8](repeating: 0, count: 7)).isEmpty)
    }
}

@Suite struct RestartBackoffTests {
    @Test func restartsDoubleTheirDelayUpToTheCapAndResetAfterALongRun() {
        var backoff = RestartBackoff(initial: 1000, maximum: 8000, resetAfter: 60_000)
        #expect(backoff.waitUntil("web1", at: 0) == nil)
        #expect(backoff.restarted("web1", at: 0) == (restarts: 1, nextDelay: 1000))
        // Ended again at once: held back until 1 s, then a pass is due then.
        #expect(backoff.waitUntil("web1", at: 10) == 1000)
        #expect(backoff.nextRetry == 1000)
        #expect(backoff.restarted("web1", at: 1000) == (restarts: 2, nextDelay: 2000))
        #expect(backoff.nextRetry == nil)
        #expect(backoff.restarted("web1", at: 3000).nextDelay == 4000)
        #expect(backoff.restarted("web1", at: 7000).nextDelay == 8000)
        #expect(backoff.restarted("web1", at: 15_000).nextDelay == 8000)
        // It ran for a minute: the next restart is the first of a new series.
        #expect(backoff.restarted("web1", at: 80_000) == (restarts: 1, nextDelay: 1000))
        backoff.forget("web1")
        #expect(backoff.entries.isEmpty)
    }
}
