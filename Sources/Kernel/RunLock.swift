#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive lock on the run dir (flock, released by the kernel when the
/// holder dies), so two applies, or an apply and the agent, never run at once.
public final class RunLock: @unchecked Sendable {
    let fd: Int32

    public struct Held: Error, CustomStringConvertible {
        public var path: String
        public var holder: String
        public var description: String { "\(path) is held by pid \(holder): another berth apply or agent is running" }
    }

    /// Takes the lock without waiting; `Held` names the pid that has it.
    /// `mode` 0644 lets any user ask `isHeld` (it opens the file read-only
    /// and takes a shared lock it drops at once: no power over the holder);
    /// a file made before with another mode is given it.
    public init(path: String, mode: mode_t = 0o600) throws {
        let fd = try Syscall.open(path, O_RDWR | O_CREAT, mode: mode)
        _ = fchmod(fd, mode)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = (try? Syscall.readFile(path, limit: 64)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
            Syscall.close(fd)
            if code == EWOULDBLOCK { throw Held(path: path, holder: holder.isEmpty ? "?" : holder) }
            throw SystemError(call: "flock", errno: code, subject: path)
        }
        _ = ftruncate(fd, 0)
        let pid = Array("\(getpid())".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
    }

    /// Whether a process holds the lock at `path` now (a shared flock
    /// attempt on a read-only descriptor, released at once; false when the
    /// file is missing or cannot be opened).
    public static func isHeld(_ path: String) -> Bool {
        guard let fd = try? Syscall.open(path, O_RDONLY) else { return false }
        defer { Syscall.close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    deinit { Syscall.close(fd) }
}
