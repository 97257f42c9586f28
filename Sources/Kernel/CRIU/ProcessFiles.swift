#if canImport(Glibc)
    import Glibc
#endif

extension Syscall {
    /// read(2) into `buffer`; the count read (0 at the end). Retries EINTR.
    public static func read(_ fd: Int32, into buffer: inout [UInt8], subject: String) throws(SystemError) -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count >= 0 { return count }
            if errno != EINTR { throw SystemError(call: "read", errno: errno, subject: subject) }
        }
    }

    /// Whether `path` is a regular file (lstat(2): a link is not).
    public static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    /// readlink(2); nil when it is no link or cannot be read.
    public static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = Glibc.readlink(path, &buffer, 4096)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The descriptors of a set of processes that point outside their mount
/// namespace: CRIU cannot reopen those by path, so they are dumped as
/// external (`file[MOUNT_ID:INODE]`) and handed back on restore.
public enum ProcessFiles {
    public struct HostFile: Equatable, Sendable {
        /// file[MOUNT_ID:INODE], hex, as CRIU writes it.
        public var key: String
        /// The path as berth (in the host's mount namespace) sees it.
        public var path: String
        /// fdinfo's flags (octal there).
        public var flags: Int32
    }

    /// The mount ids of the namespace `pid` lives in (/proc/PID/mountinfo).
    public static func mountIDs(of pid: pid_t) throws(SystemError) -> Set<Int> {
        let text = String(decoding: try Syscall.readFile("/proc/\(pid)/mountinfo", limit: 16 << 20), as: UTF8.self)
        return Set(text.split(separator: "\n").compactMap { line in line.split(separator: " ").first.flatMap { Int($0) } })
    }

    /// Regular files and character devices the processes hold open on
    /// mounts that are not in `mounts`, one entry per file (several
    /// descriptors on one file share it).
    public static func outside(_ mounts: Set<Int>, pids: [pid_t]) -> [HostFile] {
        var found: [String: HostFile] = [:]
        for pid in pids {
            let directory = "/proc/\(pid)/fd"
            for name in Syscall.entryNames(in: directory) {
                guard let fd = Int32(name) else { continue }
                guard let info = fdinfo(pid, fd), !mounts.contains(info.mountID) else { continue }
                var status = stat()
                guard stat("\(directory)/\(fd)", &status) == 0 else { continue }
                let type = status.st_mode & S_IFMT
                guard type == S_IFREG || type == S_IFCHR, let path = Syscall.readLink("\(directory)/\(fd)") else { continue }
                let key = "file[\(String(info.mountID, radix: 16)):\(String(UInt64(status.st_ino), radix: 16))]"
                found[key] = HostFile(key: key, path: path, flags: info.flags)
            }
        }
        return found.values.sorted { $0.key < $1.key }
    }

    /// mnt_id and flags of one descriptor (/proc/PID/fdinfo/FD).
    static func fdinfo(_ pid: pid_t, _ fd: Int32) -> (mountID: Int, flags: Int32)? {
        guard let bytes = try? Syscall.readFile("/proc/\(pid)/fdinfo/\(fd)", limit: 1 << 16) else { return nil }
        var mountID: Int?
        var flags: Int32 = 0
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: " \t") }
            guard parts.count == 2 else { continue }
            if parts[0] == "mnt_id" { mountID = Int(parts[1]) }
            if parts[0] == "flags" { flags = Int32(parts[1], radix: 8) ?? 0 }
        }
        return mountID.map { ($0, flags) }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        return String(drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
