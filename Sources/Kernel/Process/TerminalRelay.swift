import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A pseudo-terminal pair (openpty), the master side for berth to relay.
public final class PseudoTerminal {
    public let master: Int32
    /// Closed by `closeSlave()` once the child has its copy.
    public private(set) var slave: Int32

    public init() throws(SystemError) {
        var master: Int32 = -1
        var slave: Int32 = -1
        if berth_openpty(&master, &slave) != 0 { throw SystemError(call: "openpty", errno: errno) }
        if isatty(0) == 1 { _ = berth_copy_window_size(0, slave) }
        self.master = master
        self.slave = slave
    }

    public func closeSlave() {
        if slave >= 0 { Syscall.close(slave) }
        slave = -1
    }

    deinit {
        Syscall.close(master)
        if slave >= 0 { Syscall.close(slave) }
    }
}

/// Relays between berth's stdin/stdout and a pseudo-terminal's master side
/// until the command closes its terminal. The caller's terminal (if stdin is
/// one) is put in raw mode meanwhile and restored after; its window size
/// follows resizes. `also` is polled too: `ready` runs whenever it is
/// readable (berth run's signal pipe).
public enum TerminalRelay {
    public static func run(master: Int32, also: Int32 = -1, ready: () -> Void = {}) {
        var saved = [UInt8](repeating: 0, count: 256)
        let isTerminal = isatty(0) == 1
        let raw = isTerminal && saved.withUnsafeMutableBytes { berth_make_raw(0, $0.baseAddress, UInt($0.count)) } == 0
        defer {
            if raw { _ = saved.withUnsafeBytes { berth_restore_terminal(0, $0.baseAddress, UInt($0.count)) } }
        }
        var buffer = [UInt8](repeating: 0, count: 16384)
        var inputOpen = true
        while true {
            var fds = [
                pollfd(fd: master, events: Int16(POLLIN), revents: 0), pollfd(fd: inputOpen ? 0 : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: also, events: Int16(POLLIN), revents: 0),
            ]
            if poll(&fds, 3, 250) < 0 {
                if errno == EINTR { continue }
                return
            }
            if isTerminal { _ = berth_copy_window_size(0, master) }
            if fds[2].revents != 0 { ready() }
            if fds[0].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
                // EIO: every slave descriptor is closed, the command ended.
                if count <= 0 {
                    if count < 0 && errno == EINTR { continue }
                    return
                }
                writeAll(1, buffer, count)
            }
            if inputOpen && fds[1].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if count <= 0 {
                    if count < 0 && errno == EINTR { continue }
                    inputOpen = false
                    // End of input: pass an end-of-file character to the command.
                    var eof: UInt8 = 4
                    _ = write(master, &eof, 1)
                    continue
                }
                writeAll(master, buffer, count)
            }
        }
    }

    static func writeAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int) {
        var offset = 0
        while offset < count {
            let written = buffer.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + offset }, count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}
