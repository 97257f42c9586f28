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
final class CgroupDirectory {
    let path: String
    private let fd: Int32

    init(_ path: String, held: Bool = true) {
        self.path = path
        fd = held ? Glibc.open(path, CgroupDirectory.openPath | O_DIRECTORY | O_CLOEXEC) : AT_FDCWD
    }

    /// O_PATH (asm-generic fcntl.h), which Glibc's module does not export
    /// (it is _GNU_SOURCE-only).
    static let openPath: Int32 = 0o10_000_000

    deinit { if fd >= 0 { Syscall.close(fd) } }

    /// The file's bytes without trailing newlines and spaces; nil when it
    /// cannot be opened or read.
    func bytes(_ file: String) -> ArraySlice<UInt8>? {
        guard fd >= 0 || fd == AT_FDCWD else { return nil }
        let name = fd == AT_FDCWD ? path + "/" + file : file
        var descriptor: Int32
        repeat { descriptor = openat(fd, name, O_RDONLY | O_CLOEXEC) } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { return nil }
        defer { Syscall.close(descriptor) }
        // A control file is one record (Syscall.readAll): a short read is its end.
        guard let read = try? Syscall.readAll(descriptor, upTo: 1 << 20, subject: path + "/" + file, oneRecord: true) else { return nil }
        var end = read.endIndex
        while end > read.startIndex, read[end - 1] == UInt8(ascii: "\n") || read[end - 1] == UInt8(ascii: " ") { end -= 1 }
        return read[..<end]
    }

    /// The file as text, trimmed (CgroupFile.read's value).
    func read(_ file: String) -> String? { bytes(file).map { String(decoding: $0, as: UTF8.self) } }

    /// The file as one decimal number ("-1", "max" or anything else: nil).
    func number(_ file: String) -> UInt64? { bytes(file).flatMap(CgroupDirectory.decimal) }

    /// A decimal number spelled in ASCII digits alone, without overflow.
    static func decimal(_ digits: ArraySlice<UInt8>) -> UInt64? {
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
