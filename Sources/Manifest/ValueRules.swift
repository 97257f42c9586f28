import Model

/// The value rules that `berth validate` applies to manifest fields and
/// `berth run` to the flags that fill the same fields, in one place. The
/// Reader reports a broken rule at its node, the CLI at its option, so each
/// message reads after either prefix: "spec.resources.cpu.limit: must be at
/// least 1m …" and "--cpus: must be at least 1m …".
package enum ValueRules {
    /// The built-in templates. Runtime holds the other copy, the names it can
    /// build (`TemplateStore.path(of:logger:)` in Sources/Runtime/TemplateStore.swift),
    /// out of Manifest's reach: a name added there must be added here.
    package static let builtInTemplates = ["busybox"]

    /// The least CPU limit: zero would stop the container; 1m berth
    /// represents exactly by scaling the CFS period.
    package static let minimumCPULimit = CPUQuantity(millicores: 1)

    /// The least memory.max: what a container's init needs to start.
    package static let minimumMemoryMax = ByteSize(bytes: 4 << 20)

    /// pids.max: at least one process, at most the kernel's PID_MAX_LIMIT.
    package static let pidsMax: ClosedRange<Int64> = 1...4_194_304
    /// numtcpsock: nftables' ct count takes a 32-bit limit; 16Mi is far past
    /// any conntrack table.
    package static let numtcpsock: ClosedRange<Int64> = 1...16_777_216
    /// numpty: devpts' max= takes at most NR_UNIX98_PTY_MAX (1 << 20).
    package static let numpty: ClosedRange<Int64> = 1...1_048_576
    /// numfile: RLIMIT_NOFILE past fs.nr_open (1048576 by default) is refused.
    package static let numfile: ClosedRange<Int64> = 1...1_048_576

    package static func checkTemplate(_ name: String) throws(ValueError) {
        guard builtInTemplates.contains(name) else {
            throw ValueError(
                "unknown template '\(name)'",
                hint: Suggest.closest(to: name, in: builtInTemplates).map { "did you mean '\($0)'?" }
                    ?? "built in: \(builtInTemplates.joined(separator: ", "))")
        }
    }

    /// A path-typed value: no control characters (a double-quoted "\n" or
    /// "\t" gets past the file's byte check, and a path holding one is never
    /// what was meant), then absolute and clean.
    package static func checkPath(_ path: String) throws(ValueError) {
        try checkNoControlCharacters(path)
        try Names.checkAbsolutePath(path)
    }

    /// Refuses control characters (C0, DEL, C1, U+2028, U+2029), quoting the
    /// value escaped.
    package static func checkNoControlCharacters(_ path: String) throws(ValueError) {
        guard let control = path.unicodeScalars.first(where: TextCheck.isControl) else { return }
        throw ValueError(
            "path '\(TextCheck.escaped(path))' contains the control character \(TextCheck.escaped(String(control)))")
    }

    package static func checkCPULimit(_ limit: CPUQuantity) throws(ValueError) {
        guard limit >= minimumCPULimit else {
            throw ValueError("must be at least \(minimumCPULimit) (one thousandth of a CPU)")
        }
    }

    /// `written` is the value as the user wrote it ("2Mi", "0.5Mi"), quoted
    /// in the message; nil quotes it in berth's spelling.
    package static func checkMemoryMax(_ max: ByteSize, written: String?) throws(ValueError) {
        guard max >= minimumMemoryMax else {
            throw ValueError("\(written ?? max.description) is below the \(minimumMemoryMax) a container's init needs to start")
        }
    }

    /// An inode limit leaves room for the private layer's own directories
    /// (upper, work and overlayfs's work/work and index).
    package static let diskInodes: ClosedRange<Int64> = 16...Int64(UInt32.max)

    /// A disk image smaller than this leaves ext4's own structures (its
    /// journal, its inode tables) little room for files.
    package static let minimumDiskSize = ByteSize(bytes: 16 << 20)

    package static func checkDiskSize(_ size: ByteSize, written: String?) throws(ValueError) {
        guard size >= minimumDiskSize else {
            throw ValueError("\(written ?? size.description) is below the \(minimumDiskSize) a disk image needs (ext4's journal and inode tables)")
        }
        guard size.bytes % 1024 == 0 else {
            throw ValueError("\(written ?? size.description) is not a whole number of KiB (write it as Ki, Mi or Gi)")
        }
    }

    package static func checkPidsMax(_ count: Int64) throws(ValueError) {
        guard pidsMax.contains(count) else {
            throw ValueError("\(count) is out of range (\(pidsMax.lowerBound)-\(pidsMax.upperBound))")
        }
    }
}
