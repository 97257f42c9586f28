import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// A line on a terminal that tells which step of how many runs now
/// ("[3/100] create Container/web3 …"): shown while a step runs (a template
/// unpacked for the first time takes seconds), cleared before the step's
/// result is printed. Only when stderr is a terminal: logs and pipes never
/// get it.
final class ProgressLine {
    let total: Int
    let enabled: Bool
    private var done = 0
    private var shown = false

    /// Wider lines would wrap, and a wrapped line cannot be cleared with \r.
    static let width = 78

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled && isatty(STDERR_FILENO) == 1
    }

    func show(_ step: String) {
        guard enabled else { return }
        var line = "[\(done + 1)/\(total)] \(step)"
        if line.count > ProgressLine.width - 2 { line = String(line.prefix(ProgressLine.width - 3)) + "…" }
        Syscall.writeStandardError("\r\u{1B}[K" + line + " …")
        shown = true
    }

    func finished() {
        done += 1
        guard shown else { return }
        Syscall.writeStandardError("\r\u{1B}[K")
        shown = false
    }
}
