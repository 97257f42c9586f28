import CLibraries

/// A set of capabilities by number, named through libcap.
public struct CapabilitySet: Hashable, Sendable {
    public var mask: UInt64

    public init(mask: UInt64) { self.mask = mask }

    /// What hardened runtimes keep by default (runc's list): no CAP_SYS_ADMIN,
    /// CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_NET_ADMIN, ... By number: the
    /// numbers are kernel ABI (include/uapi/linux/capability.h), so a
    /// container with the default set needs no libcap at all (a test holds
    /// them equal to libcap's).
    public static let defaults: [(name: String, number: Int)] = [
        ("CAP_CHOWN", 0), ("CAP_DAC_OVERRIDE", 1), ("CAP_FOWNER", 3), ("CAP_FSETID", 4), ("CAP_KILL", 5), ("CAP_SETGID", 6),
        ("CAP_SETUID", 7), ("CAP_SETPCAP", 8), ("CAP_NET_BIND_SERVICE", 10), ("CAP_NET_RAW", 13), ("CAP_SYS_CHROOT", 18),
        ("CAP_MKNOD", 27), ("CAP_AUDIT_WRITE", 29), ("CAP_SETFCAP", 31),
    ]
    public static var defaultNames: [String] { defaults.map(\.name) }

    public static func number(of name: String) throws(SystemError) -> Int {
        var value = cap_value_t()
        guard berth_cap_from_name(name.lowercased(), &value) == 0, value >= 0, value < 64 else {
            throw SystemError(call: "cap_from_name", errno: 22, subject: name)
        }
        return Int(value)
    }

    /// The default set with `add` and `drop` applied ("ALL" drops everything).
    public static func resolve(add: [String], drop: [String], privileged: Bool) throws(SystemError) -> CapabilitySet {
        if privileged { return CapabilitySet(mask: allKnown) }
        var mask: UInt64 = 0
        for (_, number) in defaults { mask |= 1 << UInt64(number) }
        if drop.contains("ALL") { mask = 0 }
        for name in drop where name != "ALL" { mask &= ~(1 << UInt64(try number(of: name))) }
        for name in add { mask |= 1 << UInt64(try number(of: name)) }
        return CapabilitySet(mask: mask)
    }

    /// Every capability this kernel knows (cap_last_cap).
    public static var allKnown: UInt64 {
        let last =
            (try? Syscall.readFile("/proc/sys/kernel/cap_last_cap"))
            .flatMap { Int(CgroupValues.trimmed(String(decoding: $0, as: UTF8.self))) } ?? 40
        return last >= 63 ? UInt64.max : (UInt64(1) << UInt64(last + 1)) - 1
    }
}
