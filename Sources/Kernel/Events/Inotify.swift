#if canImport(Glibc)
    import Glibc
#endif

/// An inotify(7) instance: watches on directories, events read without
/// blocking (the caller polls `fd`).
public final class Inotify: @unchecked Sendable {
    public let fd: Int32

    /// One inotify event: the watch it came from, its mask and the name of
    /// the entry it is about (empty for events on the watched object itself).
    public struct Event: Equatable, Sendable {
        public var watch: Int32
        public var mask: UInt32
        public var cookie: UInt32
        public var name: String

        public init(watch: Int32, mask: UInt32, cookie: UInt32 = 0, name: String) {
            self.watch = watch
            self.mask = mask
            self.cookie = cookie
            self.name = name
        }

        public func has(_ flag: Int32) -> Bool { mask & UInt32(bitPattern: flag) != 0 }
    }

    /// What a manifests directory needs: files finished or moved in and out,
    /// entries created and deleted, and the directory itself going away.
    public static let directoryChanges: UInt32 = UInt32(
        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB)

    /// inotify_init1(2) with IN_CLOEXEC | IN_NONBLOCK. Not idempotent.
    public init() throws(SystemError) {
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if fd < 0 { throw SystemError(call: "inotify_init1", errno: errno) }
        self.fd = fd
    }

    deinit { Syscall.close(fd) }

    /// inotify_add_watch(2) on a directory (IN_ONLYDIR). Idempotent: the same
    /// inode gets the same watch descriptor back.
    public func watchDirectory(_ path: String, mask: UInt32 = Inotify.directoryChanges) throws(SystemError) -> Int32 {
        let watch = inotify_add_watch(fd, path, mask | UInt32(IN_ONLYDIR))
        if watch < 0 { throw SystemError(call: "inotify_add_watch", errno: errno, subject: path) }
        return watch
    }

    /// inotify_rm_watch(2). Idempotent: a watch the kernel already dropped
    /// (EINVAL) is fine.
    public func remove(_ watch: Int32) {
        _ = inotify_rm_watch(fd, watch)
    }

    /// Every event queued now; empty when there is none (never blocks).
    public func read() throws(SystemError) -> [Event] {
        var events: [Event] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN { return events }
                throw SystemError(call: "read", errno: code, subject: "inotify")
            }
            if count == 0 { return events }
            events += Inotify.parse(buffer[0..<count])
        }
    }

    /// Decodes a buffer of `struct inotify_event` records (wd, mask, cookie,
    /// len, then len bytes of NUL-padded name). A truncated record ends the list.
    public static func parse<Bytes: Collection>(_ bytes: Bytes) -> [Event] where Bytes.Element == UInt8, Bytes.Index == Int {
        var events: [Event] = []
        var offset = bytes.startIndex
        func word(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        while bytes.endIndex - offset >= 16 {
            let length = Int(word(offset + 12))
            guard length <= bytes.endIndex - offset - 16 else { break }
            let nameBytes = bytes[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }
            events.append(
                Event(
                    watch: Int32(bitPattern: word(offset)), mask: word(offset + 4), cookie: word(offset + 8),
                    name: String(decoding: nameBytes, as: UTF8.self)))
            offset += 16 + length
        }
        return events
    }
}
