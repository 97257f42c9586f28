import Model

/// What the host has to give: its memory and online CPUs.
public struct HostCapacity: Sendable, Equatable {
    public var memoryBytes: UInt64
    public var cpus: Int
    public init(memoryBytes: UInt64, cpus: Int) {
        self.memoryBytes = memoryBytes
        self.cpus = cpus
    }
}

/// How far the containers' limits may add up past the host's capacity
/// (vzmemcheck, vzcpucheck): 1.0 is exactly the host.
public struct OvercommitRatios: Sendable, Equatable, CustomStringConvertible {
    public var memory: Double
    public var cpu: Double

    public static let defaults = OvercommitRatios(memory: 1.0, cpu: 4.0)

    public init(memory: Double, cpu: Double) {
        self.memory = memory
        self.cpu = cpu
    }

    /// "memory=1.5,cpu=4" (either may be left out: its default stays).
    public init(parsing text: String) throws(ValueError) {
        self = .defaults
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let ratio = Double(parts[1]), ratio.isFinite, ratio > 0, ratio <= 1000 else {
                throw ValueError("'\(item)' is not RESOURCE=RATIO", hint: "write memory=1.5,cpu=4 (ratios above 0, at most 1000)")
            }
            switch parts[0] {
            case "memory": memory = ratio
            case "cpu": cpu = ratio
            default: throw ValueError("unknown resource '\(parts[0])'", hint: "memory or cpu")
            }
        }
    }

    public var description: String { "memory=\(memory),cpu=\(cpu)" }
}

/// One resource whose limits add up past what the host allows.
public struct CapacityWarning: Sendable, Equatable, CustomStringConvertible {
    public enum Resource: String, Sendable, Hashable, CaseIterable {
        case memory, cpu
    }

    public var resource: Resource
    /// The sum of the containers' limits (bytes, or cores).
    public var committed: Double
    /// The host's memory (bytes) or online CPUs.
    public var capacity: Double
    public var allowedRatio: Double
    /// The largest consumers first (at most three): name and limit.
    public var largest: [Consumer]
    /// Containers with no limit of this resource (not counted).
    public var unlimited: [String]

    public struct Consumer: Sendable, Equatable {
        public var name: String
        public var amount: Double
    }

    public var ratio: Double { capacity > 0 ? committed / capacity : .infinity }

    /// A quantity of this resource as a manifest writes it (1344Mi, 3500m).
    public func amount(_ value: Double) -> String {
        switch resource {
        case .memory: return ByteSize(bytes: UInt64(value)).description
        case .cpu: return CPUQuantity(millicores: UInt64(max(0, value * 1000).rounded())).description
        }
    }

    /// The host's capacity: its memory to a tenth of a Gi or Mi (MemTotal
    /// is rarely a round size: 23.5Gi, not 24683792Ki), its CPUs as counted.
    var capacityText: String {
        guard resource == .memory, capacity >= Double(1 << 20) else { return amount(capacity) }
        let (unit, size): (String, Double) = capacity >= Double(1 << 30) ? ("Gi", Double(1 << 30)) : ("Mi", Double(1 << 20))
        let tenths = Int((capacity / size * 10).rounded())
        return (tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)") + unit
    }

    public var description: String {
        let what = resource == .memory ? "memory" : "CPU"
        var text =
            "\(what) overcommitted: the containers' limits add up to \(amount(committed)), \(Self.ratioText(ratio))× the host's "
            + "\(capacityText) (allowed: \(Self.ratioText(allowedRatio))×); largest: "
            + largest.map { "\($0.name) \(amount($0.amount))" }.joined(separator: ", ")
        if !unlimited.isEmpty { text += "; without a limit (not counted): \(unlimited.joined(separator: ", "))" }
        return text
    }

