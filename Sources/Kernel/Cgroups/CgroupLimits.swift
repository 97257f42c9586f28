/// Resource limits in the kernel's units, independent of the cgroup version.
/// `nil` means "no limit" (or the default weight): applying limits is
/// declarative, so a field left out is reset, not kept.
public struct CgroupLimits: Hashable, Sendable {
    /// 1-10000 (cgroup v2 cpu.weight). Default 100.
    public var cpuWeight: Int?
    /// CPU time per period, in microseconds; nil is unlimited.
    public var cpuQuotaMicros: UInt64?
    public var cpuPeriodMicros: UInt64 = 100_000
    /// The kernel's list format, canonical ("0-1,3").
    public var cpus: String?
    public var memoryMax: UInt64?
    public var memoryHigh: UInt64?
    /// Swap on top of memory.
    public var swapMax: UInt64?
    public var pidsMax: Int?
    /// 1-10000. Default 100.
    public var ioWeight: Int?
    public var ioLimits: [IOLimit] = []
    /// Devices the group may use; nil leaves the device controller alone.
    public var devices: [DeviceRule]?

    public init() {}

    /// One allow rule, as the v1 devices controller writes it: "c 1:3 rwm".
    public struct DeviceRule: Hashable, Sendable, CustomStringConvertible {
        public enum Kind: Character, Sendable { case char = "c", block = "b" }
        public var kind: Kind
        public var major: UInt32
        /// nil is every minor ("*").
        public var minor: UInt32?
        public var access: String

        public init(kind: Kind, major: UInt32, minor: UInt32?, access: String) {
            self.kind = kind
            self.major = major
            self.minor = minor
            self.access = access
        }

        public var description: String { "\(kind.rawValue) \(major):\(minor.map(String.init) ?? "*") \(access)" }

        /// The nodes every container has (hardened runtimes' list): null, zero,
        /// full, random, urandom, tty, console, ptmx, and the pts.
        public static let standard: [DeviceRule] = [
            DeviceRule(kind: .char, major: 1, minor: 3, access: "rwm"), DeviceRule(kind: .char, major: 1, minor: 5, access: "rwm"),
            DeviceRule(kind: .char, major: 1, minor: 7, access: "rwm"), DeviceRule(kind: .char, major: 1, minor: 8, access: "rwm"),
            DeviceRule(kind: .char, major: 1, minor: 9, access: "rwm"), DeviceRule(kind: .char, major: 5, minor: 0, access: "rwm"),
            DeviceRule(kind: .char, major: 5, minor: 1, access: "rwm"), DeviceRule(kind: .char, major: 5, minor: 2, access: "rwm"),
            DeviceRule(kind: .char, major: 136, minor: nil, access: "rwm"),
        ]
    }

    public struct IOLimit: Hashable, Sendable {
        public var major: UInt32
        public var minor: UInt32
        public var readBytesPerSecond: UInt64?
        public var writeBytesPerSecond: UInt64?
        public var readIOPS: UInt64?
        public var writeIOPS: UInt64?
        public init(major: UInt32, minor: UInt32) {
            self.major = major
            self.minor = minor
        }
    }
}

/// What one cgroup has and uses, read back from its files.
public struct CgroupObservation: Hashable, Sendable {
    /// The limits as the kernel holds them (memory rounded to pages, ...).
    public var limits = CgroupLimits()
    public var memoryCurrent: UInt64?
    public var memoryPeak: UInt64?
    /// How often the memory limit was hit (v1 failcnt, v2 events "max").
    public var memoryFailures: UInt64?
    public var oomKills: UInt64?
    public var pidsCurrent: Int?
    /// How often a fork was refused by pids.max.
    public var pidsFailures: UInt64?
    public var cpuUsageNanos: UInt64?
    public var frozen: Bool = false
    /// memory.stat as keyed numbers (bytes): shmem, unevictable, slab, ...
    public var memoryStat: [String: UInt64] = [:]
    /// Swap in use (v2 memory.swap.current; v1 memsw usage less memory usage).
    public var swapCurrent: UInt64?
    /// v2 memory.swap.peak (kernels since 6.5).
    public var swapPeak: UInt64?
    /// How often swap was refused (v2 memory.swap.events max; v1 memory.memsw.failcnt,
    /// which counts refusals of memory and swap together).
    public var swapFailures: UInt64?
    /// v1 memory.kmem: usage, peak, failures and limit (v2 has no kernel
    /// memory counter of its own: memory.stat's `kernel` is part of memory.current).
    public var kernelMemory: UInt64?
    public var kernelMemoryPeak: UInt64?
    public var kernelMemoryFailures: UInt64?
    public var kernelMemoryLimit: UInt64?
    /// v2 memory.events oom: allocations that failed even after reclaim.
    public var oomEvents: UInt64?
    /// v2 pids.peak (kernels since 6.1 have it).
    public var pidsPeak: Int?
    public init() {}
}

/// One value written to a cgroup file, with what the kernel reads back.
public struct CgroupWrite: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var value: String
    public var readBack: String
    public var description: String { "\(file) = \(value) (reads \(readBack))" }
}

/// A cgroup feature this host's kernel or hierarchy does not offer.
public struct CgroupUnsupported: Error, Hashable, Sendable, CustomStringConvertible {
    public var feature: String
    public var reason: String
    public var description: String { "\(feature): not supported here (\(reason))" }
}

/// A cgroup path below the hierarchy root, made of DNS-label-like parts
/// ("berth/web1"); checked again here, whatever the caller validated.
public struct CgroupPath: Hashable, Sendable, CustomStringConvertible {
    public let components: [String]
    /// The components joined by "/" (kept as given: joining them again
    /// costs a fresh process a generic-witness lookup, ~80 µs, per start).
    public let description: String

    public init(_ path: String) throws(SystemError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for part in parts {
            let bytes = Array(part.utf8)
            let valid =
                !bytes.isEmpty && bytes.count <= 255 && part != "." && part != ".."
                && bytes.allSatisfy {
                    ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                        || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
                        || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                }
            guard valid else { throw SystemError(call: "cgroup path", errno: 22, subject: path) }
        }
        components = parts
        description = path
    }

    public func appending(_ name: String) throws(SystemError) -> CgroupPath {
        try CgroupPath(description + "/" + name)
    }

    /// The directory of its parent under `root` (a hierarchy's mount):
    /// `root` itself for a one-component path. Cut from `description`,
    /// not joined from the components: a generic `joined` costs a fresh
    /// process a witness lookup on every container start.
    public func parentDirectory(under root: String) -> String {
        guard let slash = description.lastIndex(of: "/") else { return root }
        return root + "/" + String(description[..<slash])
    }
}
