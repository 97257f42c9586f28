/// A size in bytes, written as plain bytes or a binary quantity (512Mi, 2Gi).
///
/// A decimal suffix (2G, 500M) is refused: Kubernetes reads `2G` as 10^9 bytes,
/// OpenVZ and systemd as 2^30, and that ambiguity has broken real hosts.
public struct ByteSize: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var bytes: UInt64

    public init(bytes: UInt64) { self.bytes = bytes }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    static let binarySuffixes: [(String, UInt64)] = [
        ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50),
        ("Ei", 1 << 60),
    ]
    static let decimalSuffixes: [String: String] = [
        "k": "Ki", "K": "Ki", "M": "Mi", "G": "Gi", "T": "Ti", "P": "Pi", "E": "Ei",
        "KB": "Ki", "MB": "Mi", "GB": "Gi", "TB": "Ti", "kB": "Ki", "B": "",
    ]

    /// Parses `1024`, `512Mi`, `1.5Gi`. Checked arithmetic: overflow is an error.
    public init(parsing text: String) throws(ValueError) {
        let (number, suffix) = splitNumber(text)
        guard !number.isEmpty else {
            throw ValueError(
                "invalid size '\(text)'", hint: "write bytes or a binary quantity such as 512Mi or 2Gi")
        }
        var multiplier: UInt64 = 1
        if !suffix.isEmpty {
            if let match = ByteSize.binarySuffixes.first(where: { $0.0 == suffix }) {
                multiplier = match.1
            } else if let binary = ByteSize.decimalSuffixes[suffix] {
                let suggestion = binary.isEmpty ? number : "\(number)\(binary)"
                // The two readings of this suffix: 'M' is 10^6 to Kubernetes, 2^20 to OpenVZ and systemd.
                let readings = ByteSize.binarySuffixes.firstIndex { $0.0 == binary }.map {
                    ": '\(suffix)' means 10^\(3 * ($0 + 1)) to Kubernetes and 2^\(10 * ($0 + 1)) to OpenVZ and systemd"
                }
                throw ValueError(
                    "decimal or ambiguous size suffix '\(suffix)' in '\(text)'",
                    hint: "use a binary quantity such as \(suggestion)\(readings ?? "")")
            } else {
                throw ValueError(
                    "unknown size suffix '\(suffix)' in '\(text)'",
                    hint: "use Ki, Mi, Gi, Ti, Pi or Ei, or plain bytes")
            }
        }
        guard let value = scaleDecimal(number, by: multiplier) else {
            throw ValueError("size '\(text)' is not a whole number of bytes or is too large")
        }
        self.bytes = value
    }

    /// The shortest exact binary-quantity spelling: 536870912 → "512Mi".
    public var description: String {
        if bytes == 0 { return "0" }
        for (suffix, multiplier) in ByteSize.binarySuffixes.reversed()
        where bytes % multiplier == 0 {
            return "\(bytes / multiplier)\(suffix)"
        }
        return "\(bytes)"
    }
}

/// Splits "1.5Gi" into ("1.5", "Gi").
func splitNumber(_ text: String) -> (number: String, suffix: String) {
    var number = ""
    var rest = Substring(text)
    while let character = rest.first, character.isASCII, character.isNumber || character == "." {
        number.append(character)
        rest = rest.dropFirst()
    }
    return (number, String(rest))
}

/// Multiplies a non-negative decimal literal ("1.5") by `multiplier`, exactly.
/// Returns nil on malformed input, overflow, or a fractional result.
func scaleDecimal(_ literal: String, by multiplier: UInt64) -> UInt64? {
    let parts = literal.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, let integerPart = parts.first, !integerPart.isEmpty,
        integerPart.allSatisfy({ $0.isASCII && $0.isNumber })
    else { return nil }
    guard let whole = UInt64(integerPart) else { return nil }
    let (scaled, overflow) = whole.multipliedReportingOverflow(by: multiplier)
    if overflow { return nil }
    guard parts.count == 2 else { return scaled }
    let fraction = parts[1]
    guard !fraction.isEmpty, fraction.count <= 18, fraction.allSatisfy({ $0.isASCII && $0.isNumber }),
        let numerator = UInt64(fraction)
    else { return nil }
    var denominator: UInt64 = 1
    for _ in 0..<fraction.count { denominator *= 10 }
    // numerator * multiplier / denominator must be whole; dividingFullWidth
    // traps when the quotient does not fit, so check that first.
    let product = numerator.multipliedFullWidth(by: multiplier)
    guard product.high < denominator else { return nil }
    let (quotient, remainder) = denominator.dividingFullWidth(product)
    guard remainder == 0 else { return nil }
    let (total, totalOverflow) = scaled.addingReportingOverflow(quotient)
    return totalOverflow ? nil : total
}
