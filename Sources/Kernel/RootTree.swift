import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A directory looked at as a container will see it as its root: every path
/// is resolved inside it with openat2(RESOLVE_IN_ROOT), so `..` and absolute
/// symlinks (busybox's `/bin/sh -> /bin/busybox`) stay in the tree and never
/// reach the host's files.
public struct RootTree: Sendable {
    /// What a path names, after following symlinks inside the tree.
    public enum Entry: Equatable, Sendable {
        case missing
        case directory
        /// A regular file with an execute bit (root in the container runs it).
        case executable
        /// A regular file without any execute bit.
        case file
        /// A device, socket or FIFO.
        case other
        /// overlayfs's mark of a deleted file in an upper layer (a character
        /// device 0:0): the path is gone from the merged view.
        case whiteout
    }

    public let root: String

    public init(root: String) { self.root = root }

    /// openat2(2) of `path` as an O_PATH descriptor, with RESOLVE_IN_ROOT |
    /// RESOLVE_NO_MAGICLINKS and O_CLOEXEC. Not idempotent (returns a new fd).
    public static func openat2InRoot(_ rootfd: Int32, _ path: String) throws(SystemError) -> Int32 {
        try Syscall.retrying("openat2", path) { berth_openat2_in_root(rootfd, path) }
    }

    /// What `path` (absolute, as the container writes it) is in the tree.
    /// A missing component, or one that is not a directory, is `missing`;
    /// a symlink loop is an error.
    public func entry(_ path: String) throws(SystemError) -> Entry {
        let rootfd = try Syscall.open(root, O_RDONLY | O_DIRECTORY)
        defer { Syscall.close(rootfd) }
        return try entry(path, rootFD: rootfd)
    }

    /// The same, in the tree's directory opened already (`rootFD`: an
    /// O_RDONLY | O_DIRECTORY descriptor of `root`).
    public func entry(_ path: String, rootFD rootfd: Int32) throws(SystemError) -> Entry {
        let fd: Int32
        do throws(SystemError) {
            fd = try RootTree.openat2InRoot(rootfd, path)
        } catch {
            if error.errno == ENOENT || error.errno == ENOTDIR { return .missing }
            throw SystemError(call: error.call, errno: error.errno, subject: "\(path) in \(root)")
        }
        defer { Syscall.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError(call: "fstat", errno: errno, subject: "\(path) in \(root)") }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return info.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH) != 0 ? .executable : .file
        case S_IFCHR where info.st_rdev == 0: return .whiteout
        default: return .other
        }
    }

    /// Whether `path` is a directory overlayfs made opaque in an upper layer
    /// (xattr trusted.overlay.opaque "y"): what lower layers hold under it
    /// is hidden. False when it is not a directory or cannot be read.
    public func isOpaqueDirectory(_ path: String) -> Bool {
        guard let rootfd = try? Syscall.open(root, O_RDONLY | O_DIRECTORY) else { return false }
        defer { Syscall.close(rootfd) }
        return isOpaqueDirectory(path, rootFD: rootfd)
    }

    /// The same, in the tree's directory opened already.
    public func isOpaqueDirectory(_ path: String, rootFD rootfd: Int32) -> Bool {
        guard let fd = try? RootTree.openat2InRoot(rootfd, path) else { return false }
        defer { Syscall.close(fd) }
        // An O_PATH descriptor takes no fgetxattr: read through /proc.
        var value: [UInt8] = [0, 0]
        let length = berth_fd_getxattr(fd, "trusted.overlay.opaque", &value, UInt(value.count))
        return length == 1 && value[0] == UInt8(ascii: "y")
    }
}
