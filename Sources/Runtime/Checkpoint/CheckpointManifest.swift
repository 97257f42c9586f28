import FoundationEssentials
import Kernel
import Model

#if canImport(Glibc)
    import Glibc
#endif

/// What a checkpoint's image directory holds, in `berth-checkpoint.json`
/// beside CRIU's images: the container (its record and spec), where it was
/// made (berth, kernel and CRIU versions), what CRIU needs told again on
/// restore (its veths' host ends, descriptors of host files), and the
/// SHA-256 of every other file, so a restore refuses an image that changed.
public struct CheckpointManifest: Codable, Equatable, Sendable {
    public static let fileName = "berth-checkpoint.json"
    /// berth's copy of the container's record, beside the manifest.
    public static let recordFileName = "container.json"
    /// CRIU's link from a dump to the pre-dump it is on top of.
    public static let parentLinkName = "parent"
    public static let currentFormat = 1

    /// A veth whose host end CRIU makes again and puts on its bridge.
    public struct Veth: Codable, Equatable, Sendable {
        public var inside: String
        public var host: String
        public var bridge: String
        public init(inside: String, host: String, bridge: String) {
            self.inside = inside
            self.host = host
            self.bridge = bridge
        }
        /// CRIU's `--external veth[IN]:OUT@BRIDGE`.
        public var external: String { "veth[\(inside)]:\(host)@\(bridge)" }
    }

    /// A descriptor of the container's processes on a host file outside its
    /// mount namespace (its console log, the host's /dev/null): dumped as
    /// external, opened again by berth on restore and handed to CRIU.
    public struct HostFile: Codable, Equatable, Sendable {
        /// CRIU's key: file[MOUNT_ID:INODE] (hex).
        public var key: String
        public var path: String
        /// The open flags (fdinfo), access mode and O_APPEND kept.
        public var flags: Int32
        public init(key: String, path: String, flags: Int32) {
            self.key = key
            self.path = path
            self.flags = flags
        }
    }

    /// The container's disk quota as the host held it at the dump: its
    /// private layer (not in the image directory) stays in that backend,
    /// which a restore on this host adopts again.
    public struct Disk: Codable, Equatable, Sendable {
        public var backend: DiskBackend
        /// The space limit (the image's size, or the project's block limit).
        public var size: UInt64?
        public var inodes: UInt64?
        /// The project ID (project-quota backend).
        public var project: UInt32?
        public init(backend: DiskBackend, size: UInt64?, inodes: UInt64?, project: UInt32?) {
            self.backend = backend
            self.size = size
            self.inodes = inodes
            self.project = project
        }
    }

    public var format = CheckpointManifest.currentFormat
    public var container: String
    public var berthVersion: String
    public var kernel: String
    public var criu: String
    /// The init's pid on the host when it was dumped (inside it is 1).
    public var initPID: Int32
    /// Whether the container kept running after the dump.
    public var leftRunning: Bool
    public var spec: ContainerConfig?
    public var veths: [Veth]
    public var hostFiles: [HostFile]
    /// File name → SHA-256 (hex) of every file of the directory but this manifest.
    public var checksums: [String: String]
    /// Its disk quota (nil: none).
    public var disk: Disk?

    public init(
        container: String, berthVersion: String, kernel: String, criu: String, initPID: Int32, leftRunning: Bool, spec: ContainerConfig?,
        veths: [Veth], hostFiles: [HostFile], checksums: [String: String], disk: Disk? = nil
    ) {
        self.container = container
        self.berthVersion = berthVersion
        self.kernel = kernel
        self.criu = criu
        self.initPID = initPID
        self.leftRunning = leftRunning
        self.spec = spec
        self.veths = veths
        self.hostFiles = hostFiles
        self.checksums = checksums
        self.disk = disk
    }

    /// The SHA-256 of every regular file in `directory` but the manifest;
    /// anything else there (a directory, a link) is refused.
    public static func checksums(of directory: String) throws -> [String: String] {
        var result: [String: String] = [:]
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        for name in names where name != fileName {
            let path = directory + "/" + name
            // A dump on top of a pre-dump (berth migrate) links to it:
            // the link is recorded; the pre-dump's pages are CRIU's to check.
            if name == parentLinkName, let target = Syscall.readLink(path) {
                result[name] = "link " + target
                continue
            }
            guard Syscall.isRegularFile(path) else {
                throw CheckpointError("\(path): not a regular file (an image directory holds only files)")
            }
            result[name] = try checksum(path)
        }
        return result
    }

    /// One file's SHA-256, read in 1 MiB chunks.
    public static func checksum(_ path: String) throws -> String {
        let fd = try Syscall.open(path, O_RDONLY | O_CLOEXEC)
        defer { Syscall.close(fd) }
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try Syscall.read(fd, into: &buffer, subject: path)
            if count == 0 { break }
            hash.update(buffer[0..<count])
        }
        return hash.finalize()
    }

    /// What differs between the checksums recorded and those found, one
    /// line per file; empty when the image is intact.
    public static func mismatches(recorded: [String: String], found: [String: String]) -> [String] {
        var problems: [String] = []
        for (name, sum) in recorded.sorted(by: { $0.key < $1.key }) {
            guard let actual = found[name] else {
                problems.append("\(name): missing")
                continue
            }
            if actual != sum { problems.append("\(name): checksum \(actual) instead of \(sum)") }
        }
        for name in found.keys.sorted() where recorded[name] == nil { problems.append("\(name): not in the manifest") }
        return problems
    }

    /// Reads and checks a directory's manifest: the format is known, it is
    /// for `name`, and every file matches its checksum.
    public static func load(_ directory: String, for name: String) throws -> CheckpointManifest {
        let path = directory + "/" + fileName
        guard Syscall.exists(path) else { throw CheckpointError("\(directory) is not a berth checkpoint (no \(fileName))") }
        let manifest: CheckpointManifest
        do {
            manifest = try JSONDecoder().decode(CheckpointManifest.self, from: Data(try Syscall.readFile(path, limit: 16 << 20)))
        } catch {
            throw CheckpointError("\(path): unreadable manifest: \(error)")
        }
        guard manifest.format == currentFormat else {
            throw CheckpointError("\(path): manifest format \(manifest.format) (this berth reads format \(currentFormat))")
        }
        guard manifest.container == name else {
            throw CheckpointError("\(directory) holds container \(manifest.container), not \(name)")
        }
        let problems = mismatches(recorded: manifest.checksums, found: try checksums(of: directory))
        guard problems.isEmpty else {
            throw CheckpointError("\(directory): the image does not match its manifest: " + problems.joined(separator: "; "))
        }
        return manifest
    }
}

/// A checkpoint or restore berth refuses or could not carry out.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
