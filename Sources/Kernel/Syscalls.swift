import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// Thin, throwing wrappers around the system calls berth uses, one per call,
/// named after it. errno is read immediately; EINTR is retried in one place.
public enum Syscall {
    /// Retries `body` while it fails with EINTR; returns its result or throws.
    @inline(__always)
    static func retrying<T: BinaryInteger>(_ call: String, _ subject: String?, _ body: () -> T) throws(SystemError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw SystemError(call: call, errno: code, subject: subject)
        }
    }

    /// open(2) read-only, close-on-exec (as `open`). Not idempotent (a new fd).
    public static func openReadOnly(_ path: String) throws(SystemError) -> Int32 { try open(path, O_RDONLY) }

    /// openReadOnly without updating the file's access time (O_NOATIME):
    /// for a file berth reads on every pass (a container's record). Under
    /// relatime the first read after a write dirties the inode, which the
    /// next sync of the filesystem then writes (an overlay unmount at each
    /// init's exit syncs it). Only the file's owner (or CAP_FOWNER) may ask:
    /// anyone else's open is made without it.
    public static func openReadOnlyKeepingAccessTime(_ path: String) throws(SystemError) -> Int32 {
        do {
            return try open(path, O_RDONLY | noAccessTime)
        } catch {
            guard error.errno == EPERM else { throw error }
            return try open(path, O_RDONLY)
        }
    }

    /// O_NOATIME (asm-generic fcntl.h), which Glibc's module does not
    /// export (it is _GNU_SOURCE-only).
    static let noAccessTime: Int32 = 0o1_000_000

    /// open(2) with O_CLOEXEC always added. Not idempotent (returns a new fd).
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(SystemError) -> Int32 {
        try retrying("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// close(2). Never retried: on Linux the descriptor is gone even on EINTR.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// write(2) once. A short write is an error: cgroup and proc files take a
    /// value in exactly one write or not at all.
    public static func writeOnce(_ fd: Int32, _ bytes: [UInt8], subject: String) throws(SystemError) {
        let written = try retrying("write", subject) {
            bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        }
        if written != bytes.count {
            throw SystemError(call: "write", errno: EIO, subject: subject)
        }
    }

    /// Reads a whole (small) file: procfs, sysfs and cgroupfs values, at
    /// most `limit` bytes.
    /// `oneRecord`: the file is one record of a kernel seq_file (see
    /// `readAll`), such as /proc/PID/stat.
    public static func readFile(_ path: String, limit: Int = 1 << 20, oneRecord: Bool = false) throws(SystemError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        return try readAll(fd, upTo: limit, subject: path, oneRecord: oneRecord)
    }

    /// mkdir(2). Idempotent when `existOK` (EEXIST is success).
    public static func mkdir(_ path: String, mode: mode_t = 0o755, existOK: Bool = false) throws(SystemError) {
        if Glibc.mkdir(path, mode) == 0 { return }
        let code = errno
        if existOK && code == EEXIST { return }
        throw SystemError(call: "mkdir", errno: code, subject: path)
    }

    /// mkdtemp(3): a new directory (0700) named `prefix` and six random
    /// characters, never one that exists (a crashed run's is left alone).
    public static func makeTemporaryDirectory(prefix: String) throws(SystemError) -> String {
        var template = Array((prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } != nil }
        guard made else { throw SystemError(call: "mkdtemp", errno: errno, subject: prefix + "XXXXXX") }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// mkdir -p: creates `path` and its missing parents. Idempotent.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        if Glibc.mkdir(path, mode) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw SystemError(call: "mkdir", errno: errno, subject: path)
        }
        try makeDirectories(String(path[..<slash]), mode: mode)
        try mkdir(path, mode: mode, existOK: true)
    }

    /// unlink(2). Idempotent when `missingOK` (ENOENT is success).
    public static func removeFile(_ path: String, missingOK: Bool = false) throws(SystemError) {
        if Glibc.unlink(path) == 0 || (missingOK && errno == ENOENT) { return }
        throw SystemError(call: "unlink", errno: errno, subject: path)
    }

    /// rm -rf of a directory berth owns: never follows a symlink (links are
    /// removed, not their targets) and never crosses into another
    /// filesystem. Idempotent (a missing `path` is fine).
    public static func removeTree(_ path: String) throws(SystemError) {
        // An empty directory (a `berth run` container's) goes in one call.
        if Glibc.rmdir(path) == 0 { return }
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return }
            throw SystemError(call: "lstat", errno: errno, subject: path)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { return try removeFile(path, missingOK: true) }
        let fd = try open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        defer { close(fd) }
        try removeContents(fd, device: info.st_dev, subject: path)
        try rmdir(path, missingOK: true)
    }

    /// A directory entry's name as the kernel gave it (it need not be
    /// UTF-8): `cString` for the *at calls, `display` for messages.
    struct EntryName {
        let bytes: [UInt8]
        var cString: [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }
        var display: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// Calls `body` with the name and lstat of every entry of the directory
    /// open as `fd` but `.` and `..`; an entry gone meanwhile is skipped.
    static func forEachEntry(
        _ fd: Int32, subject: String, _ body: (EntryName, stat) throws(SystemError) -> Void
    ) throws(SystemError) {
        try forEachEntryName(fd, subject: subject) { name, info throws(SystemError) in
            try body(EntryName(bytes: name), info)
        }
    }

    /// The names in `directory` ("." and ".." aside; empty when it cannot
    /// be opened), in no particular order.
    public static func entryNames(in directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// forEachEntry with the names as the bytes the kernel gives (a name
    /// need not be UTF-8).
    static func forEachEntryName(
        _ fd: Int32, subject: String, _ body: ([UInt8], stat) throws(SystemError) -> Void
    ) throws(SystemError) {
        // fdopendir takes the descriptor over: hand it a duplicate.
        let copy = try retrying("dup", subject) { fcntl(fd, F_DUPFD_CLOEXEC, 3) }
        guard let stream = fdopendir(copy) else {
            close(copy)
            throw SystemError(call: "fdopendir", errno: errno, subject: subject)
        }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            var info = stat()
            if fstatat(fd, name.map { CChar(bitPattern: $0) } + [0], &info, AT_SYMLINK_NOFOLLOW) != 0 {
                if errno == ENOENT { continue }
                throw SystemError(call: "fstatat", errno: errno, subject: subject + "/" + String(decoding: name, as: UTF8.self))
            }
            try body(name, info)
        }
    }

    /// Every entry under the directory `path`, as `find . -mindepth 1`
    /// names them ("./a", "./a/b", as bytes), without following a symlink;
    /// in no particular order.
    public static func treePaths(_ path: String) throws(SystemError) -> [[UInt8]] {
        let fd = try open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        defer { close(fd) }
        var paths: [[UInt8]] = []
        try collectPaths(fd, prefix: Array("./".utf8), subject: path, into: &paths)
        return paths
    }

    private static func collectPaths(_ fd: Int32, prefix: [UInt8], subject: String, into paths: inout [[UInt8]]) throws(SystemError) {
        var directories: [[UInt8]] = []
        try forEachEntryName(fd, subject: subject) { name, info throws(SystemError) in
            paths.append(prefix + name)
            if info.st_mode & S_IFMT == S_IFDIR { directories.append(name) }
        }
        for name in directories {
            let child = openat(fd, name.map { CChar(bitPattern: $0) } + [0], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if child < 0 {
                if errno == ENOENT { continue }
                throw SystemError(call: "openat", errno: errno, subject: subject + "/" + String(decoding: name, as: UTF8.self))
            }
            defer { close(child) }
            try collectPaths(
                child, prefix: prefix + name + [0x2f], subject: subject + "/" + String(decoding: name, as: UTF8.self), into: &paths)
        }
    }

    /// Empties the directory open as `fd`, depth first, staying on `device`.
    private static func removeContents(_ fd: Int32, device: dev_t, subject: String) throws(SystemError) {
        try forEachEntry(fd, subject: subject) { entry, info throws(SystemError) in
            let name = entry.cString
            let path = subject + "/" + entry.display
            if info.st_mode & S_IFMT == S_IFDIR {
                guard info.st_dev == device else {
                    throw SystemError(call: "unlinkat", errno: EXDEV, subject: path + " (a mount point)")
                }
                let child = try retrying("openat", path) {
                    openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                defer { close(child) }
                try removeContents(child, device: device, subject: path)
                if unlinkat(fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT {
                    throw SystemError(call: "unlinkat", errno: errno, subject: path)
                }
            } else if unlinkat(fd, name, 0) != 0 && errno != ENOENT {
                throw SystemError(call: "unlinkat", errno: errno, subject: path)
            }
        }
    }

    /// rmdir(2). Idempotent when `missingOK` (ENOENT is success).
    public static func rmdir(_ path: String, missingOK: Bool = false) throws(SystemError) {
        if Glibc.rmdir(path) == 0 { return }
        let code = errno
        if missingOK && code == ENOENT { return }
        throw SystemError(call: "rmdir", errno: code, subject: path)
    }

    /// statfs(2): the filesystem magic of `path`. Idempotent.
    public static func filesystemType(_ path: String) throws(SystemError) -> Int {
        let magic = berth_statfs_type(path)
        if magic < 0 {
            throw SystemError(call: "statfs", errno: errno, subject: path)
        }
        return Int(magic)
    }

    /// Writes text to standard error, all of it (retrying short writes).
    public static func writeStandardError(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }

    /// stat(2)'s device and inode (for namespaces: which one a /proc/PID/ns link is).
    public static func inode(_ path: String) -> (device: UInt64, inode: UInt64)? {
        version(path).map { ($0.device, $0.inode) }
    }

    /// What identifies one version of a file: device, inode, size and
    /// modification time (a rename over it or a write changes one of them).
    public struct FileVersion: Hashable, Sendable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int64
        public var modified: Int64
    }

    /// The file's current version (stat(2)); nil when it cannot be stat'ed.
    public static func version(_ path: String) -> FileVersion? {
        var info = stat()
        guard fstatat(AT_FDCWD, path, &info, 0) == 0 else { return nil }
        return FileVersion(info)
    }

    /// The version of the file open as `fd` (fstat(2): no path to look up).
    public static func version(of fd: Int32) -> FileVersion? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return FileVersion(info)
    }

    /// The device number (major, minor) of the filesystem `path` is on
    /// (stat(2) st_dev); nil when it cannot be stat'ed.
    public static func device(of path: String) -> (major: UInt32, minor: UInt32)? {
        version(path).map { deviceNumbers($0.device) }
    }

    /// A dev_t's (major, minor), in glibc's encoding (gnu_dev_major/minor
    /// are macros Swift cannot call).
    public static func deviceNumbers(_ device: UInt64) -> (major: UInt32, minor: UInt32) {
        (
            UInt32(truncatingIfNeeded: ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)),
            UInt32(truncatingIfNeeded: (device & 0xff) | ((device >> 12) & ~0xff))
        )
    }

    /// access(2) with F_OK: whether a path exists. Idempotent.
    public static func exists(_ path: String) -> Bool {
        Glibc.access(path, F_OK) == 0
    }

    /// kill(2). Not a liveness check: a zombie accepts signals.
    public static func kill(_ pid: pid_t, _ signal: Int32) throws(SystemError) {
        if Glibc.kill(pid, signal) != 0 {
            throw SystemError(call: "kill", errno: errno, subject: "pid \(pid)")
        }
    }
}

