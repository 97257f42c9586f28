#if canImport(Glibc)
    import Glibc
#endif

/// A non-blocking AF_UNIX datagram socket for sending to a fixed path
/// (journald's native socket). Sending never waits: a full or stalled
/// receiver is reported as `.wouldBlock`, never as a hang.
public final class DatagramSocket: @unchecked Sendable {
    public enum SendResult: Equatable, Sendable {
        case sent
        /// The receiver's queue is full (journald stalled): the datagram was dropped.
        case wouldBlock
        /// Nobody listens at the path (journald absent).
        case noReceiver
        case failed(Int32)
    }

    private let fd: Int32
    private let path: String

    public init(path: String) throws(SystemError) {
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd = socket(AF_UNIX, type, 0)
        if fd < 0 { throw SystemError(call: "socket", errno: errno, subject: path) }
        guard path.utf8.count < 108 else {
            Glibc.close(fd)
            throw SystemError(call: "socket", errno: ENAMETOOLONG, subject: path)
        }
        self.fd = fd
        self.path = path
    }

    deinit { Glibc.close(fd) }

    /// Whether a datagram socket is bound at `path`: connect(2) succeeds
    /// (ENOENT: no socket file; ECONNREFUSED: nobody bound to it).
    public static func hasReceiver(path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, path.utf8.count < 108 else {
            if fd >= 0 { Glibc.close(fd) }
            return false
        }
        defer { Glibc.close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: path.utf8) }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0
    }

    /// sendto(2) with MSG_DONTWAIT. EINTR is retried; nothing else waits.
    public func send(_ bytes: [UInt8]) -> SendResult {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
        }
        while true {
            let result = bytes.withUnsafeBytes { buffer in
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
            if result >= 0 { return .sent }
            switch errno {
            case EINTR: continue
            case EAGAIN: return .wouldBlock
            case ENOENT, ECONNREFUSED, ENOTDIR: return .noReceiver
            case let code: return .failed(code)
            }
        }
    }
}