    /// A ratio to two decimals at most, without trailing zeros (1.31, 1.5, 4).
    public static func ratioText(_ value: Double) -> String {
        let hundredths = (value * 100).rounded()
        guard hundredths.isFinite, abs(hundredths) < 1e12 else { return "∞" }
        let whole = Int(hundredths) / 100
        let fraction = Int(hundredths) % 100
        if fraction == 0 { return "\(whole)" }
        if fraction % 10 == 0 { return "\(whole).\(fraction / 10)" }
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// vzmemcheck and vzcpucheck for the manifests: the limits of the
/// containers that should run, added up against the host.
public enum CapacityCheck {
    public static func warnings(_ desired: DesiredHost, host: HostCapacity, ratios: OvercommitRatios) -> [CapacityWarning] {
        let running = desired.containers.filter { $0.spec.state != .stopped }
        var memory: [CapacityWarning.Consumer] = []
        var cpu: [CapacityWarning.Consumer] = []
        var memoryUnlimited: [String] = []
        var cpuUnlimited: [String] = []
        for container in running {
            let name = container.metadata.name
            let resources = container.spec.resources
            if let max = resources.memory?.max?.bytes {
                let swap = resources.memory?.swap?.bytes ?? 0
                memory.append(.init(name: name, amount: Double(max) + Double(swap)))
            } else {
                memoryUnlimited.append(name)
            }
            if let limit = resources.cpu?.limit {
                cpu.append(.init(name: name, amount: Double(limit.millicores) / 1000))
            } else if let cpus = resources.cpu?.cpus {
                cpu.append(.init(name: name, amount: Double(cpus.cpus.count)))
            } else {
                cpuUnlimited.append(name)
            }
        }
        var warnings: [CapacityWarning] = []
        func check(
            _ resource: CapacityWarning.Resource, _ consumers: [CapacityWarning.Consumer], _ unlimited: [String], _ capacity: Double,
            _ allowed: Double
        ) {
            let committed = consumers.reduce(0) { $0 + $1.amount }
            guard capacity > 0, committed > capacity * allowed else { return }
            let largest = consumers.sorted { ($0.amount, $1.name) > ($1.amount, $0.name) }.prefix(3)
            warnings.append(
                CapacityWarning(
                    resource: resource, committed: committed, capacity: capacity, allowedRatio: allowed, largest: Array(largest),
                    unlimited: unlimited.sorted()))
        }
        check(.memory, memory, memoryUnlimited, Double(host.memoryBytes), ratios.memory)
        check(.cpu, cpu, cpuUnlimited, Double(host.cpus), ratios.cpu)
        return warnings
    }
}

/// What the agent last said about the host's capacity: one event when a
/// resource becomes overcommitted and one all-clear when it no longer is,
/// nothing on the passes in between (the agent checks on every pass).
public struct OvercommitAlarm: Sendable, Equatable {
    public enum Change: Sendable, Equatable {
        /// The resource went past its ratio (it was not, or nothing was said yet).
        case overcommitted(CapacityWarning)
        /// The resource is within its ratio again.
        case cleared(CapacityWarning.Resource, allowedRatio: Double)
    }

    /// The resources reported overcommitted and not yet cleared.
    public private(set) var reported: Set<CapacityWarning.Resource> = []

    public init() {}

    /// The changes since the last call, memory before CPU; `ratios` gives
    /// the all-clear its allowed ratio.
    public mutating func update(_ warnings: [CapacityWarning], ratios: OvercommitRatios) -> [Change] {
        var changes: [Change] = []
        for resource in CapacityWarning.Resource.allCases {
            let warning = warnings.first { $0.resource == resource }
            switch (warning, reported.contains(resource)) {
            case (let warning?, false):
                reported.insert(resource)
                changes.append(.overcommitted(warning))
            case (nil, true):
                reported.remove(resource)
                changes.append(.cleared(resource, allowedRatio: resource == .memory ? ratios.memory : ratios.cpu))
            default: break
            }
        }
        return changes
    }
}
