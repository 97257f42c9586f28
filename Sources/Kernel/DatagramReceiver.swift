#if canImport(Glibc)
    import Glibc
#endif

/// An AF_UNIX datagram socket bound to a path, for receiving: what a
/// supervisor's NOTIFY_SOCKET is (tests and benchmarks stand in for systemd).
public final class DatagramReceiver: @unchecked Sendable {
    public let fd: Int32
    public let path: String

    /// socket(2) + bind(2); an old socket file at `path` is replaced.
    public init(path: String) throws(SystemError) {
        guard path.utf8.count < 108 else { throw SystemError(call: "bind", errno: ENAMETOOLONG, subject: path) }
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(AF_UNIX, type, 0)
        if fd < 0 { throw SystemError(call: "socket", errno: errno, subject: path) }
        _ = unlink(path)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if bound != 0 {
            let code = errno
            Glibc.close(fd)
            throw SystemError(call: "bind", errno: code, subject: path)
        }
        self.fd = fd
        self.path = path
    }

    deinit {
        Glibc.close(fd)
        _ = unlink(path)
    }

    /// The next datagram, waiting at most `timeoutMilliseconds`; nil on timeout.
    public func receive(timeoutMilliseconds: Int32) -> [UInt8]? {
        guard let ready = try? Syscall.pollReadable([fd], timeoutMilliseconds: timeoutMilliseconds), ready.first == true else {
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return count < 0 ? nil : Array(buffer[0..<count])
    }
}
