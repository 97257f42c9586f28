/// The file values for a set of limits, per cgroup version. Pure: rendering
/// and parsing are unit-tested without root.
public enum CgroupValues {
    // MARK: v2

    /// (file, value) pairs for cgroup v2, in a safe order.
    public static func v2Settings(_ limits: CgroupLimits, memorySwapSupported: Bool = true) -> [(file: String, value: String)] {
        var settings: [(String, String)] = []
        settings.append(("cpu.weight", "\(limits.cpuWeight ?? 100)"))
        settings.append(("cpu.max", "\(limits.cpuQuotaMicros.map(String.init) ?? "max") \(limits.cpuPeriodMicros)"))
        if let cpus = limits.cpus { settings.append(("cpuset.cpus", cpus)) }
        settings.append(("memory.high", limits.memoryHigh.map(String.init) ?? "max"))
        settings.append(("memory.max", limits.memoryMax.map(String.init) ?? "max"))
        if memorySwapSupported { settings.append(("memory.swap.max", limits.swapMax.map(String.init) ?? "max")) }
        settings.append(("pids.max", limits.pidsMax.map(String.init) ?? "max"))
        return settings
    }

    /// io.max lines, one write each: "MAJ:MIN rbps=N wbps=max riops=max wiops=max".
    public static func v2IOMax(_ limit: CgroupLimits.IOLimit) -> String {
        func value(_ number: UInt64?) -> String { number.map(String.init) ?? "max" }
        return "\(limit.major):\(limit.minor) rbps=\(value(limit.readBytesPerSecond)) wbps=\(value(limit.writeBytesPerSecond)) "
            + "riops=\(value(limit.readIOPS)) wiops=\(value(limit.writeIOPS))"
    }

    /// The default weight of an io.weight file ("default 100\n8:0 200").
    public static func v2IOWeight(_ text: String) -> Int? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 && parts[0] == "default" { return Int(parts[1]) }
        }
        return nil
    }

    /// The limits io.max lists, one line per device: "8:0 rbps=1048576 wbps=max riops=max wiops=max".
    public static func v2IOMaxLines(_ text: String) -> [CgroupLimits.IOLimit] {
        var result: [CgroupLimits.IOLimit] = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard let device = parts.first, let numbers = deviceNumbers(device) else { continue }
            var limit = CgroupLimits.IOLimit(major: numbers.major, minor: numbers.minor)
            for part in parts.dropFirst() {
                let pair = part.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { continue }
                let value = pair[1] == "max" ? nil : UInt64(pair[1])
                switch pair[0] {
                case "rbps": limit.readBytesPerSecond = value
                case "wbps": limit.writeBytesPerSecond = value
                case "riops": limit.readIOPS = value
                case "wiops": limit.writeIOPS = value
                default: break
                }
            }
            result.append(limit)
        }
        return result
    }

    /// "8:0" → (8, 0).
    public static func deviceNumbers(_ text: Substring) -> (major: UInt32, minor: UInt32)? {
        let numbers = text.split(separator: ":")
        guard numbers.count == 2, let major = UInt32(numbers[0]), let minor = UInt32(numbers[1]) else { return nil }
        return (major, minor)
    }

    /// v1 throttle files ("8:0 1048576" per line) merged into limits per device.
    public static func v1ThrottleLines(
        readBps: String, writeBps: String, readIOPS: String, writeIOPS: String
    ) -> [CgroupLimits.IOLimit] {
        var byDevice: [String: CgroupLimits.IOLimit] = [:]
        func read(_ text: String, _ set: (inout CgroupLimits.IOLimit, UInt64) -> Void) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 2, let numbers = deviceNumbers(parts[0]), let value = UInt64(parts[1]), value > 0 else { continue }
                var limit = byDevice[String(parts[0])] ?? CgroupLimits.IOLimit(major: numbers.major, minor: numbers.minor)
                set(&limit, value)
                byDevice[String(parts[0])] = limit
            }
        }
        read(readBps) { $0.readBytesPerSecond = $1 }
        read(writeBps) { $0.writeBytesPerSecond = $1 }
        read(readIOPS) { $0.readIOPS = $1 }
        read(writeIOPS) { $0.writeIOPS = $1 }
        return byDevice.keys.sorted().compactMap { byDevice[$0] }
    }

    // MARK: v1

    // MARK: Parsing

    /// "max" → nil, a number → the number; anything else is malformed.
    public static func parseMax(_ text: String) -> UInt64?? {
        let trimmed = trimmed(text)
        if trimmed == "max" { return .some(nil) }
        guard let value = UInt64(trimmed) else { return nil }
        return .some(value)
    }

    /// Values of a flat-keyed file (memory.events, pids.events, cpu.stat).
    public static func keyed(_ text: String) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = UInt64(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }

    public static func trimmed(_ text: String) -> String {
        var slice = Substring(text)
        while let last = slice.last, last == "\n" || last == " " { slice = slice.dropLast() }
        return String(slice)
    }

    /// A value berth writes to a cgroup file: printable ASCII, no newline,
    /// spaces only inside (cpu.max, io.max). One write(2) takes it whole.
    public static func isWritable(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard let first = bytes.first, let last = bytes.last, first != 0x20, last != 0x20, bytes.count <= 4096 else {
            return false
        }
        return bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
    }
}
