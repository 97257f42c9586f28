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
        // A log just over the cap is kept whole; one far over it (it grew
        // while no agent ran) keeps its last four caps' worth.
        let (limit, overflow) = policy.maxSize.bytes.multipliedReportingOverflow(by: 4)
        try rotate(keep: policy.rotatedFiles, keepingAtMost: overflow ? .max : limit)
        return true
    }

    /// console.log → console.log.1 (a copy of at most its last
    /// `keepingAtMost` bytes, a block at a time: a log that grew while no
    /// agent ran costs no memory), then console.log truncated.
    func rotate(keep: Int, keepingAtMost limit: UInt64 = .max) throws(SystemError) {
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
            let size = UInt64(max(0, Syscall.version(path)?.size ?? 0))
            let staging = rotated(1) + ".new"
            let copy = try Syscall.open(staging, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode: 0o640)
            var position = size - min(size, limit)
            do {
                var block = [UInt8](repeating: 0, count: 1 << 20)
                while position < size {
                    let count = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, Int(size - position)), off_t(position)) }
                    guard count > 0 else { break }
                    try Syscall.writeAll(copy, Array(block.prefix(count)), subject: staging)
                    position += UInt64(count)
                }
            } catch {
                Syscall.close(copy)
                throw error
            }
            Syscall.close(copy)
            try Syscall.rename(staging, rotated(1))
        }
        guard ftruncate(fd, 0) == 0 else { throw SystemError(call: "ftruncate", errno: errno, subject: path) }
    }

    /// The last `lines` lines across the files, oldest first: read backwards
    /// from the end a block at a time, so a log that grew large without an
    /// agent to rotate it costs only what is printed.
    /// `upTo`: read console.log only up to this offset (where a follow
    /// then starts, so that no line is printed twice).
    public func tail(_ lines: Int, upTo limit: Int? = nil) -> [UInt8] {
        guard lines > 0 else { return [] }
        var collected: [UInt8] = []
        var newlines = 0
        // The newline that ends the very last line does not start another.
        var atTheEnd = true
        for file in files().reversed() {
            guard let fd = try? Syscall.open(file, O_RDONLY | O_CLOEXEC) else { continue }
            defer { Syscall.close(fd) }
            var end = Int(Syscall.version(file)?.size ?? 0)
            if file == path, let limit { end = min(end, limit) }
            while end > 0 {
                let start = max(0, end - 65536)
                var block = [UInt8](repeating: 0, count: end - start)
                let count = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
                guard count == end - start else { break }
                var index = block.count - 1
                if atTheEnd, block.last == UInt8(ascii: "\n") { index -= 1 }
                atTheEnd = false
                while index >= 0 {
                    if block[index] == UInt8(ascii: "\n") {
                        newlines += 1
                        if newlines == lines { return Array(block[(index + 1)...]) + collected }
                    }
                    index -= 1
                }
                collected = block + collected
                end = start
            }
        }
        return collected
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
