import CCap

/// A set of capabilities by number, named through libcap.
public struct CapabilitySet: Hashable, Sendable {
    public var mask: UInt64

    public init(mask: UInt64) { self.mask = mask }

    /// What hardened runtimes keep by default (runc's list): no CAP_SYS_ADMIN,
    /// CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_NET_ADMIN, ...
    public static let defaultNames = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    public static func number(of name: String) throws(SystemError) -> Int {
        var value = cap_value_t()
        guard cap_from_name(name.lowercased(), &value) == 0, value >= 0, value < 64 else {
            throw SystemError(call: "cap_from_name", errno: 22, subject: name)
        }
        return Int(value)
    }

    /// The default set with `add` and `drop` applied ("ALL" drops everything).
    public static func resolve(add: [String], drop: [String], privileged: Bool) throws(SystemError) -> CapabilitySet {
        if privileged { return CapabilitySet(mask: allKnown) }
        var mask: UInt64 = 0
        for name in defaultNames { mask |= 1 << UInt64(try number(of: name)) }
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
