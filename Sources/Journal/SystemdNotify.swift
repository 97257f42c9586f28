#if canImport(Glibc)
    import Glibc
#endif

/// sd_notify(3): tells a supervising systemd about readiness and status.
///
/// A no-op when `NOTIFY_SOCKET` is unset (berth run by hand or in tests).
/// The protocol itself (one datagram to the socket the variable names), not
/// libsystemd: the agent would otherwise keep libsystemd and what it loads
/// (libgcrypt, liblzma, libzstd, liblz4: about 1 MiB) resident for a
/// datagram (berth-bench reconcile, agent memory).
public enum SystemdNotify {
    /// Sends `state` (for example "READY=1\nSTATUS=idle"). Returns whether a
    /// supervisor received it.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        notify(state, socket: getenv("NOTIFY_SOCKET").map { String(cString: $0) })
    }

    /// Sends `state` to `socket`: a path, or an abstract name written with a
    /// leading "@" (as NOTIFY_SOCKET gives them); nil or anything else sends nothing.
    @discardableResult
    static func notify(_ state: String, socket name: String?) -> Bool {
        guard let name, let target = address(name) else { return false }
        var (address, length) = target
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(state.utf8)
        while true {
            let sent = bytes.withUnsafeBytes { buffer in
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), $0, length)
                    }
                }
            }
            if sent >= 0 { return true }
            if errno != EINTR { return false }
        }
    }

    /// The socket address of NOTIFY_SOCKET's value and its length (an
    /// abstract name counts its leading NUL and no terminator), or nil.
    static func address(_ name: String) -> (sockaddr_un, socklen_t)? {
        var bytes = Array(name.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        guard abstract || bytes.first == UInt8(ascii: "/") else { return nil }
        if abstract { bytes[0] = 0 }
        var address = sockaddr_un()
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        let length = MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1)
        return (address, socklen_t(length))
    }

    /// sd_watchdog_enabled(3): the unit's WatchdogSec= in milliseconds when
    /// systemd expects WATCHDOG=1 from this process, else nil.
    public static func watchdogMilliseconds() -> UInt64? {
        func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        return watchdogMilliseconds(usec: variable("WATCHDOG_USEC"), pid: variable("WATCHDOG_PID"), ownPid: getpid())
    }

    /// WATCHDOG_USEC and WATCHDOG_PID as sd_watchdog_enabled reads them: a
    /// positive number of microseconds, for this process when a pid is named.
    static func watchdogMilliseconds(usec: String?, pid: String?, ownPid: pid_t) -> UInt64? {
        guard let usec, let microseconds = UInt64(usec), microseconds > 0 else { return nil }
        if let pid, Int32(pid) != ownPid { return nil }
        return max(1, microseconds / 1000)
    }
}
