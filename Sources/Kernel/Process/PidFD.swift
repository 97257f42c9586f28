import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A pidfd (pidfd_open(2)): a handle on one process that a recycled pid can
/// never redirect. Signals go to exactly that process, and the descriptor
/// turns readable when it exits (a zombie waiting to be reaped counts as
/// exited), so poll(2) watches many containers at once.
public final class PidFD: @unchecked Sendable {
    public let fd: Int32
    public let pid: pid_t

    /// Opens a pidfd for `pid`; with `startTime`, also checks afterwards that
    /// the process is the one recorded (same /proc start time), so the handle
    /// cannot belong to a process that took over a recycled pid.
    public init(pid: pid_t, startTime: UInt64? = nil) throws(SystemError) {
        let fd = berth_pidfd_open(pid, 0)
        if fd < 0 { throw SystemError(call: "pidfd_open", errno: errno, subject: "pid \(pid)") }
        if let startTime, ProcessStat.read(pid)?.startTime != startTime {
            Glibc.close(fd)
            throw SystemError(call: "pidfd_open", errno: ESRCH, subject: "pid \(pid) is another process now")
        }
        self.fd = fd
        self.pid = pid
    }

    deinit { Glibc.close(fd) }

    /// Sends `signal` to the process; false when it has already exited.
    @discardableResult
    public func signal(_ signal: Int32) throws(SystemError) -> Bool {
        if berth_pidfd_send_signal(fd, signal) == 0 { return true }
        if errno == ESRCH { return false }
        throw SystemError(call: "pidfd_send_signal", errno: errno, subject: "pid \(pid)")
    }

    /// Whether the process has exited, waiting at most `milliseconds` (0: just look).
    public func waitForExit(milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let result = Glibc.poll(&entry, 1, milliseconds)
            if result < 0 && errno == EINTR { continue }
            return result > 0
        }
    }
}
