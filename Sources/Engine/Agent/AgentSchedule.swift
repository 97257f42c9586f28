import Manifest
import Model

/// Which directory entries can change the desired state: exactly the files
/// the manifest loader reads (`*.yaml`, `*.yml`, not hidden). Editor swap
/// files (`.web.yaml.swp`), backups (`web.yaml~`), Emacs locks (`.#web.yaml`),
/// vim's write probe (`4913`) and temp files (`web.yaml.tmp`) are not.
public enum ManifestWatchFilter {
    public static func isRelevant(_ name: String) -> Bool {
        ManifestLoader.isManifestName(name) && !name.hasSuffix("~")
    }
}

/// Waits for a quiet moment after file changes, so an editor's
/// write-rename-delete sequence or a git checkout makes one pass, not five.
/// A steady stream of changes still gets a pass after `maximum`.
public struct Debouncer: Sendable, Equatable {
    public var quiet: UInt64
    public var maximum: UInt64
    public private(set) var firstChange: UInt64?
    public private(set) var lastChange: UInt64?

    /// Times in milliseconds (any monotonic origin).
    public init(quiet: UInt64 = 250, maximum: UInt64 = 2000) {
        self.quiet = quiet
        self.maximum = maximum
    }

    public mutating func note(at now: UInt64) {
        if firstChange == nil { firstChange = now }
        lastChange = now
    }

    /// When the pending changes are due; nil when there are none.
    public var deadline: UInt64? {
        guard let firstChange, let lastChange else { return nil }
        return min(lastChange + quiet, firstChange + maximum)
    }

    /// Whether the changes are due at `now`; if so, they are consumed.
    public mutating func fire(at now: UInt64) -> Bool {
        guard let deadline, now >= deadline else { return false }
        firstChange = nil
        lastChange = nil
        return true
    }
}

/// Per-object back-off: an object whose action failed is not retried before
/// its delay has passed (5 s, doubling up to 5 min). A success, or a change to
/// that object's manifest (its fingerprint), resets it.
public struct Backoff: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var failures: Int
        public var retryAt: UInt64
        public var fingerprint: Int
    }

    public var initial: UInt64
    public var maximum: UInt64
    public private(set) var entries: [String: Entry] = [:]

    public init(initial: UInt64 = 5000, maximum: UInt64 = 300_000) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay after `failures` failures in a row (1 → initial).
    public func delay(failures: Int) -> UInt64 {
        var delay = initial
        for _ in 1..<max(1, failures) where delay < maximum { delay *= 2 }
        return min(delay, maximum)
    }

    /// Whether `object` may be acted on at `now`. A changed manifest clears
    /// its back-off.
    public mutating func admits(_ object: String, fingerprint: Int, at now: UInt64) -> Bool {
        guard let entry = entries[object] else { return true }
        if entry.fingerprint != fingerprint {
            entries[object] = nil
            return true
        }
        return now >= entry.retryAt
    }

    /// Records a failed attempt; returns the failures in a row and the delay.
    @discardableResult
    public mutating func failed(_ object: String, fingerprint: Int, at now: UInt64) -> (failures: Int, delay: UInt64) {
        let failures = (entries[object]?.fingerprint == fingerprint ? entries[object]?.failures ?? 0 : 0) + 1
        let wait = delay(failures: failures)
        entries[object] = Entry(failures: failures, retryAt: now + wait, fingerprint: fingerprint)
        return (failures, wait)
    }

    public mutating func succeeded(_ object: String) { entries[object] = nil }

    /// Drops entries whose delay is over and that had nothing to retry.
    public mutating func settle(attempted: Set<String>, at now: UInt64) {
        entries = entries.filter { attempted.contains($0.key) || $0.value.retryAt > now }
    }

    /// The earliest retry time, if any object is backing off.
    public var nextRetry: UInt64? { entries.values.map(\.retryAt).min() }
}

/// What started a pass, for events and STATUS=.
public enum PassTrigger: String, Sendable {
    case start, change, interval, signal, exit = "container exit", backOff = "back-off", lockRetry = "lock retry"
}

/// The agent's timers, as one value: the interval, debounced file changes,
/// SIGHUP, a lock retry, back-off expiry and the systemd watchdog. The loop
/// asks what is due and how long it may sleep; all times in milliseconds.
public struct AgentSchedule: Sendable {
    public var interval: UInt64
    public var debouncer = Debouncer()
    public var nextPass: UInt64
    public var signalled = false
    /// A watched container's init exited: a pass is due now.
    public var containerExited = false
    public var lockRetryAt: UInt64?
    public var watchdogPeriod: UInt64?
    public var nextWatchdog: UInt64?

    /// The first pass is due at once (`now`).
    public init(interval: UInt64, watchdogPeriod: UInt64? = nil, now: UInt64) {
        self.interval = max(1, interval)
        nextPass = now
        // systemd: send WATCHDOG=1 at half the unit's WatchdogSec.
        self.watchdogPeriod = watchdogPeriod.map { max(1, $0 / 2) }
        nextWatchdog = self.watchdogPeriod.map { now + $0 }
    }

