import CLinux

#if canImport(Glibc)
    import Glibc
#endif

extension Syscall {
    /// mount(2) of an overlay on `target` in berth's own mount namespace
    /// (a restore's root; the container's namespace keeps its own copy).
    /// Not idempotent: a second call stacks another overlay.
    public static func mountOverlay(lower: String, upper: String, work: String, on target: String) throws(SystemError) {
        let options = "lowerdir=\(lower),upperdir=\(upper),workdir=\(work)"
        guard berth_mount("overlay", target, "overlay", 0, options) == 0 else {
            throw SystemError(call: "mount", errno: errno, subject: "overlay on \(target)")
        }
    }

    /// umount2(2) with MNT_DETACH: gone from this namespace at once, freed
    /// when nothing uses it. Idempotent only in effect (EINVAL when nothing
    /// is mounted there).
    public static func detachMount(_ target: String) throws(SystemError) {
        guard berth_umount(target, Int32(MNT_DETACH)) == 0 else { throw SystemError(call: "umount2", errno: errno, subject: target) }
    }
}
