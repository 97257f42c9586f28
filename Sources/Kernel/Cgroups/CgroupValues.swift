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

    // MARK: v1

    /// cpu.shares from a v2-style weight, as systemd converts: weight * 1024 / 100, at least 2.
    public static func v1Shares(weight: Int) -> Int { max(2, weight * 1024 / 100) }

    /// The weight a v1 cpu.shares value stands for (rounded), so that reading
    /// back never shows as drift.
    public static func weight(fromShares shares: Int) -> Int {
        max(1, min(10_000, (shares * 100 + 512) / 1024))
    }

    /// blkio.weight (10-1000) from an io weight (1-10000).
    public static func v1BlkioWeight(_ weight: Int) -> Int { max(10, min(1000, weight / 10)) }

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
