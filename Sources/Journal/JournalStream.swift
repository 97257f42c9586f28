import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// Whether stderr already goes to the journal: systemd sets JOURNAL_STREAM
/// to the device and inode ("8:12345") of the stream it connects a service's
/// stdout and stderr to (systemd.exec(5)). Then an event printed to stderr
/// as well as sent to journald would be in the journal twice.
public enum JournalStream {
    public static var isStandardError: Bool {
        guard let value = getenv("JOURNAL_STREAM") else { return false }
        return matches(String(cString: value), Syscall.inode("/proc/self/fd/2"))
    }

    /// JOURNAL_STREAM's "DEVICE:INODE" (decimal) against stderr's stat.
    static func matches(_ value: String, _ stream: (device: UInt64, inode: UInt64)?) -> Bool {
        let parts = value.split(separator: ":")
        guard let stream, parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        return device == stream.device && inode == stream.inode
    }
}
