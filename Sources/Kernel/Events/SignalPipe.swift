import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// Signals delivered as bytes on a pipe (the C shim's handler writes them),
/// so a poll(2) loop sees them next to its other descriptors. One per process.
public final class SignalPipe: @unchecked Sendable {
    public let fd: Int32
    private let signals: [Int32]

    /// One at a time per process; the handlers it replaced come back at deinit.
    public init(_ signals: [Int32]) throws(SystemError) {
        let fd = signals.withUnsafeBufferPointer { berth_signal_pipe($0.baseAddress, Int32($0.count)) }
        if fd < 0 { throw SystemError(call: "sigaction", errno: errno, subject: "signal pipe") }
        self.fd = fd
        self.signals = signals
    }

    deinit {
        signals.withUnsafeBufferPointer { berth_signal_restore($0.baseAddress, Int32($0.count)) }
        Syscall.close(fd)
    }

    /// Until `process` exits (nil: returns at once), hands each signal that
    /// arrives to `arrived`. With a terminal, relays it first, until every
    /// holder has let go of it (a process may close its terminal and go on).
    public func passOn(
        until process: PidFD?, relaying terminal: PseudoTerminal?, subject: String, _ arrived: (Int32) -> Void
    ) throws(SystemError) {
        func drainAll() { for signal in drain() { arrived(signal) } }
        if let terminal { TerminalRelay.run(master: terminal.master, also: fd, ready: drainAll) }
        guard let process else { return }
        var fds = [pollfd(fd: process.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        while fds[0].revents == 0 {
            if Glibc.poll(&fds, 2, -1) < 0 && errno != EINTR { throw SystemError(call: "poll", errno: errno, subject: subject) }
            drainAll()
        }
    }

    /// The signals received since the last call, in order; never blocks.
    public func drain() -> [Int32] {
        var signals: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return signals }
            signals += buffer[0..<count].map { Int32($0) }
        }
    }
}
