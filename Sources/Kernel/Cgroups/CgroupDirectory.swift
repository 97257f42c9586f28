import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A cgroup directory whose files observe reads: each read without a stat
/// first and trimmed as bytes. `held`: the directory is opened once (O_PATH:
/// a lookup, not an open of the kernfs directory) and each file opened
/// relative to it (openat(2): one path component to look up instead of
/// the whole /sys/fs/cgroup/... path); worth it for a directory with several
/// files to read. Observe reads a dozen or more files of each container's
/// cgroup every pass (berth-bench scale: the opens were a fifth of a no-op
/// `berth plan`'s CPU at 1000 containers). A cgroup that is gone reads
/// every file as nil, as reading each path would.
///
/// `parents`: the directory is looked up in its parent, opened once for
/// the pass (CgroupParents), and a file of a directory not held in it too.
final class CgroupDirectory {
    let path: String
    private let fd: Int32
    /// Not held: where its files are looked up (AT_FDCWD and the path, or
    /// the parent's descriptor and the directory's name).
    private let base: Int32
    private let relative: String

    init(_ path: String, held: Bool = true, parents: CgroupParents? = nil) {
        self.path = path
        let (base, relative) = parents?.lookup(path) ?? (AT_FDCWD, path)
        if held {
            fd = openat(base, relative, CgroupDirectory.openPath | O_DIRECTORY | O_CLOEXEC)
            (self.base, self.relative) = (AT_FDCWD, path)
        } else {
            fd = AT_FDCWD
            (self.base, self.relative) = (base, relative)
        }
    }

    /// O_PATH (asm-generic fcntl.h), which Glibc's module does not export
    /// (it is _GNU_SOURCE-only).
    static let openPath: Int32 = 0o10_000_000

    deinit { if fd >= 0 { Syscall.close(fd) } }

    /// The file's bytes without trailing newlines and spaces; nil when it
    /// cannot be opened or read.
    func bytes(_ file: String) -> ArraySlice<UInt8>? { contents(file) { ArraySlice($0) } }

    /// The file's bytes, trimmed as `bytes` trims them, given to `body`
    /// without copying them to the heap: a control file that fits in one
    /// small read (every file observe reads, nearly always) is read onto
    /// the stack, and its number or text made from there. Observe reads
    /// about 13 files per container on v1: a 4 KiB buffer, the bytes'
    /// array and the error's subject (its path) were three allocations per
    /// file (berth-bench scale, no-op plan at 1000). A longer file is read
    /// on as before (Syscall.readAll) after the first bytes.
    func contents<T>(_ file: String, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T? {
        guard fd >= 0 || fd == AT_FDCWD else { return nil }
        let (directory, name) = fd == AT_FDCWD ? (base, relative + "/" + file) : (fd, file)
        var descriptor: Int32
        repeat { descriptor = openat(directory, name, O_RDONLY | O_CLOEXEC) } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { return nil }
        defer { Syscall.close(descriptor) }
        let small = CgroupDirectory.smallRead
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: small) { buffer -> T? in
            guard let base = buffer.baseAddress else { return nil }
            var count: Int
            repeat { count = Glibc.read(descriptor, base, small) } while count < 0 && errno == EINTR
            guard count >= 0 else { return nil }
            // A control file is one record (Syscall.readAll): a short read is its end.
            if count < small { return body(CgroupDirectory.trimmed(UnsafeBufferPointer(start: base, count: count))) }
            guard
                let rest = try? Syscall.readAll(
                    descriptor, upTo: (1 << 20) - small, subject: path + "/" + file, oneRecord: true)
            else { return nil }
            let whole = Array(UnsafeBufferPointer(start: base, count: count)) + rest
            return whole.withUnsafeBufferPointer { body(CgroupDirectory.trimmed($0)) }
        }
    }

    /// The first read's size: larger than any single value observe reads.
    static let smallRead = 512

    /// Without trailing newlines and spaces.
    static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var end = bytes.count
        while end > 0, bytes[end - 1] == UInt8(ascii: "\n") || bytes[end - 1] == UInt8(ascii: " ") { end -= 1 }
        return UnsafeBufferPointer(rebasing: bytes[0..<end])
    }

    /// The file as text, trimmed (CgroupFile.read's value).
    func read(_ file: String) -> String? { contents(file) { String(decoding: $0, as: UTF8.self) } }

    /// The file as one decimal number ("-1", "max" or anything else: nil).
    func number(_ file: String) -> UInt64? { contents(file) { CgroupDirectory.decimal($0) } ?? nil }

    /// A decimal number spelled in ASCII digits alone, without overflow.
    static func decimal<Digits: Collection<UInt8>>(_ digits: Digits) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 20 else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            if overflow || carry { return nil }
            value = sum
        }
        return value
    }
}

/// The parent directories of the cgroups one observe pass reads, each
/// opened once (O_PATH) for the pass: a container's cgroup directory (or a
/// file of one not held) is then looked up from its parent, one or two
/// components, not the whole /sys/fs/cgroup/CONTROLLER/PARENT/NAME path
/// (six opens per container on v1; the path walks were a seventh of the
/// CPU of reading cgroups in a no-op `berth plan` at 1000 containers,
/// berth-bench scale). Made per pass and dropped after it (a parent
/// removed and made again is opened again by the next pass); a parent
/// that cannot be opened is looked up by its path as before.
public final class CgroupParents: Sendable {
    private let opened = Mutex<[String: Int32]>([:])

    public init() {}

    deinit {
        for fd in opened.withLock({ $0.values }) where fd >= 0 { Syscall.close(fd) }
    }

    /// Where `path` is looked up: its parent's descriptor and its last
    /// component, or AT_FDCWD and `path`.
    func lookup(_ path: String) -> (Int32, String) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex, path.index(after: slash) != path.endIndex else {
            return (AT_FDCWD, path)
        }
        let parent = String(path[..<slash])
        let fd = opened.withLock { opened in
            if let known = opened[parent] { return known }
            let fd = Glibc.open(parent, CgroupDirectory.openPath | O_DIRECTORY | O_CLOEXEC)
            opened[parent] = fd
            return fd
        }
        return fd >= 0 ? (fd, String(path[path.index(after: slash)...])) : (AT_FDCWD, path)
    }
}
