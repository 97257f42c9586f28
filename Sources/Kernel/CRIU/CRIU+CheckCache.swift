#if canImport(Glibc)
    import Glibc
#endif

/// `criu check` once per boot and criu binary. Each CRIU request is a new
/// `criu swrk`, and a check is a process of its own that probes the kernel
/// at length: under qemu without KVM a check and a version request cost
/// seconds before every dump, pre-dump and restore (in migrate's freeze,
/// twice). What a check finds cannot change until the kernel or criu does,
/// so a passing check is recorded, with CRIU's version, keyed by the boot
/// id and the criu binary's version (device, inode, size, mtime); a failing
/// one is never recorded, so where CRIU cannot work every command still
/// says "criu check failed" (the VM lane's CheckpointTCPTests and
/// MigrateTests step times show the saving; kept while CRIU has no RPC
/// request cheaper than a full check).
extension CRIU {
    /// The record's key: this boot and this criu binary.
    static func checkKey(bootID: String, program: String, binary: Syscall.FileVersion) -> String {
        "boot \(bootID) criu \(program) \(binary.device):\(binary.inode):\(binary.size):\(binary.modified)"
    }

    /// The version a record `text` holds when its key is `key` (its first
    /// line), else nil.
    static func recordedVersion(_ text: String, key: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines[0] == key, !lines[1].isEmpty else { return nil }
        return String(lines[1])
    }

    /// CRIU's version, once CRIU's check passes here: from the record at
    /// `cache` when it is this boot's and this criu's, else by a check and
    /// a version request (the record written after). Throws "criu check
    /// failed: ..." as `check()` does.
    public func checkedVersion(cache: String) throws -> String {
        let key = CRIUSession.program.flatMap { program in
            Syscall.version(program).flatMap { binary in
                HostIdentity.bootID.map { CRIU.checkKey(bootID: $0, program: program, binary: binary) }
            }
        }
        if let key, let bytes = try? Syscall.readFile(cache, limit: 4096),
            let version = CRIU.recordedVersion(String(decoding: bytes, as: UTF8.self), key: key)
        {
            return version
        }
        try check()
        let version = try self.version().description
        // Best effort: without the record the next command checks again.
        if let key { try? Syscall.writeAtomically(Array((key + "\n" + version + "\n").utf8), to: cache, durable: false) }
        return version
    }
}
