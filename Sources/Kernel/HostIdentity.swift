import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// The identity of the machine berth runs on, as the kernel reports it.
public enum HostIdentity {
    /// gethostname(2). Idempotent.
    public static func hostname() throws(SystemError) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let result = buffer.withUnsafeMutableBufferPointer { pointer -> Int32 in
            guard let base = pointer.baseAddress else { return -1 }
            return berth_gethostname(base, pointer.count)
        }
        if result != 0 {
            throw SystemError(call: "gethostname", errno: errno)
        }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// This boot's random ID (/proc/sys/kernel/random/boot_id), or nil;
    /// read once.
    public static let bootID: String? = (try? Syscall.readFile("/proc/sys/kernel/random/boot_id", limit: 64))
        .flatMap { String(decoding: $0, as: UTF8.self).split(whereSeparator: \.isWhitespace).first.map(String.init) }

    /// The running kernel's release (/proc/sys/kernel/osrelease, as
    /// `uname -r` prints it), or "unknown" when it cannot be read.
    public static func kernelRelease() -> String {
        guard let bytes = try? Syscall.readFile("/proc/sys/kernel/osrelease", limit: 256) else { return "unknown" }
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first ?? ""
        let release = line.drop(while: blank).reversed().drop(while: blank).reversed()
        return release.isEmpty ? "unknown" : String(release)
    }

    /// The machine's memory (sysconf _SC_PHYS_PAGES × page size) and
    /// online CPUs (_SC_NPROCESSORS_ONLN). Idempotent.
    public static func capacity() -> (memoryBytes: UInt64, cpus: Int) {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return (0, max(0, sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
        let (bytes, overflow) = UInt64(pages).multipliedReportingOverflow(by: UInt64(size))
        return (overflow ? UInt64.max : bytes, max(0, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}
