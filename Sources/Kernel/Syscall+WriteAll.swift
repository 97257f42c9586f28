#if canImport(Glibc)
    import Glibc
#endif

extension Syscall {
    /// write(2) until every byte is written (a pipe or terminal takes a
    /// large write in parts). EINTR is retried. Not idempotent.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], subject: String = "stdout") throws(SystemError) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let written = try retrying("write", subject) { rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
            guard written > 0 else { throw SystemError(call: "write", errno: EIO, subject: subject) }
            rest = rest.dropFirst(written)
        }
    }
}
