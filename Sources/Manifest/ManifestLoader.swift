import Foundation
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
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                result.errors.append(fileError(path, "no such file or directory"))
                continue
            }
            if isDirectory.boolValue {
                do {
                    let names = try FileManager.default.contentsOfDirectory(atPath: path)
                    let selected = names.filter(ManifestLoader.isManifestName).sorted()
                    let base = path.hasSuffix("/") ? String(path.dropLast()) : path
                    for name in selected {
                        let file = base + "/" + name
                        var childIsDirectory: ObjCBool = false
                        if !FileManager.default.fileExists(atPath: file, isDirectory: &childIsDirectory) {
                            // A dangling symlink or a loop: never skip silently, or its
                            // objects would vanish from the desired state.
                            result.errors.append(fileError(file, "cannot read: broken symbolic link or missing file"))
                        } else if !childIsDirectory.boolValue {
                            files.append(file)
                        }
                    }
                } catch {
                    result.errors.append(fileError(path, "cannot list directory: \(error.localizedDescription)"))
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

    private func read(_ file: String, into errors: inout [ManifestError]) -> Data? {
        // Only regular files (after following symlinks): a FIFO or a device
        // would block or never end.
        let values = try? URL(fileURLWithPath: file).resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
        guard values?.isRegularFile == true else {
            errors.append(fileError(file, "not a regular file"))
            return nil
        }
        if let size = values?.fileSize, size > limits.maxFileBytes {
            errors.append(fileError(file, "file is \(size) bytes, over the limit of \(limits.maxFileBytes)"))
            return nil
        }
        guard let handle = FileHandle(forReadingAtPath: file) else {
            errors.append(fileError(file, "cannot open file"))
            return nil
        }
        defer { try? handle.close() }
        do {
            // Size checked before reading: read at most one byte past the cap.
            let data = try handle.read(upToCount: limits.maxFileBytes + 1) ?? Data()
            if data.count > limits.maxFileBytes {
                errors.append(fileError(file, "file is larger than the limit of \(limits.maxFileBytes) bytes"))
                return nil
            }
            return data
        } catch {
            errors.append(fileError(file, "cannot read file: \(error.localizedDescription)"))
            return nil
        }
    }

    private func fileError(_ file: String, _ message: String) -> ManifestError {
        ManifestError(location: SourceLocation(file: file, line: 1, column: 1), fieldPath: "", message: message)
    }
}
