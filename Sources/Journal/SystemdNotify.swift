import CLibraries

/// sd_notify(3): tells a supervising systemd about readiness and status.
///
/// A no-op when `NOTIFY_SOCKET` is unset (berth run by hand or in tests).
public enum SystemdNotify {
    /// Sends `state` (for example "READY=1\nSTATUS=idle"). Returns whether a
    /// supervisor received it.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        berth_sd_notify(0, state) > 0
    }

    /// sd_watchdog_enabled(3): the unit's WatchdogSec= in milliseconds when
    /// systemd expects WATCHDOG=1 from this process, else nil.
    public static func watchdogMilliseconds() -> UInt64? {
        var microseconds: UInt64 = 0
        guard berth_sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return max(1, microseconds / 1000)
    }
}
