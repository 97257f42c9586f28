import CSystemd

/// sd_notify(3): tells a supervising systemd about readiness and status.
///
/// A no-op when `NOTIFY_SOCKET` is unset (berth run by hand or in tests).
public enum SystemdNotify {
    /// Sends `state` (for example "READY=1\nSTATUS=idle"). Returns whether a
    /// supervisor received it.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }
}
