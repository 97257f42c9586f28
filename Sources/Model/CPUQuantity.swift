/// CPU time as a number of cores, stored in millicores: "1.5" or 1.5 → 1500, "500m" → 500.
public struct CPUQuantity: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var millicores: UInt64

    public init(millicores: UInt64) { self.millicores = millicores }

    public static func < (lhs: CPUQuantity, rhs: CPUQuantity) -> Bool {
        lhs.millicores < rhs.millicores
    }

    public init(parsing text: String) throws(ValueError) {
        if text.hasSuffix("m") {
            let digits = text.dropLast()
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = UInt64(digits)
            else {
                throw ValueError(
                    "invalid CPU quantity '\(text)'", hint: "write cores (\"1.5\") or millicores (\"500m\")")
            }
            self.millicores = value
            return
        }
        let decimals = text.split(separator: ".", omittingEmptySubsequences: false).dropFirst().first?.count ?? 0
        guard decimals <= 3, let value = scaleDecimal(text, by: 1000) else {
            throw ValueError(
                "invalid CPU quantity '\(text)'",
                hint: "write cores (\"1.5\") or millicores (\"500m\"), at most 3 decimals")
        }
        self.millicores = value
    }

    public var description: String {
        if millicores % 1000 == 0 { return "\(millicores / 1000)" }
        return "\(millicores)m"
    }
}

/// A set of CPUs in the kernel's list format: "0-3,6".
public struct CPUSet: Hashable, Sendable, CustomStringConvertible {
    public var cpus: [Int]

    public static let maxCPUs = 8192

    public init(cpus: [Int]) { self.cpus = cpus.sorted() }

    public init(parsing text: String) throws(ValueError) {
        var result = Set<Int>()
        guard text.utf8.count <= 4096 else { throw ValueError("CPU list is longer than 4096 characters") }
        let invalid = ValueError(
            "invalid CPU list '\(text)'", hint: "write the kernel's list format, such as 0-3,6")
        guard !text.isEmpty else { throw invalid }
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2,
                bounds.allSatisfy({ !$0.isEmpty && $0.count <= 5 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
                let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]), low <= high
            else { throw invalid }
            // The kernel's NR_CPUS is at most 8192.
            guard high < CPUSet.maxCPUs else {
                throw ValueError("CPU \(high) in '\(text)' is beyond the largest possible CPU (\(CPUSet.maxCPUs - 1))")
            }
            if result.count == CPUSet.maxCPUs { continue }
            for cpu in low...high { result.insert(cpu) }
        }
        self.cpus = result.sorted()
    }

    /// The kernel's canonical list form, so "3,0-2" and "0-3" compare equal as text too.
    public var description: String {
        var ranges: [String] = []
        var index = 0
        while index < cpus.count {
            var end = index
            while end + 1 < cpus.count, cpus[end + 1] == cpus[end] + 1 { end += 1 }
            ranges.append(end == index ? "\(cpus[index])" : "\(cpus[index])-\(cpus[end])")
            index = end + 1
        }
        return ranges.joined(separator: ",")
    }
}