/// Filesystem magic numbers from linux/magic.h.
public enum FilesystemMagic {
    public static let cgroup2: Int = 0x6367_7270
    public static let cgroup1: Int = 0x0027_e0eb
    public static let tmpfs: Int = 0x0102_1994
    public static let proc: Int = 0x9fa0
}

extension Syscall {
    /// Reads until EOF or `limit` bytes; `subject` names the source in errors.
    ///
    /// `oneRecord`: the file is a kernel seq_file that shows one record (a
    /// cgroup control file, a single_open proc file such as /proc/PID/stat):
    /// the kernel formats the record whole and copies as much as was asked,
    /// so a read shorter than asked is its end, and the read that would
    /// return 0 is not made (about 13 per container in a no-op plan:
    /// berth-bench scale). Not for files of several records (mountinfo): a
    /// read of those stops short of the end where the next record does not
    /// fit. Also for a regular file berth replaces whole (by rename: a
    /// container's record and its init file): a read of one is short only
    /// at its end (two reads per container less in a no-op plan).
    public static func readAll(_ fd: Int32, upTo limit: Int, subject: String = "pipe", oneRecord: Bool = false) throws(SystemError)
        -> [UInt8]
    {
        var result: [UInt8] = []
        // Most reads are small kernel files (cgroup, proc): start with one
        // page and grow while reads fill the buffer. The buffer is not
        // zero-filled first (read(2) writes what is kept): observe reads
        // about 18 such files per container each pass (berth-bench scale).
        func uninitialized(_ count: Int) -> [UInt8] { [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count } }
        var buffer = uninitialized(max(1, min(limit, 4096)))
        while result.count < limit {
            let want = min(buffer.count, limit - result.count)
            let count = try retrying("read", subject) {
                buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, want) }
            }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
            if oneRecord && count < want { break }
            if count == buffer.count && buffer.count < 65536 { buffer = uninitialized(min(buffer.count * 4, 65536)) }
        }
        return result
    }
}

extension Syscall.FileVersion {
    init(_ info: stat) {
        self.init(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }
}