    /// The pass due at `now`, if any (consuming a debounced change or a
    /// signal). `backoffRetry` is the back-off's next retry time.
    public mutating func duePass(at now: UInt64, backoffRetry: UInt64?, isFirst: Bool) -> PassTrigger? {
        if signalled {
            signalled = false
            return .signal
        }
        if containerExited && lockRetryAt == nil {
            containerExited = false
            return .exit
        }
        if debouncer.fire(at: now) { return .change }
        if let retry = lockRetryAt {
            guard now >= retry else { return nil }
            lockRetryAt = nil
            return .lockRetry
        }
        if now >= nextPass { return isFirst ? .start : .interval }
        if let backoffRetry, now >= backoffRetry { return .backOff }
        return nil
    }

    /// A pass ended: the next interval pass counts from now.
    public mutating func passFinished(at now: UInt64) {
        nextPass = now + interval
        lockRetryAt = nil
    }

    /// Whether WATCHDOG=1 is due; if so the next one is scheduled.
    public mutating func watchdogDue(at now: UInt64) -> Bool {
        guard let period = watchdogPeriod, let next = nextWatchdog, now >= next else { return false }
        nextWatchdog = now + period
        return true
    }

    /// How long poll(2) may wait: until the earliest deadline (0 if one has
    /// passed). While the lock is busy only its retry, file changes and the
    /// watchdog count.
    public func timeout(at now: UInt64, backoffRetry: UInt64?) -> Int32 {
        var deadlines = [debouncer.deadline, nextWatchdog]
        deadlines += lockRetryAt.map { [$0] } ?? [nextPass, backoffRetry]
        if signalled || (containerExited && lockRetryAt == nil) { deadlines.append(now) }
        let earliest = deadlines.compactMap { $0 }.min() ?? now + interval
        return Int32(clamping: earliest > now ? earliest - now : 0)
    }
}

/// One pass's outcome in a line, for sd_notify STATUS= and the log.
public struct PassSummary: Sendable, Equatable {
    public var trigger: PassTrigger
    public var containers = 0
    public var changes = 0
    public var failures = 0
    public var backingOff = 0
    /// Fields that differed behind berth's back (drift) when it observed.
    public var drifts = 0
    /// Set when the manifests did not load: nothing was applied.
    public var invalid: String?
    public var commit: String?

    public init(trigger: PassTrigger) { self.trigger = trigger }

    /// "reconciled 3 containers, 1 change, 0 failures at 08:12:00".
    public func status(at clock: String) -> String {
        var text: String
        if let invalid {
            text = "manifests invalid, nothing applied (\(invalid))"
        } else {
            text =
                "reconciled \(containers) container\(containers == 1 ? "" : "s"), \(changes) change\(changes == 1 ? "" : "s"), "
                + "\(failures) failure\(failures == 1 ? "" : "s")"
            if backingOff > 0 { text += ", \(backingOff) backing off" }
        }
        if let commit { text += " at commit \(commit.prefix(12))" }
        return text + " at \(clock)"
    }
}

/// Restarts of containers whose init ended (restartPolicy always or
/// on-failure): the first at once, then after a delay doubling from
/// `initial` up to `maximum`; a container that ran for `resetAfter` since its
/// last restart starts from the beginning again (kubelet's CrashLoopBackOff).
public struct RestartBackoff: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// Restarts in a row without a long enough run in between.
        public var restarts: Int
        public var lastStart: UInt64
        public var retryAt: UInt64
    }

    public var initial: UInt64
    public var maximum: UInt64
    public var resetAfter: UInt64
    public private(set) var entries: [String: Entry] = [:]
    /// Containers whose restart was held back: a pass is due at their retry time.
    public private(set) var waiting: Set<String> = []

    public init(initial: UInt64 = 1000, maximum: UInt64 = 300_000, resetAfter: UInt64 = 600_000) {
        self.initial = initial
        self.maximum = maximum
        self.resetAfter = resetAfter
    }

    /// The delay before restart number `restarts + 1` in a row (0 → none).
    public func delay(restarts: Int) -> UInt64 {
        guard restarts > 0 else { return 0 }
        var delay = initial
        for _ in 1..<restarts where delay < maximum { delay *= 2 }
        return min(delay, maximum)
    }

    /// Whether the container may be restarted at `now`; nil when yes, else
    /// when it may (it is then waiting, and `nextRetry` says when).
    public mutating func waitUntil(_ container: String, at now: UInt64) -> UInt64? {
        guard let entry = entries[container], now < entry.retryAt else { return nil }
        waiting.insert(container)
        return entry.retryAt
    }

    /// A restart at `now`: returns how many in a row and the delay before the
    /// next one.
    @discardableResult
    public mutating func restarted(_ container: String, at now: UInt64) -> (restarts: Int, nextDelay: UInt64) {
        var restarts = 1
        if let entry = entries[container], now < entry.lastStart + resetAfter { restarts = entry.restarts + 1 }
        let wait = delay(restarts: restarts)
        entries[container] = Entry(restarts: restarts, lastStart: now, retryAt: now + wait)
        waiting.remove(container)
        return (restarts, wait)
    }

    /// The container was started or removed by other means: its count goes.
    public mutating func forget(_ container: String) {
        entries[container] = nil
        waiting.remove(container)
    }

    /// The earliest time a held-back restart is due.
    public var nextRetry: UInt64? { waiting.compactMap { entries[$0]?.retryAt }.min() }
}
