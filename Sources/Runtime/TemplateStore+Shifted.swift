import FoundationEssentials
import Kernel
import Logging
import Model

#if canImport(Glibc)
    import Glibc
#endif

extension TemplateStore {
    /// A copy of `lower` whose owners are shifted into a user namespace's
    /// host ids (uid u becomes the host id the map gives u), made once per
    /// lower layer and map and shared by every container with that map:
    /// inside, the files belong to the container's root, and overlay
    /// copy-up works. Ids the map does not cover become its nobody (65534).
    public func shifted(_ lower: String, uidMap: [IDRange], gidMap: [IDRange], logger: Logger) throws -> String {
        let key =
            "\(lower)|"
            + (uidMap + [IDRange(containerID: 0, hostID: 0, size: 0)] + gidMap)
            .map { "\($0.containerID):\($0.hostID):\($0.size)" }.joined(separator: ",")
        let path = directory + "/shifted-" + FNV1a.hex64(key)
        if Syscall.exists(path + "/.berth-shifted") { return path }
        let files = FileManager.default
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let staging = "\(directory)/.shifted-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? files.removeItem(atPath: staging) }
        let shift = IDShift(uidMap: uidMap, gidMap: gidMap)
        try shift.copy(lower, to: staging)
        try Syscall.writeAtomically(Array(key.utf8), to: staging + "/.berth-shifted", mode: 0o600)
        if try publish(staging, at: path, complete: path + "/.berth-shifted") {
            logger.info("template shifted for a user namespace", metadata: ["lower": "\(lower)", "path": "\(path)"])
        }
        return path
    }
}

/// Host ids for container ids through a user namespace's maps.
public struct IDShift: Sendable {
    public var uidMap: [IDRange]
    public var gidMap: [IDRange]

    public init(uidMap: [IDRange], gidMap: [IDRange]) {
        self.uidMap = uidMap
        self.gidMap = gidMap
    }

    /// The host id for `id`, or nil when the map does not cover it.
    public static func host(_ id: UInt32, in map: [IDRange]) -> UInt32? {
        for range in map where id >= range.containerID && UInt64(id) < UInt64(range.containerID) + UInt64(range.size) {
            return range.hostID + (id - range.containerID)
        }
        return nil
    }

    /// The container id for host id `id`, or nil when the map does not
    /// cover it.
    public static func container(_ id: UInt32, in map: [IDRange]) -> UInt32? {
        for range in map where id >= range.hostID && UInt64(id) < UInt64(range.hostID) + UInt64(range.size) {
            return range.containerID + (id - range.hostID)
        }
        return nil
    }

    func uid(_ id: UInt32) -> UInt32 { IDShift.host(id, in: uidMap) ?? IDShift.host(65534, in: uidMap) ?? UInt32(65534) }
    func gid(_ id: UInt32) -> UInt32 { IDShift.host(id, in: gidMap) ?? IDShift.host(65534, in: gidMap) ?? UInt32(65534) }

    /// Copies the tree at `source` to `target` (which must not exist):
    /// directories, files, symlinks, device nodes and fifos, with modes and
    /// shifted owners. Symlinks are copied as links, never followed.
    func copy(_ source: String, to target: String) throws {
        var info = stat()
        guard lstat(source, &info) == 0 else { throw SystemError(call: "lstat", errno: errno, subject: source) }
        let mode = info.st_mode & 0o7777
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            guard mkdir(target, 0o700) == 0 else { throw SystemError(call: "mkdir", errno: errno, subject: target) }
            for name in try FileManager.default.contentsOfDirectory(atPath: source) {
                try copy(source + "/" + name, to: target + "/" + name)
            }
        case S_IFREG:
            let input = try Syscall.open(source, O_RDONLY)
            defer { Syscall.close(input) }
            let output = try Syscall.open(target, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            defer { Syscall.close(output) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count >= 0 else { throw SystemError(call: "read", errno: errno, subject: source) }
                if count == 0 { break }
                try Syscall.writeOnce(output, Array(buffer[0..<count]), subject: target)
            }
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: 4097)
            let count = readlink(source, &buffer, 4096)
            guard count >= 0 else { throw SystemError(call: "readlink", errno: errno, subject: source) }
            let destination = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            try Syscall.symlink(destination, at: target)
            guard lchown(target, uid(info.st_uid), gid(info.st_gid)) == 0 else {
                throw SystemError(call: "lchown", errno: errno, subject: target)
            }
            return
        case S_IFCHR, S_IFBLK, S_IFIFO:
            guard mknod(target, (info.st_mode & S_IFMT) | 0o600, info.st_rdev) == 0 else {
                throw SystemError(call: "mknod", errno: errno, subject: target)
            }
        default:
            return  // sockets: nothing to keep
        }
        // Owner first, then the mode: chown clears set-id bits.
        guard lchown(target, uid(info.st_uid), gid(info.st_gid)) == 0 else {
            throw SystemError(call: "lchown", errno: errno, subject: target)
        }
        guard chmod(target, mode) == 0 else { throw SystemError(call: "chmod", errno: errno, subject: target) }
    }
}
