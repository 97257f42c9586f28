import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// pipe2(2) with O_CLOEXEC.
enum Pipe2 {
    static func make() throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        if berth_pipe2(&fds, O_CLOEXEC) != 0 { throw SystemError(call: "pipe2", errno: errno) }
        return (fds[0], fds[1])
    }
}

/// socketpair(2) of a stream socket with SOCK_CLOEXEC: a one-way channel
/// like a pipe, but one that `send` with MSG_NOSIGNAL writes to without a
/// SIGPIPE when the other end is gone.
enum SocketChannel {
    static func make() throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) != 0 {
            throw SystemError(call: "socketpair", errno: errno)
        }
        return (fds[0], fds[1])
    }
}

/// Reaping children berth itself started (a container's init while berth runs).
public enum Reaper {
    /// A wait status as a shell reports it: the exit code, or 128 + the
    /// signal that killed the process.
    public static func exitCode(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// waitpid(2), blocking. Returns the status, or nil when `pid` is not our child.
    @discardableResult
    public static func wait(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, 0)
            if result == pid { return status }
            if result < 0 && errno == EINTR { continue }
            return nil
        }
    }

    /// waitpid(2) with WNOHANG: the status if it has ended, nil otherwise.
    public static func poll(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid ? status : nil
    }
}
