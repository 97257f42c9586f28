import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif
import Model

/// Reads manifest files and directories into decoded documents, collecting
/// every error instead of stopping at the first.
public struct ManifestLoader: Sendable {
    public var limits: ParseLimits

    public init(limits: ParseLimits = .default) { self.limits = limits }

    public struct Result: Sendable {
        public var documents: [ManifestDocument] = []
        public var errors: [ManifestError] = []
        /// The files that were read, in order.
        public var files: [String] = []
    }

    /// Loads files and directories. A directory contributes its `*.yaml` and
    /// `*.yml` files, not recursively, in name order, skipping hidden files.
    public func load(paths: [String]) -> Result {
        var result = Result()
        var files: [String] = []
        for path in paths {
            guard let kind = ManifestLoader.kind(path) else {
                result.errors.append(fileError(path, "no such file or directory"))
                continue
            }
            if kind == S_IFDIR {
                do {
                    let names = try FileManager.default.contentsOfDirectory(atPath: path)
                    let selected = names.filter(ManifestLoader.isManifestName).sorted()
                    let base = path.hasSuffix("/") ? String(path.dropLast()) : path
                    for name in selected {
                        let file = base + "/" + name
                        let childKind = ManifestLoader.kind(file)
                        if childKind == nil {
                            // A dangling symlink or a loop: never skip silently, or its
                            // objects would vanish from the desired state.
                            result.errors.append(fileError(file, "cannot read: broken symbolic link or missing file"))
                        } else if childKind != S_IFDIR {
                            files.append(file)
                        }
                    }
                } catch {
                    result.errors.append(fileError(path, "cannot list directory: \(error)"))
                }
            } else {
                files.append(path)
            }
        }
        if files.count > limits.maxFiles {
            result.errors.append(fileError(files[limits.maxFiles], "more than \(limits.maxFiles) manifest files"))
            return result
        }
        var totalBytes = 0
        for file in files {
            result.files.append(file)
            guard let data = read(file, into: &result.errors) else { continue }
            totalBytes += data.count
            if totalBytes > limits.maxTotalBytes {
                result.errors.append(fileError(file, "manifests add up to more than \(limits.maxTotalBytes) bytes"))
                return result
            }
            let decoded = ManifestLoader.decode(data, file: file, limits: limits)
            result.documents += decoded.documents
            result.errors += decoded.errors
        }
        result.errors.sort()
        return result
    }

    /// Decodes one file's bytes.
    public static func decode(_ data: Data, file: String, limits: ParseLimits = .default) -> (documents: [ManifestDocument], errors: [ManifestError])
    {
        var composer = Composer(file: file, limits: limits)
        let composed = data.withUnsafeBytes { raw in
            composer.compose(raw.bindMemory(to: UInt8.self))
        }
        var reader = Reader()
        var documents: [ManifestDocument] = []
        documents.reserveCapacity(composed.count)
        for document in composed {
            if let decoded = reader.document(document.root) { documents.append(decoded) }
        }
        // A node the composer already refused (a duplicate key, an unsupported
        // tag) is reported once, not again as a type error.
        let refused = Set(composer.errors.map(\.location))
        var errors = composer.errors + reader.errors.filter { !refused.contains($0.location) }
        if reader.droppedErrors > 0, let last = reader.errors.last {
            errors.append(
                ManifestError(
                    location: last.location, fieldPath: "",
                    message: "\(reader.droppedErrors) more errors in this file not shown"))
        }
        return (documents, errors)
    }

    /// `*.yaml` and `*.yml`, not hidden. Editor backups (`web.yaml~`,
    /// `.web.yaml.swp`, `#web.yaml#`, `web.yaml.bak`) never match.
    public static func isManifestName(_ name: String) -> Bool {
        !name.hasPrefix(".") && !name.hasPrefix("#") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
    }

    /// The file type (S_IFDIR, S_IFREG, ...) after following symlinks; nil
    /// when there is nothing there.
    static func kind(_ path: String) -> mode_t? {
        var info = stat()
        guard fstatat(AT_FDCWD, path, &info, 0) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    private func read(_ file: String, into errors: inout [ManifestError]) -> Data? {
        // Only regular files (after following symlinks): a FIFO or a device
        // would block or never end. O_NONBLOCK keeps even the open from waiting.
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            errors.append(fileError(file, "cannot open file: \(String(cString: strerror(errno)))"))
            return nil
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            errors.append(fileError(file, "not a regular file"))
            return nil
        }
        if Int(info.st_size) > limits.maxFileBytes {
            errors.append(fileError(file, "file is \(info.st_size) bytes, over the limit of \(limits.maxFileBytes)"))
            return nil
        }
        // Size checked before reading: read at most one byte past the cap,
        // into a buffer of the file's size (and one byte, to see it grew),
        // doubled while the file keeps growing. A buffer of the cap itself
        // (16 MiB zero-filled) was most of a one-container apply's manifest
        // load (berth-bench network: "manifest load").
        let cap = limits.maxFileBytes + 1
        var bytes = [UInt8](repeating: 0, count: min(cap, max(4096, Int(info.st_size) + 1)))
        var count = 0
        while count < cap {
            if count == bytes.count { bytes.append(contentsOf: repeatElement(0, count: min(bytes.count, cap - bytes.count))) }
            let got = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress?.advanced(by: count), $0.count - count) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else {
                errors.append(fileError(file, "cannot read file: \(String(cString: strerror(errno)))"))
                return nil
            }
            if got == 0 { break }
            count += got
        }
        if count > limits.maxFileBytes {
            errors.append(fileError(file, "file is larger than the limit of \(limits.maxFileBytes) bytes"))
            return nil
        }
        return Data(bytes[0..<count])
    }

    private func fileError(_ file: String, _ message: String) -> ManifestError {
        ManifestError(location: SourceLocation(file: file, line: 1, column: 1), fieldPath: "", message: message)
    }
}
