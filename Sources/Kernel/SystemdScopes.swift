import CLibraries

#if canImport(Glibc)
    import Glibc
#endif

/// A container's transient scope as the systemd cgroup driver asks systemd
/// for it (StartTransientUnit): delegated, so the tree below it is berth's;
/// no task limit of systemd's; collected once empty; the container's cpu
/// and io weights (systemd owns the scope's own files). Pure: checked
/// before any bus is opened.
public struct TransientScope: Equatable, Sendable {
    /// What systemd writes when it has no weight of berth's (its default, 100).
    public static let defaultWeight: UInt64 = .max
    public var unit: String
    public var slice: String
    public var description: String
    public var pid: UInt32
    public var cpuWeight: UInt64
    public var ioWeight: UInt64

    /// Nil unless `unit` is a `.scope` and `slice` a `.slice` name systemd
    /// takes (letters, digits, `-`, `_`, at most 255 bytes) and the weights
    /// are in 1...10000.
    public init?(unit: String, slice: String, description: String, pid: Int32, cpuWeight: Int?, ioWeight: Int?) {
        func isUnitName(_ name: String, _ suffix: String) -> Bool {
            let bytes = Array(name.utf8)
            return name.hasSuffix(suffix) && bytes.count > suffix.utf8.count && bytes.count <= 255
                && bytes.allSatisfy {
                    ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f
                        || $0 == 0x2e
                }
        }
        func weight(_ value: Int?) -> UInt64? {
            guard let value else { return TransientScope.defaultWeight }
            return (1...10000).contains(value) ? UInt64(value) : nil
        }
        guard isUnitName(unit, ".scope"), isUnitName(slice, ".slice"), pid > 0, let cpu = weight(cpuWeight), let io = weight(ioWeight)
        else { return nil }
        self.unit = unit
        self.slice = slice
        self.description = description
        self.pid = UInt32(pid)
        self.cpuWeight = cpu
        self.ioWeight = io
    }
}

/// systemd's manager (org.freedesktop.systemd1) over the system bus, with
/// libsystemd's sd-bus (the calls are in CLibraries, as machined's).
public enum SystemdScopes {
    public static func start(_ scope: TransientScope) throws(Machined.Failure) {
        var error = [CChar](repeating: 0, count: 512)
        let result = berth_systemd_start_scope(
            scope.unit, scope.slice, scope.description, scope.pid, scope.cpuWeight, scope.ioWeight, &error, error.count)
        if result < 0 { throw Machined.Failure(code: result, message: Machined.text(error)) }
    }

    /// CPUWeight= and IOWeight= of a running scope, live (nil: systemd's default).
    public static func setWeights(_ unit: String, cpu: Int?, io: Int?) throws(Machined.Failure) {
        var error = [CChar](repeating: 0, count: 512)
        let result = berth_systemd_set_weights(
            unit, cpu.map { UInt64(clamping: $0) } ?? TransientScope.defaultWeight, io.map { UInt64(clamping: $0) } ?? TransientScope.defaultWeight,
            &error, error.count)
        if result < 0 { throw Machined.Failure(code: result, message: Machined.text(error)) }
    }

    /// Stops the scope; one systemd no longer has (it ended with its last
    /// process and was collected) is fine.
    public static func stop(_ unit: String) throws(Machined.Failure) {
        var error = [CChar](repeating: 0, count: 512)
        let result = berth_systemd_stop_unit(unit, &error, error.count)
        let message = Machined.text(error)
        if result < 0 && !message.contains("org.freedesktop.systemd1.NoSuchUnit") {
            throw Machined.Failure(code: result, message: message)
        }
    }

    /// The manager's own cgroup, relative to the hierarchy's root without
    /// the leading slash ("" for PID 1; a user manager's is its service's).
    public static func managerCgroup() throws(Machined.Failure) -> String {
        var error = [CChar](repeating: 0, count: 512)
        var group = [CChar](repeating: 0, count: 4096)
        let result = berth_systemd_control_group(&group, group.count, &error, error.count)
        if result < 0 { throw Machined.Failure(code: result, message: Machined.text(error)) }
        return String(Machined.text(group).drop { $0 == "/" })
    }
}
