import Kernel
import Model

#if canImport(Glibc)
    import Glibc
#endif

/// A container's console log: its init's stdout and stderr, which the kernel
/// appends to STATE/containers/NAME/console.log (the init holds the file
/// open with O_APPEND; no process of berth's sits in between). Kept under a
/// size cap by copy-and-truncate rotation, as logrotate's copytruncate:
/// the text goes to console.log.1 (older ones shift to .2, ...), then
/// console.log is truncated, and the init's next write lands at its start.
/// A line written between the copy and the truncation can be lost.
public struct ConsoleLogFiles: Sendable {
    /// console.log.
    public let path: String

    public init(path: String) { self.path = path }

    /// How large console.log may grow and how many rotated files are kept.
    public struct Policy: Equatable, Sendable {
        public var maxSize: ByteSize
        public var rotatedFiles: Int
        public init(maxSize: ByteSize = ByteSize(bytes: 10 << 20), rotatedFiles: Int = 3) {
            self.maxSize = maxSize
            self.rotatedFiles = rotatedFiles
        }
    }

    func rotated(_ index: Int) -> String { "\(path).\(index)" }

    /// The files that exist, oldest first (console.log.N ... .1, console.log).
    public func files(keep: Int = 100) -> [String] {
        var files: [String] = []
        for index in 1...max(1, keep) {
            guard Syscall.exists(rotated(index)) else { break }
            files.insert(rotated(index), at: 0)
        }
        if Syscall.exists(path) { files.append(path) }
        return files
    }

    /// Rotates when console.log is over the cap; whether it did.
    @discardableResult
    public func rotateIfNeeded(_ policy: Policy) throws(SystemError) -> Bool {
        guard let size = Syscall.version(path)?.size, UInt64(max(0, size)) > policy.maxSize.bytes else { return false }
        try rotate(keep: policy.rotatedFiles)
        return true
    }

    /// console.log → console.log.1 (a copy), then console.log truncated.
    func rotate(keep: Int) throws(SystemError) {
        if keep > 0 {
            try Syscall.removeFile(rotated(keep), missingOK: true)
            if keep > 1 {
                for index in stride(from: keep - 1, through: 1, by: -1) where Syscall.exists(rotated(index)) {
                    try Syscall.rename(rotated(index), rotated(index + 1))
                }
            }
        }
        let fd = try Syscall.open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        defer { Syscall.close(fd) }
        if keep > 0 {
            let bytes = try Syscall.readAll(fd, upTo: Int.max, subject: path)
            try Syscall.writeAtomically(bytes, to: rotated(1), mode: 0o640, durable: false)
        }
        guard ftruncate(fd, 0) == 0 else { throw SystemError(call: "ftruncate", errno: errno, subject: path) }
    }

    /// The last `lines` lines (all with nil) across the files, oldest first.
    public func tail(_ lines: Int?) -> [UInt8] {
        var text: [UInt8] = []
        for file in files() { text += (try? Syscall.readFile(file, limit: Int.max)) ?? [] }
        guard let lines else { return text }
        var newlines = 0
        var start = text.count
        // A final line without a newline counts as a line.
        var index = text.count - 1
        if index >= 0 && text[index] == UInt8(ascii: "\n") { index -= 1 }
        while index >= 0 {
            if text[index] == UInt8(ascii: "\n") {
                newlines += 1
                if newlines == lines { break }
            }
            start = index
            index -= 1
        }
        if lines <= 0 { return [] }
        return Array(text[start...])
    }

    /// What console.log holds from `offset` on (at most `limit` bytes) and the
    /// offset after it; from 0 again when it was truncated (rotated) since.
    public func read(from offset: Int, limit: Int = 1 << 20) -> (bytes: [UInt8], next: Int) {
        guard let size = Syscall.version(path)?.size else { return ([], offset) }
        let start = Int(size) < offset ? 0 : offset
        guard Int(size) > start, let fd = try? Syscall.open(path, O_RDONLY | O_CLOEXEC) else { return ([], start) }
        defer { Syscall.close(fd) }
        var buffer = [UInt8](repeating: 0, count: min(limit, Int(size) - start))
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        guard count > 0 else { return ([], start) }
        return (Array(buffer.prefix(count)), start + count)
    }
}

extension ContainerRuntime {
    public func consoleLog(_ name: String) -> ConsoleLogFiles {
        ConsoleLogFiles(path: state.containerDirectory(name) + "/console.log")
    }

    /// Rotates every container's console log that is over the cap (the agent
    /// does this every few seconds).
    public func rotateConsoleLogs(_ policy: ConsoleLogFiles.Policy) {
        for name in state.names() { _ = try? consoleLog(name).rotateIfNeeded(policy) }
    }
}
