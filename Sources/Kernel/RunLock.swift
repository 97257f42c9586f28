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
    ///
    /// Nothing is written to the file: the holder's pid is looked up in
    /// /proc/locks only when the lock is held. (Writing the pid on every
    /// take, a truncate and a write, made each apply join the filesystem's
    /// journal, behind the commit of the previous apply's syncs on ext4:
    /// about 2 to 4 ms of a one-container apply.)
    ///
    /// `mode` 0644 lets any user ask `isHeld` (it opens the file read-only
    /// and takes a shared lock it drops at once: no power over the holder);
    /// a file made before with another mode is given it (only then: a
    /// chmod is a write too).
    ///
    /// `waitMilliseconds`: while another process holds it, how long to wait
    /// for it (tried again every 50 ms), `waiting` told once first, with
    /// the holder's pid; past that, `Held`. Zero: no wait.
    public init(path: String, mode: mode_t = 0o600, waitMilliseconds: UInt64 = 0, waiting: (String) -> Void = { _ in }) throws {
        let fd = try Syscall.open(path, O_RDWR | O_CREAT, mode: mode)
        var made = stat()
        if fstat(fd, &made) == 0, made.st_mode & 0o7777 != mode { _ = fchmod(fd, mode) }
        let started = MonotonicClock.milliseconds()
        var told = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK else {
                Syscall.close(fd)
                throw SystemError(call: "flock", errno: code, subject: path)
            }
            // /proc/locks is read only for what is said: once when the
            // wait starts, once when it gives up.
            guard MonotonicClock.milliseconds() - started < waitMilliseconds else {
                let holder = RunLock.holder(of: fd)
                Syscall.close(fd)
                throw Held(path: path, holder: holder)
            }
            if !told {
                waiting(RunLock.holder(of: fd))
                told = true
            }
            usleep(50_000)
        }
        self.fd = fd
    }

    /// The pid holding the lock on the file open at `fd`, as text ("?":
    /// not found).
    static func holder(of fd: Int32) -> String {
        var info = stat()
        guard fstat(fd, &info) == 0,
            let pid = RunLock.holder(
                locks: (try? Syscall.readFile("/proc/locks")) ?? [], device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        else { return "?" }
        return "\(pid)"
    }

    /// The pid of the process holding an exclusive flock on the file
    /// `device`:`inode`, from the text of /proc/locks (lines like
    /// `1: FLOCK  ADVISORY  WRITE 4711 08:01:1234 0 EOF`, the device as
    /// hexadecimal major:minor); nil when no line names it.
    static func holder(locks: [UInt8], device: UInt64, inode: UInt64) -> Int32? {
        let (major, minor) = Syscall.deviceNumbers(device)
        for line in String(decoding: locks, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            // A waiter's line ("1: -> FLOCK ...") has one field more: skipped.
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE" else { continue }
            let file = fields[5].split(separator: ":")
            guard file.count == 3, UInt32(file[0], radix: 16) == major, UInt32(file[1], radix: 16) == minor,
                UInt64(file[2]) == inode
            else { continue }
            return Int32(fields[4])
        }
        return nil
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
